"""Settings > SSO: a client's OpenID Connect provider, for admins only."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from deskgate.accounts.models import Client, User
from deskgate.http.actors import actor_for
from deskgate.http.forms import Form, add_errors
from deskgate.http.guards import acting_user, admins_only
from deskgate.signin import step_up as step_up_flow
from deskgate.sso import domains, flows, provider
from deskgate.sso.models import ProviderConfig
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


def _initial(config: ProviderConfig | None) -> dict[str, Any]:
    if config is None:
        return {}
    return {
        "issuer": config.issuer,
        "client_id": config.oidc_client_id,
        "mandatory": config.mandatory,
        "require_idp_mfa": config.require_idp_mfa,
    }


@admins_only
@step_up("sso_settings", "change the SSO settings", back="sso_settings")
def sso_settings(request: HttpRequest) -> HttpResponse:
    admin = acting_user(request)
    client = admin.client
    config = flows.config_for(client)
    initial = _initial(config)
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
    return _page(request, client, form=form, config=config, domain_form=DomainForm())


class DomainForm(Form):
    domain = forms.CharField(
        label=_("Email domain"),
        max_length=253,
        help_text=_("The part of your users' work email after the @, such as example.com."),
    )


def _page(
    request: HttpRequest,
    client: Client,
    *,
    form: SsoForm,
    config: ProviderConfig | None,
    domain_form: DomainForm,
    status: int = 200,
) -> HttpResponse:
    listed = [
        {
            "domain": d,
            "record_name": domains.record_name(d),
            "record_value": domains.record_value(d),
        }
        for d in domains.domains_of(client)
    ]
    return render(
        request,
        "web/sso.html",
        {
            "form": form,
            "config": config,
            "client": client,
            "redirect_uri": flows.redirect_uri(),
            "company_url": flows.company_url(client),
            "domain_form": domain_form,
            "domains": listed,
        },
        status=status,
    )


def _changes_domains(request: HttpRequest, admin: User, kwargs: dict[str, Any]) -> bool:
    # Adding or removing decides where people's sign-ins go. Verify only completes an
    # add (the DNS record proves it) and may come hours later, when DNS has caught up.
    return request.method == "POST" and request.POST.get("action") != "verify"


@admins_only
@step_up(
    "sso_domains",
    "change the SSO email domains",
    back="sso_settings",
    needed=_changes_domains,
    keeps_draft=False,
)
@require_POST
def sso_domains(request: HttpRequest) -> HttpResponse:
    """Add, verify or remove an email domain (home-realm discovery); back to Settings > SSO."""
    admin = acting_user(request)
    client = admin.client
    by = actor_for(request, admin)
    action = request.POST.get("action", "")
    domain_form = DomainForm(request.POST if action == "add" else None)
    try:
        if action == "add":
            if domain_form.is_valid():
                added = domains.add(client, domain_form.cleaned_data["domain"], by=by)
                messages.success(
                    request,
                    _("%(domain)s is added. Publish the TXT record below, then press Verify.")
                    % {"domain": added.domain},
                )
                return redirect("sso_settings")
        elif action in ("verify", "remove"):
            domain_id = _domain_id(request)
            if action == "verify":
                verified = domains.verify(client, domain_id, by=by)
                messages.success(
                    request,
                    _("%(domain)s is verified: addresses at it now sign in with your SSO.")
                    % {"domain": verified.domain},
                )
            else:
                domains.remove(client, domain_id, by=by)
                messages.success(request, _("The domain is removed."))
            return redirect("sso_settings")
    except ValidationError as exc:
        if action == "add":
            add_errors(domain_form, exc)
        else:
            for message in exc.messages:
                messages.error(request, message)
            return redirect("sso_settings")
    except PermissionDenied as exc:
        messages.error(request, str(exc))
        return redirect("sso_settings")
    config = flows.config_for(client)
    form = SsoForm(initial=_initial(config))
    return _page(request, client, form=form, config=config, domain_form=domain_form, status=400)


def _domain_id(request: HttpRequest) -> int:
    try:
        return int(request.POST.get("domain_id", ""))
    except ValueError:
        return 0
