"""The sign-in app's settings, typed: what each policy in `deskgate/settings.py` means.

    from deskgate.signin.app_settings import app_settings
    app_settings.CODE.lifetime  # seconds

Every property reads `django.conf.settings` when it is asked, nothing is kept from import
time, so tests change a policy with pytest-django's `settings` fixture. A value of the wrong
type or out of range raises `ImproperlyConfigured` naming the setting; the system check in
`signin/checks.py` asks every property at start-up, so a bad value stops the server there
rather than at the first sign-in.
"""

from __future__ import annotations

from dataclasses import dataclass

from deskgate.signin.throttle import Backoff
from deskgate.typed_settings import Reader, number, problems, setting


@dataclass(frozen=True)
class CodePolicy:
    """DESKGATE_CODE: sign-in and confirmation codes (R7). Times in seconds."""

    digits: int  # a code's length
    lifetime: int  # how long a code is valid
    max_attempts: int  # wrong tries per code
    resend_cooldown: int  # between two codes of one sign-in
    lock_after: int  # consecutive wrong codes, across resends, lock the user's code step...
    lock_steps: tuple[int, ...]  # ...for this long, longer each time

    @property
    def lifetime_minutes(self) -> int:
        return self.lifetime // 60

    @property
    def lock(self) -> Backoff:
        return Backoff(after=self.lock_after, steps=self.lock_steps)


@dataclass(frozen=True)
class ResetPolicy:
    """DESKGATE_RESET: self-service password reset by email."""

    per_account_hour: int  # links mailed to one account per clock hour
    per_ip_hour: int  # requests queued per requesting address per clock hour
    mail_attempts: int  # tries to hand one mail to the mail server...
    retry_after: tuple[int, ...]  # ...waiting this long (seconds) before each further try

    @property
    def retry(self) -> Backoff:
        """The mail's tries as a back-off: `after` failed tries end it; the waits between."""
        return Backoff(after=self.mail_attempts, steps=self.retry_after or (60,))


@dataclass(frozen=True)
class SignInBudget:
    """DESKGATE_SIGNIN_BUDGET: password attempts per address and per network, per window."""

    ip: int
    network: int
    window: int  # seconds


@dataclass(frozen=True)
class AppSettings:
    """The sign-in app's settings; see the module's docstring."""

    @property
    def CODE(self) -> CodePolicy:  # noqa: N802  # named as the setting, as allauth does
        conf = Reader("DESKGATE_CODE")
        return CodePolicy(
            digits=conf.number("digits", least=4, most=10),
            lifetime=conf.number("lifetime", least=60),
            max_attempts=conf.number("max_attempts", least=1),
            resend_cooldown=conf.number("resend_cooldown", least=0),
            lock_after=conf.number("lock_after", least=1),
            lock_steps=conf.numbers("lock_steps", least=1),
        )

    @property
    def PASSWORD_LOCK(self) -> Backoff:  # noqa: N802
        """DESKGATE_PASSWORD_LOCK: consecutive wrong passwords lock the password step."""
        conf = Reader("DESKGATE_PASSWORD_LOCK")
        return Backoff(after=conf.number("after", least=1), steps=conf.numbers("steps", least=1))

    @property
    def RESET(self) -> ResetPolicy:  # noqa: N802
        conf = Reader("DESKGATE_RESET")
        return ResetPolicy(
            per_account_hour=conf.number("per_account_hour", least=1),
            per_ip_hour=conf.number("per_ip_hour", least=1),
            mail_attempts=conf.number("mail_attempts", least=1),
            # Empty: every further try waits a minute.
            retry_after=conf.numbers("retry_after", least=0, allow_empty=True),
        )

    @property
    def SIGNIN_BUDGET(self) -> SignInBudget:  # noqa: N802
        conf = Reader("DESKGATE_SIGNIN_BUDGET")
        return SignInBudget(
            ip=conf.number("ip", least=1),
            network=conf.number("network", least=1),
            window=conf.number("window", least=1),
        )

    @property
    def REMEMBER_DEVICE_DAYS(self) -> int:  # noqa: N802
        """DESKGATE_REMEMBER_DEVICE_DAYS: how long a remembered browser skips the code."""
        return number(
            setting("DESKGATE_REMEMBER_DEVICE_DAYS"),
            "DESKGATE_REMEMBER_DEVICE_DAYS",
            least=1,
        )

    def check(self) -> list[str]:
        """Every problem with the settings, in words that name the setting (start-up)."""
        names = ("CODE", "PASSWORD_LOCK", "RESET", "SIGNIN_BUDGET", "REMEMBER_DEVICE_DAYS")
        return problems(self, names)


app_settings = AppSettings()
