"""HTML forms: presence, lengths and choices only. The rules live in the actions."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from deskgate.accounts import languages, permissions
from deskgate.accounts.actions import FactorPolicy, TemplateInput, UserInput
from deskgate.accounts.models import LEVEL_PLURALS, Channel, Client, Level, MfaMethod, User
from deskgate.accounts.permissions import Op
from deskgate.http.forms import Form

OWN_SIGN_IN_FIELDS = ("email", "work_phone", "mfa_method", "password")
EMPLOYMENT_CHOICES = [("active", _("Active")), ("inactive", _("Inactive"))]


class UserForm(Form):
    username = forms.CharField(label=_("User name"), max_length=200)
    # Its length and characters are the rules' (rules.clean_full_name), the same words here
    # as at the command line.
    full_name = forms.CharField(label=_("Full name"))
    level = forms.ChoiceField(label=_("Level"), choices=Level.choices)
    employment = forms.ChoiceField(label=_("Employment"), choices=EMPLOYMENT_CHOICES)
    email = forms.CharField(
        label=_("Email"),
        max_length=300,
        required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    work_phone = forms.CharField(
        label=_("Work phone"),
        max_length=64,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "tel"}),
    )
    mfa_method = forms.ChoiceField(label=_("MFA"), choices=MfaMethod.choices, required=False)
    password = forms.CharField(
        label=_("Set password"),
        max_length=4096,
        strip=False,
        required=False,
        help_text=_("A temporary password the user must change at the first sign-in."),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),  # never sent back
    )
    invite = forms.BooleanField(
        label=_("Send an invitation by email"),
        required=False,
        initial=True,
        help_text=_(
            "The person chooses their own password through a single-use link to their Email. "
            "Without an Email, set a temporary password instead."
        ),
    )

    def __init__(
        self,
        *args: Any,
        client: Client,
        acting: User,
        user: User | None = None,
        read_only: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.client = client
        self.user = user
        self.read_only = read_only
        if read_only:  # shown to someone who may see this user but not change them
            for name in self.fields:
                self.fields[name].disabled = True
        self.own = user is not None and user.pk == acting.pk
        if self.own:
            # What proves who one is changes on one's own pages (password, then a code to
            # the new destination), never here: a stolen session would take the account.
            for name in OWN_SIGN_IN_FIELDS:
                self.fields[name].disabled = True
        level = self.fields["level"]
        if not read_only and isinstance(level, forms.ChoiceField):
            # The levels the permission table lets `acting` give (a manager: below their own).
            op = Op.USER_CREATE if user is None else Op.USER_CHANGE
            level.choices = [
                c
                for c in Level.choices
                if permissions.refusal(acting, op, client.pk, [c[0]]) is None
            ]
        # MFA settings (the method, and the field it sends codes to) are admins' alone:
        # shown, not editable, to a manager; the action refuses a forced value.
        target = [user.level] if user is not None else []
        self.may_mfa = permissions.refusal(acting, Op.USER_MFA, client.pk, target) is None
        if not self.may_mfa:
            self.fields["mfa_method"].disabled = True
            if not read_only:  # the page then says why (#mfa-admins-only)
                attrs = self.fields["mfa_method"].widget.attrs
                attrs["aria-describedby"] = " ".join(
                    filter(None, ["mfa-admins-only", attrs.get("aria-describedby")])
                )
            uses = {MfaMethod.EMAIL: "email", MfaMethod.SMS: "work_phone"}
            if user is not None and user.mfa_method in uses:
                self.fields[uses[MfaMethod(user.mfa_method)]].disabled = True
        if not client.supports_mfa:
            # Shown but not usable, with the reason; the action refuses a forced value.
            # The reason is the form page's #mfa-unavailable paragraph (not a help_text,
            # which the field template would show a second time).
            self.fields["mfa_method"].widget.attrs.update(
                {"disabled": True, "aria-describedby": "mfa-unavailable"}
            )
        mfa = self.fields["mfa_method"]
        # Creating, for a client whose settings give new users a method by level: the
        # first choice leaves it to them (the action applies it, with every rule).
        creating_under_policy = user is None and client.supports_mfa and client.new_user_mfa
        if creating_under_policy and isinstance(mfa, forms.ChoiceField):
            mfa.choices = [("", "As Settings say for the level"), *MfaMethod.choices]
        if user is not None or read_only:
            del self.fields["invite"]  # offered when creating only
        if user is not None:
            self.fields["password"].label = "Set new password"
            self.fields["password"].help_text = (
                "Leave empty to keep the password. A new one is temporary: the user must "
                "change it at the next sign-in."
            )

    INVITE_OR_PASSWORD = _(
        "Choose one: an invitation (the person chooses a password) or a temporary password. "
        "Untick the invitation, or leave Set password empty."
    )

    def invitation_conflict(self) -> bool:
        """The box ticked, an Email and a temporary password typed: one of them must go.
        Checked by the view beside the action's own checks, so both are said at once."""
        data = self.cleaned_data
        return self.sends_invitation() and bool(data.get("password"))

    def sends_invitation(self) -> bool:
        """Creating with the box ticked and an Email given: the invitation goes out."""
        data = self.cleaned_data
        return "invite" in self.fields and bool(data.get("invite") and data.get("email"))

    def to_input(self) -> UserInput:
        data = self.cleaned_data
        # Creating, an empty choice is the settings' method for the level (or Off).
        current = self.user.mfa_method if self.user is not None else ""
        return UserInput(
            username=data["username"],
            full_name=data["full_name"],
            level=data["level"],
            email=data.get("email", ""),
            work_phone=data.get("work_phone", ""),
            # A disabled drop-down is not submitted: keep what the user has.
            mfa_method=data.get("mfa_method") or current,
            is_active=data["employment"] == "active",
        )

    @classmethod
    def initial_for(cls, user: User) -> dict[str, str]:
        from deskgate.accounts.contact import format_phone

        initial = asdict(UserInput.of(user))
        initial["employment"] = "active" if initial.pop("is_active") else "inactive"
        initial["work_phone"] = format_phone(user.work_phone)
        return initial


class BulkMfaForm(Form):
    method = forms.ChoiceField(label=_("Set MFA to"), choices=MfaMethod.choices)
    scope = forms.ChoiceField(
        label=_("For"),
        choices=[("selected", _("The selected users"))]
        + [
            (f"level:{v}", format_lazy(_("All active users of level {level}"), level=label))
            for v, label in Level.choices
        ]
        + [("matching", _("All users that match the search and filters"))],
    )
    users = forms.Field(required=False, widget=forms.MultipleHiddenInput)
    # The list's search and filters as shown ("all users that match"): its query string,
    # read by the list's own parser (web.userlist), which drops what it does not know.
    filter = forms.CharField(required=False, max_length=2000, widget=forms.HiddenInput)
    # Set by the confirmation page: without it the form only shows what it would do.
    key = forms.UUIDField(required=False, widget=forms.HiddenInput)

    def clean_users(self) -> list[int]:
        # Ids only; which of them this admin may touch is the access helpers' answer.
        raw = self.cleaned_data.get("users") or []
        try:
            ids = sorted({int(v) for v in raw})
        except ValueError:
            ids = None
        # Beyond the id column's range the database would fail, not answer "no such user".
        if ids is None or any(not 0 < pk < 2**63 for pk in ids):
            raise ValidationError(_("The selection is not valid; reload the page."))
        return ids

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("scope") == "selected" and not data.get("users"):
            raise ValidationError(_("Tick at least one user in the list, or choose a whole level."))
        return data


class TemplateForm(Form):
    name = forms.CharField(label=_("Name"))  # length and characters: rules.clean_name
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices)
    sender = forms.CharField(
        label=_("Sender"),
        max_length=254,
        help_text=_("A fixed address or number, or a tag: {agent.email} or {agent.workphone}."),
    )
    subject = forms.CharField(label=_("Subject"), max_length=200, required=False)
    body = forms.CharField(label=_("Message"), widget=forms.Textarea(attrs={"rows": 6}))

    def to_input(self) -> TemplateInput:
        d = self.cleaned_data
        return TemplateInput(
            name=d["name"],
            channel=d["channel"],
            sender=d["sender"],
            subject=d.get("subject", ""),
            body=d["body"],
        )


class ClientSettingsForm(Form):
    password_reset_enabled = forms.BooleanField(
        label=_("Users may reset a forgotten password by email"), required=False
    )
    remember_device_enabled = forms.BooleanField(
        label=_("Offer “Remember device for 30 days” at sign-in"),
        required=False,
        help_text=_("Turn off where agents share workstations."),
    )
    sms_countries = forms.CharField(
        label=_("Countries SMS codes may go to"),
        max_length=200,
        required=False,
        help_text=_(
            "Two-letter codes such as FI SE EE; empty allows every country. "
            "Limits the cost of SMS pumping."
        ),
    )
    strong_factor_levels = forms.MultipleChoiceField(
        label=_("Levels that must use an authenticator app or a passkey"),
        choices=Level.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "A user of a ticked level without one is taken to set one up at sign-in, "
            "after proving the factor they have (an Email or SMS code, or SSO)."
        ),
    )
    passwordless_enabled = forms.BooleanField(
        label=_("Allow passwordless sign-in with a passkey"), required=False
    )
    step_up_minutes = forms.IntegerField(
        label=_("Minutes a checked second factor counts for sensitive changes"),
        min_value=1,
        max_value=1440,
        required=False,
        help_text=_("From 1 to 1440 (a day); 15 unless changed."),
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    invitation_hours = forms.IntegerField(
        label=_("Hours an invitation link works"),
        min_value=1,
        max_value=720,
        required=False,
        help_text=_("From 1 to 720 (30 days); 72 unless changed."),
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    invite_directory_users = forms.BooleanField(
        label=_("Send an invitation to users a directory creates (SCIM)"),
        required=False,
        help_text=_(
            "Only to users with an Email, and never while SSO is mandatory. Leave it off when "
            "your directory's users sign in through SSO."
        ),
    )

    default_language = forms.ChoiceField(
        label=_("Default language"),
        required=False,
        help_text=_("For users who have not chosen their own language."),
    )
    time_zone = forms.CharField(
        label=_("Time zone"),
        max_length=64,
        required=False,
        help_text=_("Dates and times show in it for users who have not chosen their own."),
        widget=forms.TextInput(attrs={"list": "time-zones", "autocomplete": "off"}),
    )
    alert_emails = forms.BooleanField(
        label=_("Email admins about alerts"),
        required=False,
        help_text=_(
            "At most one email every 15 minutes when a user is locked twice within a day, a "
            "send limit is reached, or SSO refuses many sign-ins."
        ),
    )
    # The bounds are the action's (one message for every door); the browser is told them.
    audit_retention_days = forms.IntegerField(
        label=_("Days the audit trail keeps an event"),
        required=False,
        help_text=_("From 30 to 3650; 365 unless changed. Older events are removed daily."),
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": 30, "max": 3650}),
    )

    NEW_USER_MFA_CHOICES = [("", _("Keep the default")), *MfaMethod.choices]

    def __init__(
        self, *args: Any, client: Client, initial: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        """`initial` (a step-up's kept draft) wins over what the client has stored."""
        policy = FactorPolicy.of(client)
        stored = {
            "password_reset_enabled": client.password_reset_enabled,
            "remember_device_enabled": client.remember_device_enabled,
            "sms_countries": client.sms_countries,
            "default_language": client.default_language,
            "time_zone": client.time_zone,
            "strong_factor_levels": list(policy.strong_factor_levels),
            "passwordless_enabled": policy.passwordless_enabled,
            "step_up_minutes": policy.step_up_minutes,
            "alert_emails": client.alert_emails,
            "audit_retention_days": client.audit_retention_days,
            "invitation_hours": client.invitation_hours,
            "invite_directory_users": client.invite_directory_users,
        }
        for level in Level.values:
            stored[self.new_user_field(level)] = policy.new_user_mfa.get(level, "")
        super().__init__(*args, initial={**stored, **(initial or {})}, **kwargs)
        self.client = client
        self.fields["default_language"].choices = [  # type: ignore[attr-defined]  # a ChoiceField
            ("", _("The browser's language")),
            *languages.language_choices(),
        ]
        for level in Level.values:
            self.fields[self.new_user_field(level)] = forms.ChoiceField(
                label=format_lazy(_("New {people} get"), people=LEVEL_PLURALS[level]),
                choices=self.NEW_USER_MFA_CHOICES,
                required=False,
            )
        if not client.supports_mfa:
            # R1: shown with the reason, not usable; the action refuses a forced value.
            for name in self.policy_fields():
                self.fields[name].disabled = True

    @staticmethod
    def new_user_field(level: str) -> str:
        return f"new_user_mfa_{level}"

    def policy_fields(self) -> list[str]:
        return [
            "strong_factor_levels",
            *(self.new_user_field(level) for level in Level.values),
            "passwordless_enabled",
            "step_up_minutes",
        ]

    def new_user_mfa_fields(self) -> list[forms.BoundField]:
        return [self[self.new_user_field(level)] for level in Level.values]

    def invitation_settings(self) -> tuple[int | None, bool | None]:
        """(hours, invite directory users) as posted; None keeps what is stored."""
        data = self.cleaned_data
        hours = data.get("invitation_hours")
        directory = data["invite_directory_users"] if "invitation_hours" in self.data else None
        return hours, directory

    def to_settings(self) -> dict[str, Any]:
        """The cleaned form as the action's keyword arguments."""
        data = self.cleaned_data
        settings: dict[str, Any] = {
            "password_reset_enabled": data["password_reset_enabled"],
            "remember_device_enabled": data["remember_device_enabled"],
            "sms_countries": data.get("sms_countries", ""),
            # Left out of the post (an older page): kept as stored. An emptied zone is refused.
            "default_language": data.get("default_language", "")
            if "default_language" in self.data
            else None,
            "time_zone": data.get("time_zone", "") if "time_zone" in self.data else None,
            "alert_emails": bool(data.get("alert_emails")),
        }
        if not self.client.supports_mfa:
            return settings  # R1: the policy's fields are not in use; keep what is stored
        return settings | {
            "policy": FactorPolicy(
                strong_factor_levels=tuple(data.get("strong_factor_levels") or ()),
                new_user_mfa={
                    level: data.get(self.new_user_field(level)) or "" for level in Level.values
                },
                passwordless_enabled=bool(data.get("passwordless_enabled")),
                # Empty keeps what is stored.
                step_up_minutes=data.get("step_up_minutes") or self.client.step_up_minutes,
            ),
        }


class PreferencesForm(Form):
    """A user's language and time zone: "" for each keeps their company's default."""

    language = forms.ChoiceField(label=_("Language"), required=False)
    time_zone = forms.CharField(
        label=_("Time zone"),
        max_length=64,
        required=False,
        help_text=_("Such as Europe/Helsinki. Empty: your company's time zone."),
        widget=forms.TextInput(attrs={"list": "time-zones", "autocomplete": "off"}),
    )

    def __init__(self, *args: Any, default_label: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", default_label), *languages.language_choices()]
        self.fields["language"].choices = choices  # type: ignore[attr-defined]  # a ChoiceField
