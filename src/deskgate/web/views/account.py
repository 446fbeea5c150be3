"""The user's own contact information: re-authenticate, confirm the new destination."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache

from deskgate.accounts import actions, rules
from deskgate.http.actors import actor_for
from deskgate.http.forms import Form
from deskgate.http.guards import acting_user
from deskgate.signin import contact_change
from deskgate.signin.credentials import PasswordOutcome, check_credentials
from deskgate.signin.forms import CodeField


class ContactForm(Form):
    field = forms.ChoiceField(
        label=_("Change"), choices=[("email", "Email"), ("work_phone", "Work phone")]
    )
    value = forms.CharField(label=_("New value"), max_length=300)
    current_password = forms.CharField(
        label=_("Current password"),
        max_length=4096,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class ConfirmForm(Form):
    code = CodeField()


@login_required
@never_cache
def change_contact(request: HttpRequest) -> HttpResponse:
    user = acting_user(request)
    if rules.sso_mandatory(user.client):
        return render(request, "web/contact_change.html", {"sso": True})
    form = ContactForm(request.POST or None, initial={"field": request.GET.get("field", "email")})
    if request.method == "POST" and form.is_valid():
        by = actor_for(request, user)
        field = form.cleaned_data["field"]
        _checked, outcome = check_credentials(
            user.username, form.cleaned_data["current_password"], by=by
        )
        if outcome != PasswordOutcome.OK:
            form.add_error("current_password", _("That is not your current password."))
        else:
            try:
                value = actions.check_own_contact(user, field, form.cleaned_data["value"])
            except ValidationError as exc:
                messages_for_field = exc.message_dict.get(field) or exc.messages
                form.add_error("value", messages_for_field)
            else:
                if value == getattr(user, field):
                    form.add_error("value", _("That is what you have already."))
                elif not value:
                    form.add_error("value", _("Enter the new value; ask your admin to remove one."))
                else:
                    started = contact_change.start(user, field, value, by=by)
                    if started.ok:
                        messages.success(request, started.message)
                        return redirect("contact_confirm")
                    form.add_error(None, started.message)
    return render(request, "web/contact_change.html", {"form": form})


@login_required
@never_cache
def confirm_contact(request: HttpRequest) -> HttpResponse:
    user = acting_user(request)
    change = contact_change.pending_for(user)
    if change is None:
        messages.info(request, _("There is no change waiting for a code. Start it again."))
        return redirect("contact_change")
    form = ConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            problem = contact_change.confirm(
                user, form.cleaned_data["code"], by=actor_for(request, user)
            )
        except ValidationError as exc:
            problem = " ".join(exc.messages)
        if problem is None:
            messages.success(request, _("Your contact information is changed."))
            return redirect("account")
        form.add_error("code", problem)
    return render(
        request,
        "web/contact_confirm.html",
        {
            "form": form,
            "label": contact_change.FIELD_LABELS[change.field],
            "where": contact_change.mask(change.field, change.new_value),
        },
    )
