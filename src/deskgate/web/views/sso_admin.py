"""Settings > SSO: a client's OpenID Connect provider, for admins only."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from deskgate.http.actors import actor_for
from deskgate.http.forms import Form, add_errors
from deskgate.http.guards import acting_user, admins_only
from deskgate.signin import step_up as step_up_flow
from deskgate.sso import flows, provider
from deskgate.web.step_up import step_up


class SsoForm(Form):
    issuer = forms.CharField(
        label=_("Issuer URL"),
        max_length=300,
        help_text=_(
            "Entra ID: https://login.microsoftonline.com/<tenant id>/v2.0 · "
            "Google Workspace: https://accounts.google.com"
        ),
    )
    client_id = forms.CharField(label=_("Client id"), max_length=300)
    secret = forms.CharField(
        label=_("Client secret"),
        max_length=500,
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),  # never shown again
    )
    mandatory = forms.BooleanField(
        label=_("SSO is mandatory: no sign-in with a password"), required=False
    )
    require_idp_mfa = forms.BooleanField(
        label=_("Ask for our code unless the provider says it did MFA"), required=False
    )


@admins_only
@step_up("sso_settings", "change the SSO settings", back="sso_settings")
def sso_settings(request: HttpRequest) -> HttpResponse:
    admin = acting_user(request)
    client = admin.client
    config = flows.config_for(client)
    initial = (
        {
            "issuer": config.issuer,
            "client_id": config.oidc_client_id,
            "mandatory": config.mandatory,
            "require_idp_mfa": config.require_idp_mfa,
        }
        if config
        else {}
    )
    draft = step_up_flow.take_draft(request)  # back from a step-up: as typed, no secret
    if draft:
        initial = step_up_flow.as_initial(draft)
    action = request.POST.get("action", "save")
    form = SsoForm(
        request.POST if action == "save" and request.method == "POST" else None, initial=initial
    )
    if request.method == "POST" and action == "test":
        if config is None:
            messages.error(request, _("Save the SSO settings first, then test the connection."))
        else:
            try:
                messages.success(request, flows.check_connection(config))
            except provider.ProviderError as exc:
                messages.error(
                    request, gettext("The connection does not work: %(exc)s") % {"exc": exc}
                )
        return redirect("sso_settings")
    if request.method == "POST" and form.is_valid():
        data = flows.SsoInput(
            issuer=form.cleaned_data["issuer"],
            client_id=form.cleaned_data["client_id"],
            secret=form.cleaned_data["secret"],
            mandatory=form.cleaned_data["mandatory"],
            require_idp_mfa=form.cleaned_data["require_idp_mfa"],
        )
        try:
            flows.configure(client, data, by=actor_for(request, admin))
        except ValidationError as exc:
            add_errors(form, exc)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("The SSO settings are saved and the provider answers."))
            return redirect("sso_settings")
    return render(
        request,
        "web/sso.html",
        {
            "form": form,
            "config": config,
            "client": client,
            "redirect_uri": flows.redirect_uri(),
            "company_url": flows.company_url(client),
        },
    )
