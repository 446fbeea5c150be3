"""Server-side state of sign-ins in progress, codes, locks and remembered devices.

The session holds only an opaque token; every counter lives here, in the database that
all web processes share, and changes through atomic updates.
"""

from __future__ import annotations

from typing import TypeVar

from django.db import connections, models

from deskgate.accounts.models import User

# The send caps' counters live in delivery now; the old import path keeps working.
from deskgate.delivery.models import SendCounter as SendCounter
from deskgate.signin import useragent
from deskgate.signin.codes import CodeChallenge
from deskgate.signin.throttle import Lock


def _assign(row: models.Model, **values: object) -> list[str]:
    """Set the values that differ on the row; answer their names (for update_fields)."""
    changed = [name for name, value in values.items() if getattr(row, name) != value]
    for name in changed:
        setattr(row, name, values[name])
    return changed


class SignInVia(models.TextChoices):
    """How a sign-in entered the pipeline; recorded as the success event's `method`."""

    PASSWORD = "password", "Password"
    SSO = "sso", "Company sign-in (SSO)"
    PASSKEY = "passkey", "Passkey"  # passwordless: the passkey with user verification


class PendingSignIn(models.Model):
    """A sign-in whose password step succeeded and which has not reached a session yet.

    It is the only source of "who" at the steps after the password, and holds the one
    live code of this attempt (a new code replaces the previous one).
    """

    token = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="pending_sign_ins")
    via = models.CharField(max_length=16, default=SignInVia.PASSWORD)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    ip = models.GenericIPAddressField(null=True)
    # True once the code step is passed, or found not owed (MFA off, 11.x, SSO, device).
    code_passed = models.BooleanField(default=False)
    # An SSO sign-in whose provider said it did MFA (amr); see policy.owes_code.
    idp_did_mfa = models.BooleanField(default=False)
    # The user is signed in already and an app wants two factors: only the code is asked
    # (always, a remembered device does not skip it).
    step_up = models.BooleanField(default=False)
    # The live code: only its keyed hash, bound to this attempt's token.
    code_hash = models.CharField(max_length=64, blank=True, default="")
    previous_code_hash = models.CharField(max_length=64, blank=True, default="")
    code_channel = models.CharField(max_length=8, blank=True, default="")
    code_destination = models.CharField(max_length=300, blank=True, default="")  # masked
    code_issued_at = models.DateTimeField(null=True)
    code_expires_at = models.DateTimeField(null=True)
    code_attempts = models.PositiveSmallIntegerField(default=0)
    codes_sent = models.PositiveSmallIntegerField(default=0)
    # The authenticator app or a recovery code passed the code step (amr), and the wrong
    # ones typed in this attempt (at most `max_attempts`, as for one code).
    second_factor = models.CharField(max_length=8, blank=True, default="")
    factor_attempts = models.PositiveSmallIntegerField(default=0)
    # Begun by an enrolment link and the password: both factors are checked; the attempt
    # sets up a strong factor before it gets a session (policy.owes_enrolment).
    via_link = models.BooleanField(default=False)
    # What a passkey that passed proved, as RFC 8176 amr values: "hwk" or "swk", and "user"
    # when the authenticator verified the user (space-separated).
    key_amr = models.CharField(max_length=16, blank=True, default="")

    def __str__(self) -> str:
        return f"pending sign-in of {self.user_id}"

    def challenge(self) -> CodeChallenge:
        """The live code's state, for the code engine."""
        return CodeChallenge(
            binding=self.token,
            code_hash=self.code_hash,
            previous_hash=self.previous_code_hash,
            issued_at=self.code_issued_at,
            expires_at=self.code_expires_at,
            attempts=self.code_attempts,
            sends=self.codes_sent,
        )

    def keep(self, challenge: CodeChallenge) -> list[str]:
        """Take the engine's state back; answer the fields that changed, to save."""
        return _assign(
            self,
            code_hash=challenge.code_hash,
            previous_code_hash=challenge.previous_hash,
            code_issued_at=challenge.issued_at,
            code_expires_at=challenge.expires_at,
            code_attempts=challenge.attempts,
            codes_sent=challenge.sends,
        )


Row = TypeVar("Row", bound=models.Model)


def _locked_row(manager: models.Manager[Row], **key: object) -> Row:
    """The row with this key, locked for the caller's transaction (created on first use)."""
    row = _select_locked(manager, **key)
    if row is not None:
        return row
    return _created_locked(manager, **key)


_CREATE_SQL: dict[str, str] = {}  # by table: the same on PostgreSQL and SQLite


def _created_locked(manager: models.Manager[Row], **key: object) -> Row:
    """Create the row with this key (its other columns at their defaults), locked for the
    caller's transaction as a row it inserted is; the one a parallel request created a
    moment ago if it was first (then read locked).

    One `INSERT ... ON CONFLICT DO NOTHING` (PostgreSQL, SQLite 3.24+), not a savepoint
    around the ORM's INSERT to survive its IntegrityError: three statements fewer at every
    user's first sign-in (issue 17).
    """
    row = manager.model(**key)
    meta = row._meta
    db = connections[manager.db]
    fields = list(meta.concrete_fields)
    sql = _CREATE_SQL.get(meta.db_table)
    if sql is None:
        columns = ", ".join(db.ops.quote_name(f.attname) for f in fields)
        sql = _CREATE_SQL[meta.db_table] = (
            f"INSERT INTO {meta.db_table} ({columns})"  # noqa: S608  # our names
            f" VALUES ({', '.join(['%s'] * len(fields))})"
            f" ON CONFLICT ({db.ops.quote_name(meta.pk.attname)}) DO NOTHING"
        )
    values = [f.get_db_prep_save(getattr(row, f.attname), db) for f in fields]
    with db.cursor() as cursor:
        cursor.execute(sql, values)
        inserted = cursor.rowcount == 1
    if not inserted:  # created by a parallel request a moment ago
        return manager.select_for_update().get(**key)
    row._state.adding = False
    row._state.db = manager.db
    return row


def _select_locked(manager: models.Manager[Row], **key: object) -> Row | None:
    """`SELECT * ... WHERE <key> = %s FOR UPDATE` as one fixed statement: the ORM's form
    of it (with the ordering `first()` adds) took about twice the CPU, 1.0 ms against
    0.55 ms with BEGIN and COMMIT (issue 17), and every sign-in takes a guard row three
    times. Without FOR UPDATE where the database has none (SQLite: a write transaction
    locks the database).
    """
    ((name, value),) = key.items()
    meta = manager.model._meta
    field = meta.get_field(name)
    if not isinstance(field, models.Field):  # a reverse relation has no column here
        raise TypeError(f"{name} is not a column of {meta.db_table}")
    column = field.column
    if isinstance(value, models.Model):
        value = value.pk
    lock = " FOR UPDATE" if connections[manager.db].features.has_select_for_update else ""
    sql = f"SELECT * FROM {meta.db_table} WHERE {column} = %s{lock}"  # noqa: S608  # our names
    return next(iter(manager.raw(sql, [value])), None)


class SignInGuardManager(models.Manager["SignInGuard"]):
    def locked_for(self, user: User) -> SignInGuard:
        """The user's guard row, locked for this transaction (created on first use)."""
        return _locked_row(self, user=user)

    def created_for(self, user: User) -> SignInGuard:
        """The user's guard row, which a read of this transaction found missing: created
        now (or the one a parallel request created first), locked for this transaction."""
        return _created_locked(self, user=user)


class SignInGuard(models.Model):
    """Per-user counts of consecutive failures and the locks they lead to.

    Wrong codes (R7) and wrong passwords are counted apart, so that guessing passwords
    cannot spend someone's code tries, and each locks only its own step.
    """

    user = models.OneToOneField(
        User, on_delete=models.CASCADE, primary_key=True, related_name="sign_in_guard"
    )
    code_failures = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True)
    lock_count = models.PositiveIntegerField(default=0)
    password_failures = models.PositiveIntegerField(default=0)
    password_locked_until = models.DateTimeField(null=True)
    password_lock_count = models.PositiveIntegerField(default=0)

    objects = SignInGuardManager()

    def __str__(self) -> str:
        return f"guard of {self.user_id}"

    @property
    def code_lock(self) -> Lock:
        return Lock(self.code_failures, self.lock_count, self.locked_until)

    @property
    def password_lock(self) -> Lock:
        return Lock(self.password_failures, self.password_lock_count, self.password_locked_until)

    def keep_code_lock(self, lock: Lock) -> list[str]:
        """Take the code step's lock back; answer the fields that changed, to save."""
        return _assign(
            self, code_failures=lock.failures, lock_count=lock.count, locked_until=lock.until
        )

    def keep_password_lock(self, lock: Lock) -> list[str]:
        """Take the password step's lock back; answer the fields that changed, to save."""
        return _assign(
            self,
            password_failures=lock.failures,
            password_lock_count=lock.count,
            password_locked_until=lock.until,
        )


class UnknownNameGuardManager(models.Manager["UnknownNameGuard"]):
    def locked_for(self, bucket: int) -> UnknownNameGuard:
        """The bucket's row, locked for this transaction (created on first use)."""
        return _locked_row(self, bucket=bucket)


class UnknownNameGuard(models.Model):
    """What a wrong password for a user name that does not exist locks and writes.

    A known name's guard row is locked, its failure count written, during the hash; an
    unknown name does the same to one of these rows (chosen by a keyed hash of the name, so
    the same name always meets the same row, and parallel guesses for it queue as they do
    for a real account). Without the write, an unknown name answered measurably faster on
    PostgreSQL than a known one with a wrong password.
    """

    bucket = models.PositiveSmallIntegerField(primary_key=True)
    password_failures = models.PositiveBigIntegerField(default=0)

    objects = UnknownNameGuardManager()

    def __str__(self) -> str:
        return f"unknown-name guard {self.bucket}"


class AttemptCounter(models.Model):
    """Password attempts from one scope (an address or a network) in one window: the
    budget the sign-in page takes before it hashes a password (`signin/budget.py`)."""

    scope = models.CharField(max_length=80)
    window = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)  # attempts taken
    # Attempts that do not count after all: the password was right (or another scope
    # refused the attempt). The budget holds count - given_back; count only grows.
    given_back = models.PositiveIntegerField(default=0)
    # Set by the first refusal of the window, so that the pause is audited once.
    refusal_recorded = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "window"], name="attempt_counter_unique")
        ]

    def __str__(self) -> str:
        return f"{self.scope}@{self.window:%Y-%m-%d %H:%M}: {self.count}"


class RememberedDevice(models.Model):
    """A browser the user chose to remember for 30 days; the cookie names it, signed."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="remembered_devices")
    token_hash = models.CharField(max_length=64, unique=True)
    label = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True)
    # Where it was last used from (remembered from, at first): its place is read from it.
    ip = models.GenericIPAddressField(null=True)

    def __str__(self) -> str:
        return f"device of {self.user_id}"

    @property
    def name(self) -> str:
        """ "Chrome on Linux", from the User-Agent kept in `label`."""
        return useragent.device_name(self.label)


class ContactChange(models.Model):
    """A user's own change of Email or Work phone, waiting for the code sent to the new
    destination. One per user: a new request replaces the previous one."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="contact_change")
    field = models.CharField(max_length=16)  # "email" or "work_phone"
    new_value = models.CharField(max_length=254)
    code_hash = models.CharField(max_length=64)
    token = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)

    def __str__(self) -> str:
        return f"contact change of {self.user_id}"

    def challenge(self) -> CodeChallenge:
        """The confirmation code's state, for the code engine (one send, no resend)."""
        return CodeChallenge(
            binding=self.token,
            code_hash=self.code_hash,
            issued_at=self.created_at,
            expires_at=self.expires_at,
            attempts=self.attempts,
            sends=1,
        )

    @staticmethod
    def columns(challenge: CodeChallenge) -> dict[str, object]:
        """The row's values for the engine's state."""
        return {
            "code_hash": challenge.code_hash,
            "token": challenge.binding,
            "created_at": challenge.issued_at,
            "expires_at": challenge.expires_at,
            "attempts": challenge.attempts,
        }

    def keep(self, challenge: CodeChallenge) -> list[str]:
        """Take the engine's state back; answer the fields that changed, to save."""
        return _assign(self, **self.columns(challenge))


class ResetRequest(models.Model):
    """A password reset request, committed in the request and resolved after the response.

    The request itself does the same work for every address (count, insert, answer); who
    matches, and whether a mail goes out, is decided by the reset mail worker, so that the
    answer and its timing say nothing about the address. A row claimed by a worker that
    died is taken again by another once `claimed_until` has passed.
    """

    email = models.CharField(max_length=254)  # as typed, trimmed; deleted once resolved
    ip = models.GenericIPAddressField(null=True)
    requested_at = models.DateTimeField()
    claimed_until = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"reset request {self.pk}"


class ResetMailState(models.TextChoices):
    QUEUED = "queued", "Queued"  # waiting for its first (or next) attempt
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"  # every attempt failed: audited, not live
    DROPPED = "dropped", "Dropped"  # the account stopped qualifying before it went out


class ResetMail(models.Model):
    """One reset link for one account: the outbound queue row and, once sent, the record
    of the link (is it still live?) that the per-account limit reads.

    The link itself (its token) is made when the mail is sent and never stored.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="reset_mails")
    # The account's Email when the link was queued: if it changes, the link is not sent.
    to = models.CharField(max_length=254)
    ip = models.GenericIPAddressField(null=True)  # who asked, for the audit trail
    created_at = models.DateTimeField()
    state = models.CharField(
        max_length=8, choices=ResetMailState.choices, default=ResetMailState.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    due_at = models.DateTimeField()
    claimed_until = models.DateTimeField(null=True)
    sent_at = models.DateTimeField(null=True)
    used_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [
            models.Index(fields=["state", "due_at"], name="reset_mail_due"),
            models.Index(fields=["user", "created_at"], name="reset_mail_user"),
        ]

    def __str__(self) -> str:
        return f"reset mail {self.pk} for {self.user_id}: {self.state}"


class SecondFactor(models.TextChoices):
    """Which second factor a sign-in attempt passed besides an Email or SMS code."""

    NONE = "", "None"
    APP = "app", "Authenticator app"
    RECOVERY = "recovery", "Recovery code"
    PASSKEY = "passkey", "Passkey or security key"


class AuthenticatorApp(models.Model):
    """A user's authenticator app (TOTP, RFC 6238): one per user.

    The shared secret is kept encrypted (`totp.seal`), shown only while the user sets the
    app up, and never after. `last_used_step` is the newest time step accepted: a code of
    that step or an earlier one is refused, so a code works once (one conditional UPDATE).
    """

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="authenticator_app")
    sealed_secret = models.TextField()
    created_at = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True)  # None while the set-up is not confirmed
    last_used_step = models.BigIntegerField(null=True)
    last_used_at = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"authenticator app of {self.user_id}"


class RecoveryCode(models.Model):
    """One single-use recovery code, as a keyed hash (`totp.recovery_hash`), never plain.

    A new set voids the whole previous one (`voided_at`); a use sets `used_at`, once.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True)
    voided_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "code_hash"], name="recovery_code_unique")
        ]

    def __str__(self) -> str:
        return f"recovery code of {self.user_id}"


class EnrolmentLink(models.Model):
    """A single-use link, sent to the user's Email, to set up a strong factor (issue 14) for
    a user who has no factor they can prove (MFA Off, or required to enrol but unable).

    Only a hash of its token is kept. It works once (`used_at`, set by one conditional
    UPDATE), for `LIFETIME` (`expires_at`); a new link voids the previous ones
    (`voided_at`).
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="enrolment_links")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True)
    voided_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [models.Index(fields=["user", "created_at"], name="enrolment_link_user")]

    def __str__(self) -> str:
        return f"enrolment link {self.pk} of {self.user_id}"


class Passkey(models.Model):
    """A user's passkey or security key (WebAuthn Level 2): several per user, each named.

    Only what verifying a signature needs is kept: the credential's id and its public key
    (COSE), never anything secret. `sign_count` is the authenticator's counter at the last
    use: a non-zero count that does not grow betrays a cloned key (`passkeys.authenticate`).
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="passkeys")
    credential_id = models.BinaryField(max_length=1023, unique=True)
    public_key = models.BinaryField()
    sign_count = models.BigIntegerField(default=0)
    transports = models.CharField(max_length=200, blank=True, default="")  # space-separated
    aaguid = models.CharField(max_length=36, blank=True, default="")
    name = models.CharField(max_length=60)
    # A synced passkey (backed up, multi-device) or a key bound to one device (amr swk/hwk).
    backed_up = models.BooleanField(default=False)
    device_type = models.CharField(max_length=16, blank=True, default="")
    user_verified = models.BooleanField(default=False)  # at registration
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [models.Index(fields=["user", "created_at"], name="passkey_user")]

    def __str__(self) -> str:
        return f"passkey {self.pk} of {self.user_id}"


class PasskeyPurpose(models.TextChoices):
    REGISTER = "register", "Register a passkey"
    SIGNIN = "signin", "Sign in with a passkey"


class PasskeyChallenge(models.Model):
    """A challenge the server gave to one browser for one ceremony, checked against what
    the authenticator signed. Single use: taken by one conditional DELETE, so of parallel
    requests carrying the same response exactly one goes on. `user` is None for a
    passwordless sign-in (nobody known yet). The browser holds only `token` (in its
    session), never a way to choose the challenge."""

    token = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, null=True, related_name="+")
    purpose = models.CharField(max_length=8, choices=PasskeyPurpose.choices)
    challenge = models.BinaryField(max_length=64)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"passkey challenge {self.pk} ({self.purpose})"
