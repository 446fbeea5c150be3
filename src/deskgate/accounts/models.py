"""Clients (tenants), their users, message templates and the audit trail."""

from __future__ import annotations

import secrets
import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from deskgate.accounts import contact

MFA_RELEASE_MAJOR = 25


def new_sid() -> str:
    """A session's id for the apps (OpenID Connect `sid`): random, never the session key."""
    return secrets.token_urlsafe(32)


class Client(models.Model):
    """A contact-center company: the tenant every user belongs to."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(
        max_length=100, unique=True, help_text="In the company's SSO sign-in address"
    )
    release = models.CharField(max_length=16, help_text="Release version, such as 25.4 or 11.8")
    default_country = models.CharField(max_length=2, default="FI")
    password_reset_enabled = models.BooleanField(
        default=False, help_text="Users may reset a forgotten password by email."
    )
    remember_device_enabled = models.BooleanField(
        default=True, help_text="Offer 'Remember device for 30 days' at sign-in."
    )
    # Against SMS pumping: the countries SMS codes may go to ("FI SE"); empty allows all.
    sms_countries = models.CharField(max_length=200, blank=True, default="")
    # What a directory's SCIM DELETE does: deactivate (keep the user and the trail), or delete.
    directory_deletes_users = models.BooleanField(
        default=False,
        help_text="A directory's delete removes the user instead of deactivating them.",
    )
    # The factor policy (issue 14). Levels that must sign in with an authenticator app or a
    # passkey ("admin manager"); empty requires none. Kept as words like sms_countries.
    strong_factor_levels = models.CharField(
        max_length=100,
        blank=True,
        default="",
        help_text="Levels that must use an authenticator app or a passkey.",
    )
    # The MFA method a user created later gets, by level ({"agent": "sms"}); a level not
    # named keeps what the creating door gives (the article's default).
    new_user_mfa = models.JSONField(default=dict, blank=True)
    # May a user with a passkey sign in with it alone (it checks two factors itself)?
    passwordless_enabled = models.BooleanField(
        default=False,
        help_text="Users with a passkey may sign in with it alone, without a password.",
    )
    # How recent a checked factor must be for sensitive admin changes (step-up).
    # "" = the browser's language (Accept-Language); a user's own choice wins over both.
    default_language = models.CharField(max_length=8, blank=True, default="")
    # An IANA zone name; dates and times show in it unless a user picked their own.
    time_zone = models.CharField(max_length=64, default="UTC")
    step_up_minutes = models.PositiveSmallIntegerField(
        default=15,
        help_text="Minutes a checked second factor counts for sensitive admin changes.",
    )
    # How long the audit trail keeps an event (`deskgate purge-audit` removes older ones).
    audit_retention_days = models.PositiveSmallIntegerField(
        default=365, help_text="Days the audit trail keeps an event."
    )
    # Alerts (accounts/alerts.py): do the admins get the batched alert email, and when the
    # last one went out (the sender's claim: at most one email per client per window).
    alert_emails = models.BooleanField(
        default=True, help_text="Email the admins about repeated locks, send limits and SSO."
    )
    alerts_mailed_at = models.DateTimeField(null=True, blank=True)
    # How long an emailed invitation (set your own password) works (issue 16).
    invitation_hours = models.PositiveSmallIntegerField(
        default=72, help_text="Hours an invitation link works."
    )
    # Whether users a directory creates (SCIM) with an Email get an invitation. Off by
    # default: directories mostly provision people who sign in through the company's SSO.
    invite_directory_users = models.BooleanField(
        default=False,
        help_text="Users a directory creates (SCIM) with an Email get an invitation.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=~Q(name=""), name="client_name_required"),
            models.CheckConstraint(
                condition=Q(step_up_minutes__gte=1, step_up_minutes__lte=1440),
                name="client_step_up_minutes_range",
            ),
            models.CheckConstraint(
                condition=Q(audit_retention_days__gte=30, audit_retention_days__lte=3650),
                name="client_audit_retention_range",
            ),
            models.CheckConstraint(
                condition=Q(invitation_hours__gte=1, invitation_hours__lte=720),
                name="client_invitation_hours_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def release_major(self) -> int:
        head = self.release.split(".", 1)[0]
        return int(head) if head.isdigit() else 0

    @property
    def sms_country_list(self) -> list[str]:
        return [c for c in self.sms_countries.replace(",", " ").upper().split() if c]

    def sms_allowed_to(self, e164: str) -> bool:
        allowed = self.sms_country_list
        return not allowed or contact.region_of(e164) in allowed

    @property
    def supports_mfa(self) -> bool:
        """R1: MFA exists only for clients on release 25.x or later."""
        return self.release_major >= MFA_RELEASE_MAJOR

    @property
    def mfa_unavailable_reason(self) -> str:
        return gettext(
            "MFA is only available for clients on release 25.x or later; "
            "%(client)s is on release %(release)s."
        ) % {"client": self.name, "release": self.release}


class Level(models.TextChoices):
    ADMIN = "admin", _("Admin")
    MANAGER = "manager", _("Manager")
    TEAM_LEADER = "team_leader", _("Team leader")
    AGENT = "agent", _("Agent")


class MfaMethod(models.TextChoices):
    OFF = "off", pgettext_lazy("MFA method", "Off")
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")


# A level named for the people in it ("Northwind requires managers to...", "New agents
# get"): its own words in each language, not the label with an English "s".
LEVEL_PLURALS = {
    Level.ADMIN.value: _("admins"),
    Level.MANAGER.value: _("managers"),
    Level.TEAM_LEADER.value: _("team leaders"),
    Level.AGENT.value: _("agents"),
}

ADMIN_PAGE_LEVELS = frozenset({Level.ADMIN, Level.MANAGER})
EMAIL_REQUIRED_LEVELS = frozenset({Level.MANAGER, Level.TEAM_LEADER})


class UserManager(BaseUserManager["User"]):
    def get_by_natural_key(self, username: str | None) -> User:
        return self.select_related("client").get(username=username)


class User(AbstractBaseUser):
    """A person who signs in: admin, manager, team leader or agent of one client.

    Writes go through `deskgate.accounts.actions`; nothing else saves a user.
    """

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="users")
    username = models.CharField(_("User name"), max_length=contact.USERNAME_MAX, unique=True)
    full_name = models.CharField(_("Full name"), max_length=200)
    level = models.CharField(max_length=16, choices=Level.choices, default=Level.AGENT)
    is_active = models.BooleanField(_("Active"), default=True)
    email = models.CharField(_("Email"), max_length=254, blank=True, default="")
    work_phone = models.CharField(_("Work phone"), max_length=16, blank=True, default="")
    mfa_method = models.CharField(
        "MFA", max_length=8, choices=MfaMethod.choices, default=MfaMethod.OFF
    )
    must_change_password = models.BooleanField(default=True)
    # The OpenID Provider's `sub`: stable, opaque, never the user name (a rename keeps it).
    subject = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    # The Email address this user proved to hold (a code delivered to it, or an SSO
    # provider's verified claim); `email_verified` is true while it equals `email`.
    email_proven = models.CharField(max_length=254, blank=True, default="", editable=False)
    # Kept for the directory that provisions the user (SCIM `externalId`, and the enterprise
    # extension's `employeeNumber` and `department`); Deskgate decides nothing by them.
    external_id = models.CharField(max_length=255, blank=True, default="")
    employee_number = models.CharField(max_length=64, blank=True, default="")
    department = models.CharField(max_length=200, blank=True, default="")
    # Lower-cased "username full name email phone": what the User list search matches.
    search_key = models.TextField(default="", editable=False)
    # "" = the client's default language, then the browser's; "" zone = the client's zone.
    language = models.CharField(max_length=8, blank=True, default="")
    time_zone = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = UserManager()

    USERNAME_FIELD = "username"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        ordering = ["full_name", "id"]
        indexes = [
            models.Index(fields=["client", "full_name", "id"], name="user_client_name"),
            models.Index(fields=["client", "level", "full_name"], name="user_client_level"),
            models.Index(Lower("email"), "client", name="user_client_email"),
            models.Index(fields=["client", "work_phone"], name="user_client_phone"),
            models.Index(fields=["client", "external_id"], name="user_client_external_id"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(full_name=""), name="user_full_name_required"),
            models.CheckConstraint(condition=~Q(username=""), name="user_username_required"),
            models.UniqueConstraint(Lower("username"), name="user_username_unique_ci"),
            models.CheckConstraint(condition=Q(level__in=Level.values), name="user_level_valid"),
            models.CheckConstraint(
                condition=Q(mfa_method__in=MfaMethod.values), name="user_mfa_method_valid"
            ),
            models.CheckConstraint(
                condition=~Q(mfa_method=MfaMethod.EMAIL) | ~Q(email=""),
                name="user_email_mfa_needs_email",
            ),
            models.CheckConstraint(
                condition=~Q(mfa_method=MfaMethod.SMS) | ~Q(work_phone=""),
                name="user_sms_mfa_needs_work_phone",
            ),
            models.CheckConstraint(
                condition=~Q(level__in=sorted(EMAIL_REQUIRED_LEVELS)) | ~Q(email=""),
                name="user_manager_needs_email",
            ),
            models.CheckConstraint(
                condition=Q(work_phone="") | Q(work_phone__startswith="+"),
                name="user_work_phone_e164",
            ),
            # R4 as far as one table can hold it: two active users of a client cannot
            # both receive their codes at one address or number.
            models.UniqueConstraint(
                "client",
                Lower("email"),
                condition=Q(is_active=True, mfa_method=MfaMethod.EMAIL),
                name="user_email_mfa_one_recipient",
            ),
            models.UniqueConstraint(
                "client",
                "work_phone",
                condition=Q(is_active=True, mfa_method=MfaMethod.SMS),
                name="user_sms_mfa_one_recipient",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.username})"

    @property
    def email_verified(self) -> bool:
        """Whether this user proved to hold their current Email address."""
        return bool(self.email) and self.email.casefold() == self.email_proven.casefold()

    @property
    def label(self) -> str:
        return str(self)

    @property
    def can_open_admin_pages(self) -> bool:
        return self.is_active and self.level in ADMIN_PAGE_LEVELS

    @property
    def mfa_applies(self) -> bool:
        """The user owes a code at password sign-in (R1, R2); SSO is decided by the pipeline."""
        return self.client.supports_mfa and self.mfa_method != MfaMethod.OFF

    def mfa_destination(self) -> str:
        """Where a code goes: the Email or Work phone field, as the method says."""
        if self.mfa_method == MfaMethod.EMAIL:
            return self.email
        if self.mfa_method == MfaMethod.SMS:
            return self.work_phone
        return ""

    def masked_mfa_destination(self) -> str:
        if self.mfa_method == MfaMethod.EMAIL:
            return contact.mask_email(self.email)
        if self.mfa_method == MfaMethod.SMS:
            return contact.mask_phone(self.work_phone)
        return ""

    def build_search_key(self) -> str:
        phone_digits = self.work_phone.lstrip("+")
        parts = [self.username, self.full_name, self.email, self.work_phone, phone_digits]
        return " ".join(p for p in parts if p).casefold()


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")


class MessageTemplate(models.Model):
    """A text an agent sends to customers; its tags read the agent's own fields (R5)."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="templates")
    name = models.CharField(max_length=100)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    sender = models.CharField(
        max_length=254, help_text="A fixed sender or a tag such as {agent.email}"
    )
    subject = models.CharField(max_length=200, blank=True, default="")
    body = models.TextField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["client", "name"], name="template_name_unique"),
            models.CheckConstraint(
                condition=Q(channel__in=Channel.values), name="template_channel_valid"
            ),
            models.CheckConstraint(condition=~Q(name=""), name="template_name_required"),
        ]

    def __str__(self) -> str:
        return self.name


class AuditAction(models.TextChoices):
    """What an audit event records (R9); the label is what an admin reads on the trail.

    The values are stored and compared (tests, exports), so a member's value never
    changes; a new kind of event is a new member.
    """

    # Clients and their message templates.
    CLIENT_CREATED = "client.created", _("Client created")
    CLIENT_SETTINGS_CHANGED = "client.settings_changed", _("Client settings changed")
    SSO_CONFIGURED = "sso.configured", _("SSO configured")
    SSO_DOMAIN_ADDED = "sso.domain_added", _("SSO email domain added")
    SSO_DOMAIN_VERIFIED = "sso.domain_verified", _("SSO email domain verified")
    SSO_DOMAIN_REMOVED = "sso.domain_removed", _("SSO email domain removed")
    TEMPLATE_CREATED = "template.created", _("Message template created")
    TEMPLATE_CHANGED = "template.changed", _("Message template changed")
    # Users, changed by an admin, an operator or themselves.
    USER_CREATED = "user.created", _("User created")
    USER_DETAILS_CHANGED = "user.details_changed", _("User details changed")
    USER_CONTACT_CHANGED = "user.contact_changed", _("Email or work phone changed")
    USER_PREFERENCES_CHANGED = "user.preferences_changed", _("Language or time zone changed")
    USER_CONTACT_CONFIRMATION_SENT = (
        "user.contact_confirmation_sent",
        _("Confirmation code for a new email or phone sent"),
    )
    USER_MFA_CHANGED = "user.mfa_changed", _("MFA method changed")
    USER_BULK_MFA = "user.bulk_mfa", _("MFA method changed for many users")
    USER_ACTIVATED = "user.activated", _("User activated")
    USER_DEACTIVATED = "user.deactivated", _("User deactivated")
    USER_PASSWORD_SET = "user.password_set", _("Password set by an admin or operator")
    USER_PASSWORD_CHANGED = "user.password_changed", _("Password changed by the user")
    # Notices telling a user that their account changed.
    USER_NOTIFIED = "user.notified", _("Told of changed sign-in settings")
    USER_NOTICE_FAILED = "user.notice_failed", _("Notice of changed sign-in settings not delivered")
    USER_NOTICE_CAPPED = (
        "user.notice_capped",
        _("Notice of changed sign-in settings held back (send limit)"),
    )
    USER_NOTICE_REFUSED_COUNTRY = (
        "user.notice_refused_country",
        _("Notice of changed sign-in settings not sent (country not allowed)"),
    )
    # Locks.
    USER_LOCKED = "user.locked", _("Locked after wrong codes")
    USER_UNLOCKED = "user.unlocked", _("Unlocked by an admin")
    USER_PASSWORD_LOCKED = "user.password_locked", _("Locked after wrong passwords")
    USER_PASSWORD_LOCK_ENDED = "user.password_lock_ended", _("Password lock ended by a reset")
    # Signing in and out.
    SIGNIN_SUCCESS = "signin.success", _("Signed in")
    SIGNIN_FAILURE = "signin.failure", _("Sign-in refused at the password step")
    SIGNIN_CODE_FAILED = "signin.code_failed", _("Wrong sign-in code")
    SIGNIN_SSO_REFUSED = "signin.sso_refused", _("SSO sign-in refused")
    SIGNIN_PAUSED = "signin.paused", _("Password sign-ins from an address paused")
    SIGNIN_SIGNED_OUT = "signin.signed_out", _("Signed out")
    # Sign-in codes.
    CODE_SENT = "code.sent", _("Sign-in code sent")
    CODE_SEND_FAILED = "code.send_failed", _("Sign-in code could not be sent")
    CODE_CAPPED = "code.capped", _("Sign-in code held back (send limit)")
    CODE_REFUSED_COUNTRY = "code.refused_country", _("Sign-in code not sent (country not allowed)")
    DEVICES_REVOKED = "devices.revoked", _("Remembered devices revoked")
    SESSIONS_ENDED = "sessions.ended", _("Signed-in sessions ended by the user")
    # Password resets.
    PASSWORD_RESET_REQUESTED = "password.reset_requested", _("Password reset link sent")
    PASSWORD_RESET_REFUSED = "password.reset_refused", _("Password reset refused")
    PASSWORD_RESET_CAPPED = "password.reset_capped", _("Password reset mail held back (send limit)")
    PASSWORD_RESET_MAIL_FAILED = (
        "password.reset_mail_failed",
        _("Password reset mail could not be sent"),
    )
    # The apps that sign in through Deskgate (the OpenID Provider).
    OIDC_AUTHORIZED = "oidc.authorized", _("Signed in to an app")
    OIDC_REFUSED = "oidc.refused", _("Sign-in to an app refused")
    OIDC_CODE_REPLAYED = "oidc.code_replayed", _("App authorization code used twice")
    OIDC_LOGOUT_FAILED = "oidc.logout_failed", _("App not told of a sign-out")
    APP_REGISTERED = "app.registered", _("App registered")
    APP_REMOVED = "app.removed", _("App removed")
    # Programs and directories: API tokens, the REST API and SCIM.
    TOKEN_CREATED = "token.created", _("API token created")
    TOKEN_REVOKED = "token.revoked", _("API token revoked")
    TOKEN_REFUSED = "token.refused", _("API request refused")
    API_READ = "api.read", _("Read through the API")
    USER_DELETED = "user.deleted", _("User deleted")
    # Stronger factors: the authenticator app (TOTP) and recovery codes.
    AUTHENTICATOR_ENROLLED = "factor.app_enrolled", _("Authenticator app set up")
    AUTHENTICATOR_REMOVED = "factor.app_removed", _("Authenticator app removed or reset")
    RECOVERY_CODES_CREATED = "factor.recovery_codes_created", _("Recovery codes created")
    RECOVERY_CODE_USED = "factor.recovery_code_used", _("Recovery code used to sign in")
    # Passkeys and security keys (WebAuthn).
    PASSKEY_ADDED = "factor.passkey_added", _("Passkey or security key added")
    PASSKEY_REMOVED = "factor.passkey_removed", _("Passkey or security key removed or reset")
    PASSKEY_REFUSED = "factor.passkey_refused", _("Passkey sign-in refused")
    # The single-use link that lets a user without a factor set one up.
    ENROLMENT_LINK_SENT = "factor.enrolment_link_sent", _("Link to set up a sign-in method sent")
    ENROLMENT_LINK_USED = "factor.enrolment_link_used", _("Link to set up a sign-in method used")
    # A second factor checked again before a sensitive change.
    STEP_UP_PASSED = "signin.step_up", _("Sign-in checked again for a sensitive change")
    # An operator's changes of a client's name, country or release.
    CLIENT_DETAILS_CHANGED = "client.details_changed", _("Client renamed or its country changed")
    CLIENT_RELEASE_CHANGED = "client.release_changed", _("Client's release changed")
    # Users imported from a CSV file (each row's change is its own event too).
    USERS_IMPORTED = "user.imported", _("Users imported from a file")
    # Old events removed after the client's retention (deskgate purge-audit).
    AUDIT_PURGED = "audit.purged", _("Old audit events removed")
    # The batched alert email to a client's admins (accounts/alerts.py).
    ALERTS_MAILED = "client.alerts_mailed", _("Alerts emailed to the admins")
    # Invitations by email: the person sets their own password (issue 16).
    USER_INVITED = "user.invited", _("Invitation sent")
    INVITATION_REVOKED = "invitation.revoked", _("Invitation revoked")
    INVITATION_ACCEPTED = "invitation.accepted", _("Invitation accepted")


class AuditEvent(models.Model):
    """One thing that happened: who did it, to whom, when, from where (R9).

    `detail` holds masked destinations and reasons, never a code, a password or a full
    phone number.
    """

    client = models.ForeignKey(
        Client, on_delete=models.CASCADE, related_name="audit_events", null=True
    )
    at = models.DateTimeField(db_index=True)
    action = models.CharField(max_length=40, choices=AuditAction.choices)
    actor = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, related_name="audit_as_actor"
    )
    actor_label = models.CharField(max_length=300, blank=True, default="")
    subject = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, related_name="audit_as_subject"
    )
    subject_label = models.CharField(max_length=300, blank=True, default="")
    ip = models.GenericIPAddressField(null=True)
    summary = models.CharField(max_length=500)
    detail = models.JSONField(default=dict)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["client", "-at"], name="audit_client_at"),
            models.Index(fields=["subject", "-at"], name="audit_subject_at"),
            # The audit page's and the API's filter by event, newest first.
            models.Index(fields=["client", "action", "-at"], name="audit_client_action_at"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.summary}"

    @property
    def destination(self) -> str:
        """The masked address or number the event concerns, as the audit trail shows it."""
        detail = self.detail if isinstance(self.detail, dict) else {}
        if detail.get("destination"):
            return str(detail["destination"])
        changes = [detail[k] for k in ("email", "work_phone") if isinstance(detail.get(k), dict)]
        return ", ".join(
            f"{c.get('before') or '(empty)'} \u2192 {c.get('after') or '(empty)'}" for c in changes
        )


class UserSession(models.Model):
    """Which session belongs to whom, so sign-out elsewhere and deactivation end them.

    It also keeps what this session's sign-in checked, for the apps that sign in through
    Deskgate: `sid` (stable while the session lives, though its key changes), when the
    person last authenticated and the methods used (`amr`, RFC 8176).
    """

    session_key = models.CharField(max_length=40, primary_key=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sessions")
    created_at = models.DateTimeField(auto_now_add=True)  # first seen
    # The address of the latest request noted (`last_seen_at`), the sign-in's at first.
    ip = models.GenericIPAddressField(null=True)
    # The browser's User-Agent at sign-in, cut short: its name is read from it when shown.
    user_agent = models.CharField(max_length=500, blank=True, default="")
    # Noted at most every few minutes (`sessions.SEEN_EVERY`), not at every request.
    last_seen_at = models.DateTimeField(default=timezone.now)
    sid = models.CharField(max_length=43, unique=True, default=new_sid, editable=False)
    auth_time = models.DateTimeField(default=timezone.now)
    amr = models.JSONField(default=list)

    def __str__(self) -> str:
        return f"session of {self.user_id}"


class AlertKind(models.TextChoices):
    """What a client's admins are alerted to (thresholds in `deskgate.accounts.alerts`)."""

    REPEAT_LOCK = "repeat_lock", _("A user locked again within a day")
    SEND_CAP = "send_cap", _("A send limit reached")
    SSO_REFUSALS = "sso_refusals", _("Many SSO sign-ins refused")


class Alert(models.Model):
    """One alert condition, waiting for (or taken by) the batched email to the client's
    admins. Written once when the condition fires; `key` makes a condition that fires
    again within its window one row (a capped hour, a burst of SSO refusals)."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=20, choices=AlertKind.choices)
    at = models.DateTimeField()
    # The user it is about (a lock, a user's cap); null for the client's own conditions,
    # and once the user is deleted.
    subject = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    count = models.PositiveIntegerField(default=1)  # locks in the day; refusals in the period
    scope = models.CharField(max_length=10, blank=True, default="")  # a cap's: user, client...
    key = models.CharField(max_length=120, blank=True, default="")  # "" for a lock's
    # Set when a sender took it (the email's batch) or dropped it (alerts turned off).
    handled_at = models.DateTimeField(null=True)
    batch = models.UUIDField(null=True)

    class Meta:
        indexes = [models.Index(fields=["client", "handled_at"], name="alert_client_handled")]
        constraints = [
            models.UniqueConstraint(fields=["key"], condition=~Q(key=""), name="alert_key_once")
        ]

    def __str__(self) -> str:
        return f"{self.kind} of client {self.client_id} at {self.at:%Y-%m-%d %H:%M}"


class Invitation(models.Model):
    """A single-use link, sent to a new user's Email, where they set their own password
    (issue 16), instead of a temporary password handed over by hand.

    Only a hash of its token is kept. It works once (`accepted_at`, set by one conditional
    UPDATE), until `expires_at` (the client's `invitation_hours`); a new invitation and a
    revoke void the live ones (`voided_at`). `email` is the address it went to: accepting
    proves that address only while it is still the user's.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="invitations")
    token_hash = models.CharField(max_length=64, unique=True)
    email = models.CharField(max_length=254)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True)
    voided_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [models.Index(fields=["user", "-created_at"], name="invitation_user_created")]

    def __str__(self) -> str:
        return f"invitation {self.pk} of {self.user_id}"
