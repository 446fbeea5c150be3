"""Server-side state of sign-ins in progress, codes, locks, caps and remembered devices.

The session holds only an opaque token; every counter lives here, in the database that
all web processes share, and changes through atomic updates.
"""

from __future__ import annotations

from django.db import IntegrityError, models, transaction

from deskgate.accounts.models import User


class PendingSignIn(models.Model):
    """A sign-in whose password step succeeded and which has not reached a session yet.

    It is the only source of "who" at the steps after the password, and holds the one
    live code of this attempt (a new code replaces the previous one).
    """

    token = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="pending_sign_ins")
    via = models.CharField(max_length=16, default="password")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    ip = models.GenericIPAddressField(null=True)
    # True once the code step is passed, or found not owed (MFA off, 11.x, SSO, device).
    code_passed = models.BooleanField(default=False)
    # An SSO sign-in whose provider said it did MFA (amr); see policy.owes_code.
    idp_did_mfa = models.BooleanField(default=False)
    # The live code: only its keyed hash, bound to this attempt's token.
    code_hash = models.CharField(max_length=64, blank=True, default="")
    previous_code_hash = models.CharField(max_length=64, blank=True, default="")
    code_channel = models.CharField(max_length=8, blank=True, default="")
    code_destination = models.CharField(max_length=300, blank=True, default="")  # masked
    code_issued_at = models.DateTimeField(null=True)
    code_expires_at = models.DateTimeField(null=True)
    code_attempts = models.PositiveSmallIntegerField(default=0)
    codes_sent = models.PositiveSmallIntegerField(default=0)

    def __str__(self) -> str:
        return f"pending sign-in of {self.user_id}"


class SignInGuardManager(models.Manager["SignInGuard"]):
    def locked_for(self, user: User) -> SignInGuard:
        """The user's guard row, locked for this transaction (created on first use)."""
        guard = self.select_for_update().filter(user=user).first()
        if guard is not None:
            return guard
        try:
            with transaction.atomic():
                self.create(user=user)
        except IntegrityError:
            pass  # created by a parallel request a moment ago
        return self.select_for_update().get(user=user)


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


class SendCounter(models.Model):
    """Codes sent per scope (a user, a client, the platform) in one hourly window."""

    scope = models.CharField(max_length=80)
    window = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "window"], name="send_counter_unique")
        ]

    def __str__(self) -> str:
        return f"{self.scope}@{self.window:%Y-%m-%d %H}: {self.count}"


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

    def __str__(self) -> str:
        return f"device of {self.user_id}"


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
