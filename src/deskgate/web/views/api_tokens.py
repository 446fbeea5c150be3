"""Settings > API tokens: the tokens a client's directories and programs hold, for admins only.

A new token is shown once, in the response to the POST that created it: never in the
session, a message or a URL, and that response is not cached. Afterwards the page shows
only its first characters.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache

from deskgate.accounts.models import Client
from deskgate.apitokens import tokens
from deskgate.apitokens.models import Scope
from deskgate.http.actors import actor_for
from deskgate.http.forms import Form, add_errors
from deskgate.http.guards import acting_user, admins_only, forbidden
from deskgate.signin import step_up as step_up_flow
from deskgate.web.step_up import step_up

NEVER = "never"
EXPIRY_CHOICES = [
    ("30", _("30 days")),
    ("90", _("90 days")),
    ("365", _("365 days")),
    (NEVER, _("Never")),
]
DEFAULT_EXPIRY = "90"


class ApiTokenForm(Form):
    """What the admin chooses; the rules (name, scope, expiry) are `tokens.issue`'s, so the
    fields only carry what was typed and the refusals come back in the rule's words."""

    name = forms.CharField(
        label=_("Name"),
        required=False,
        widget=forms.TextInput(attrs={"maxlength": tokens.NAME_MAX, "autocomplete": "off"}),
        help_text=_(
            "Tells the token apart on this page and in the audit trail, "
            "such as Entra ID provisioning."
        ),
    )
    scope = forms.CharField(
        label=_("Scope"), required=False, widget=forms.Select(choices=Scope.choices)
    )
    expires_days = forms.CharField(
        label=_("Expires"), required=False, widget=forms.Select(choices=EXPIRY_CHOICES)
    )

    def clean_expires_days(self) -> int | None:
        raw = self.cleaned_data.get("expires_days") or DEFAULT_EXPIRY
        if raw == NEVER:
            return None
        try:
            return int(raw)
        except ValueError:
            raise ValidationError(
                gettext("Expiry is 1 to %(expiry_days_max)s days, or none.")
                % {"expiry_days_max": tokens.EXPIRY_DAYS_MAX}
            ) from None


def _page(
    request: HttpRequest,
    client: Client,
    form: ApiTokenForm,
    issued: tokens.Issued | None = None,
) -> HttpResponse:
    context: dict[str, Any] = {
        "client": client,
        "form": form,
        "tokens": list(tokens.tokens_of(client)),
        "issued": issued,
        "scim_url": settings.DESKGATE_BASE_URL + "/scim/v2/",
        "api_url": settings.DESKGATE_BASE_URL + "/api/v1/",
    }
    return render(request, "web/api_tokens.html", context)


@never_cache  # the POST's answer holds the new token: no cache, no back-button copy
@admins_only
@step_up("api_token_create", "create an API token", back="api_tokens")
def api_tokens(request: HttpRequest) -> HttpResponse:
    admin = acting_user(request)
    client = admin.client
    if request.method != "POST":
        draft = step_up_flow.take_draft(request)  # back from a step-up: as typed
        initial = step_up_flow.as_initial(draft) if draft else {"expires_days": DEFAULT_EXPIRY}
        return _page(request, client, ApiTokenForm(initial=initial))
    form = ApiTokenForm(request.POST)
    if form.is_valid():
        try:
            issued = tokens.issue(
                client,
                name=form.cleaned_data["name"],
                scope=form.cleaned_data["scope"],
                expires_days=form.cleaned_data["expires_days"],
                by=actor_for(request, admin),
            )
        except ValidationError as exc:
            add_errors(form, exc)
        except PermissionDenied as exc:
            return forbidden(request, exc)
        else:
            # Rendered here and nowhere else: a reload or a later visit shows no token.
            fresh = ApiTokenForm(initial={"expires_days": DEFAULT_EXPIRY})
            return _page(request, client, fresh, issued)
    return _page(request, client, form)


@never_cache
@admins_only
def api_token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    admin = acting_user(request)
    token = tokens.get_token(admin.client, token_id)  # another client's id: 404 (R10)
    if request.method == "POST":
        try:
            done = tokens.revoke(token, by=actor_for(request, admin))
        except PermissionDenied as exc:
            return forbidden(request, exc)
        if done:
            messages.success(
                request,
                gettext("API token %(name)s is revoked: requests with it are refused now.")
                % {"name": token.name},
            )
        else:
            messages.info(
                request, gettext("API token %(name)s was already revoked.") % {"name": token.name}
            )
        return redirect("api_tokens")
    return render(request, "web/api_token_revoke.html", {"token": token, "client": admin.client})
