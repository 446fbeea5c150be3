"""The delivery app's settings, typed: what each one in `deskgate/settings.py` means.

    from deskgate.delivery.app_settings import app_settings
    app_settings.SEND_CAPS.user  # messages per clock hour

Every property reads `django.conf.settings` when it is asked (tests change a setting with
pytest-django's `settings` fixture). A value of the wrong type or out of range raises
`ImproperlyConfigured` naming the setting; the system check in `delivery/checks.py` asks
every property at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured

from deskgate.conf import KannelConfig
from deskgate.typed_settings import Reader, flag, problems, seconds, setting


@dataclass(frozen=True)
class SendCaps:
    """DESKGATE_SEND_CAPS: messages sent per clock hour, to one user, for one client and by
    the whole platform (`deskgate.delivery.caps`). Below 1, the scope sends nothing."""

    user: int
    client: int
    platform: int


@dataclass(frozen=True)
class AppSettings:
    """The delivery app's settings; see the module's docstring."""

    @property
    def SEND_CAPS(self) -> SendCaps:  # noqa: N802  # named as the setting, as allauth does
        conf = Reader("DESKGATE_SEND_CAPS")
        return SendCaps(
            user=conf.number("user", least=0),
            client=conf.number("client", least=0),
            platform=conf.number("platform", least=0),
        )

    @property
    def SMS(self) -> KannelConfig | None:  # noqa: N802
        """DESKGATE_SMS: the Kannel gateway SMS go through (SMS_URL); None keeps them in
        the development outbox."""
        value = setting("DESKGATE_SMS")
        if value is not None and not isinstance(value, KannelConfig):
            raise ImproperlyConfigured(
                f"DESKGATE_SMS must be None or a Kannel gateway (deskgate.conf.KannelConfig), "
                f"not {type(value).__name__}."  # not the value: it holds the gateway password
            )
        return value

    @property
    def SMS_TIMEOUT(self) -> float:  # noqa: N802
        """DESKGATE_SMS_TIMEOUT: seconds the SMS gateway has to accept a message."""
        return seconds(setting("DESKGATE_SMS_TIMEOUT"), "DESKGATE_SMS_TIMEOUT", least=0, above=True)

    @property
    def OUTBOX_PAGE(self) -> bool:  # noqa: N802
        """DESKGATE_OUTBOX_PAGE: the outbox page (it shows codes) is served; a demo or debug
        run without EMAIL_URL/SMS_URL only."""
        return flag(setting("DESKGATE_OUTBOX_PAGE"), "DESKGATE_OUTBOX_PAGE")

    def check(self) -> list[str]:
        """Every problem with the settings, in words that name the setting (start-up)."""
        return problems(self, ("SEND_CAPS", "SMS", "SMS_TIMEOUT", "OUTBOX_PAGE"))


app_settings = AppSettings()
