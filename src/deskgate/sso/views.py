"""SSO sign-in pages: find the company (by work email, name or user name), go to its
provider, come back signed in."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache

from deskgate.accounts import alerts, audit
from deskgate.accounts.models import AuditAction, Client
from deskgate.http.actors import actor_for
from deskgate.http.forms import Form
from deskgate.http.middleware import CSP_FORM_TO_PROVIDER
from deskgate.signin import pipeline
from deskgate.signin.models import SignInVia
from deskgate.sso import discovery, flows, provider

# One answer for every input that leads nowhere (unknown domain, company or user name):
# it tells nobody which domains, companies or users exist.
NO_SSO = _(
    "No SSO is set up for that company name. Check the name, or sign in with your user "
    "name and password."
)


class CompanyForm(Form):
    # The field keeps its name "company": links and bookmarks post it.
    company = forms.CharField(
        label=_("Work email or company name"),
        max_length=254,
        help_text=_("Your work email address, your company's name, or your user name."),
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )


def _go(request: HttpRequest, client: Client) -> HttpResponse:
    try:
        url = flows.start(request.session, client)
    except provider.ProviderError:
        # What went wrong is for the admin (Settings > SSO, Test connection), not for
        # anonymous visitors: it would describe the provider's answers to anyone.
        messages.error(request, provider.UNAVAILABLE)
        return redirect("signin:password")
    response = redirect(url)
    response.headers["Content-Security-Policy"] = CSP_FORM_TO_PROVIDER
    return response


@never_cache
def choose_company(request: HttpRequest) -> HttpResponse:
    form = CompanyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        client = discovery.client_for(form.cleaned_data["company"])
        if client is not None:
            return _go(request, client)
        form.add_error("company", NO_SSO)
    response = render(request, "sso/choose.html", {"form": form})
    response.headers["Content-Security-Policy"] = CSP_FORM_TO_PROVIDER
    return response


@never_cache
def company_start(request: HttpRequest, slug: str) -> HttpResponse:
    """The per-company SSO address: /signin/sso/<company>/."""
    client = Client.objects.filter(slug=slug).first()
    if client is None or flows.config_for(client) is None:
        messages.error(request, NO_SSO)
        return redirect("sso:choose")
    return _go(request, client)


@never_cache
def callback(request: HttpRequest) -> HttpResponse:
    try:
        outcome = flows.finish(
            request.session,
            state=request.GET.get("state", ""),
            code=request.GET.get("code", ""),
            error=request.GET.get("error", "")[:100],
        )
    except flows.Refused as exc:
        if exc.client is not None:
            audit.record(
                AuditAction.SIGNIN_SSO_REFUSED,
                client=exc.client,
                by=actor_for(request),
                subject=exc.user,
                summary=f"SSO sign-in refused: {exc.reason}",
                reason=exc.reason,
            )
            alerts.sso_refused(exc.client)
        messages.error(request, str(exc))
        return redirect("signin:password")
    pending = pipeline.begin(
        request, outcome.user, via=SignInVia.SSO, idp_did_mfa=outcome.idp_did_mfa
    )
    return redirect(pipeline.advance(request, pending))
