from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.functional import lazy
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from deskgate.http.forms import Form
from deskgate.signin import codes, totp
from deskgate.signin.app_settings import app_settings


def _code_title() -> str:
    digits = app_settings.CODE.digits
    return ngettext(
        "%(count)d digit; spaces and dashes are fine",
        "%(count)d digits; spaces and dashes are fine",
        digits,
    ) % {"count": digits}


class CodeField(forms.CharField):
    digits: int | None = None  # None: as DESKGATE_CODE says
    """The Code field: the code's digits (six), typed or pasted with or without separators.

    Cleans to the ASCII digits (`codes.normalise`); anything else is refused here with
    "A code has 6 digits", before any flow sees it, so it never counts as a wrong try.
    The length comes from `app_settings.CODE`, read when the page is drawn.
    """

    def __init__(self, *, autofocus: bool = False, **kwargs: Any) -> None:
        attrs: dict[str, Any] = {
            "autocomplete": "one-time-code",
            "inputmode": "numeric",
            "pattern": lazy(codes.input_pattern, str)(),
            "title": lazy(_code_title, str)(),
        }
        if autofocus:
            attrs["autofocus"] = True
        kwargs.setdefault("label", _("Code"))
        super().__init__(
            max_length=32,  # room for "977 743", "977-743" and padding
            error_messages={"max_length": lazy(codes.not_a_code, str)()},
            widget=forms.TextInput(attrs=attrs),
            **kwargs,
        )

    def clean(self, value: Any) -> str:
        typed = super().clean(value)
        code = codes.normalise(typed, self.digits)
        if code is None:
            raise ValidationError(self.not_a_code(), code="not_a_code")
        return code

    def not_a_code(self) -> str:
        return codes.not_a_code()


class PasswordForm(Form):
    username = forms.CharField(
        label=_("User name"),
        max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(
        label=_("Password"),
        max_length=4096,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class NewPasswordForm(Form):
    new_password = forms.CharField(
        label=_("New password"),
        max_length=4096,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password", "autofocus": True}),
    )
    confirm_password = forms.CharField(
        label=_("New password again"),
        max_length=4096,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("new_password") and data.get("new_password") != data.get("confirm_password"):
            self.add_error("confirm_password", _("The two passwords are not the same."))
        return data


class ChangePasswordForm(NewPasswordForm):
    current_password = forms.CharField(
        label=_("Current password"),
        max_length=4096,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    field_order = ["current_password", "new_password", "confirm_password"]


class ResetRequestForm(Form):
    email = forms.CharField(
        label=_("Email"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )


class CodeForm(Form):
    code = CodeField(autofocus=True)
    remember = forms.BooleanField(label=_("Remember device for 30 days"), required=False)


class AppCodeField(CodeField):
    """The authenticator app's code: always six digits (RFC 6238 as the apps do it)."""

    digits = totp.DIGITS

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.widget.attrs["pattern"] = r"[\s\-]*(?:[0-9][\s\-]*){6}"
        self.widget.attrs["title"] = _("6 digits from your authenticator app")
        self.error_messages["max_length"] = _("The app's code has 6 digits.")

    def not_a_code(self) -> str:
        return gettext("The app's code has 6 digits.")


class AppCodeForm(Form):
    app_code = AppCodeField(autofocus=True, label=_("Code from your authenticator app"))
    remember = forms.BooleanField(label=_("Remember device for 30 days"), required=False)


class RecoveryCodeForm(Form):
    recovery_code = forms.CharField(
        label=_("Recovery code"),
        max_length=64,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autofocus": True, "spellcheck": "false"}
        ),
    )
    remember = forms.BooleanField(label=_("Remember device for 30 days"), required=False)

    def clean_recovery_code(self) -> str:
        code = totp.normalise_recovery(self.cleaned_data["recovery_code"])
        if code is None:
            raise ValidationError(
                _("A recovery code has 10 letters and digits, such as abcde-23456."),
                code="not_a_code",
            )
        return code
