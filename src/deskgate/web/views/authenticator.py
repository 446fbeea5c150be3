"""The user's own authenticator app and recovery codes (issue 14, first slice).

Setting up, removing and renewing need a second factor checked by this session within
`pipeline.PROOF_WINDOW` (15 minutes), never the password alone; otherwise the page offers
to check it again (the pipeline's step-up, as an app asking for two factors does) and
comes back. Recovery codes are rendered into the response that made them, once: never
into the session, a message or a URL; every page here is `never_cache` (no-store).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from deskgate.accounts.models import User
from deskgate.http.actors import actor_for
from deskgate.http.forms import Form, add_errors
from deskgate.http.guards import acting_user
from deskgate.signin import factors, pipeline
from deskgate.signin.forms import AppCodeField

# Where the step-up comes back to: a fixed set, never a URL from the request.
COME_BACK = {"setup": "authenticator_setup", "account": "account", "passkey": "passkey_add"}


class ConfirmAppForm(Form):
    code = AppCodeField(label=_("Code from your authenticator app"), autofocus=True)


def _prove_first(request: HttpRequest, user: User, *, then: str, doing: str) -> HttpResponse:
    return prove_first(
        request, user, then=then, doing=doing, refusal=factors.may_enrol(user), title=TITLE
    )


TITLE = "Authenticator app"


def prove_first(
    request: HttpRequest,
    user: User,
    *,
    then: str,
    doing: str,
    refusal: str | None,
    title: str,
) -> HttpResponse:
    """The page that says why (`refusal`), or offers to check a second factor again and
    come back to `then` (a key of COME_BACK). Shared by the app's and the passkeys' pages."""
    return render(
        request,
        "web/authenticator_prove.html",
        {
            "refusal": refusal,
            "title": title,
            "then": then,
            "doing": doing,
            "minutes": int(pipeline.PROOF_WINDOW.total_seconds() // 60),
            "has_app": factors.has_app(user),
        },
    )


def recovery_codes_page(
    request: HttpRequest, codes: list[str], *, first: bool, factor: str = "app"
) -> HttpResponse:
    """The recovery codes, shown once in the response that made them."""
    return render(
        request, "web/recovery_codes.html", {"codes": codes, "first": first, "factor": factor}
    )


@login_required
@never_cache
def setup(request: HttpRequest) -> HttpResponse:
    user = acting_user(request)
    if factors.has_app(user):
        messages.info(request, _("Your authenticator app is set up already."))
        return redirect("account")
    if factors.may_enrol(user) is not None or not pipeline.second_factor_recent(request):
        return _prove_first(request, user, then="setup", doing="set up an authenticator app")
    form = ConfirmAppForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = factors.confirm_enrolment(
                user, form.cleaned_data["code"], by=actor_for(request, user)
            )
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            return recovery_codes_page(request, codes, first=True)
    enrolment = factors.enrolment_in_progress(user) if request.method == "POST" else None
    if enrolment is None:
        enrolment = factors.start_enrolment(user)
    return render(request, "web/authenticator_setup.html", {"form": form, "enrolment": enrolment})


@login_required
@require_POST
def prove(request: HttpRequest) -> HttpResponse:
    """Check a second factor again in this session (the step-up), then come back."""
    user = acting_user(request)
    then = COME_BACK.get(request.POST.get("then", ""), "account")
    if not user.client.supports_mfa or not pipeline.can_step_up(user):
        return _prove_first(request, user, then="account", doing="change your sign-in factors")
    pending = pipeline.begin_step_up(request, user)
    pipeline.return_after(request, reverse(then))
    return redirect(pipeline.advance(request, pending))


@login_required
@require_POST
@never_cache
def remove(request: HttpRequest) -> HttpResponse:
    user = acting_user(request)
    if not pipeline.second_factor_recent(request):
        return _prove_first(request, user, then="account", doing="remove your authenticator app")
    try:
        removed = factors.remove_app(user, by=actor_for(request, user))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("account")
    if removed:
        messages.success(request, _("Your authenticator app is removed; its recovery codes too."))
    else:
        messages.info(request, _("You have no authenticator app."))
    return redirect("account")


@login_required
@require_POST
@never_cache
def new_recovery_codes(request: HttpRequest) -> HttpResponse:
    user = acting_user(request)
    if not pipeline.second_factor_recent(request):
        return _prove_first(request, user, then="account", doing="make new recovery codes")
    try:
        codes = factors.regenerate_recovery_codes(user, by=actor_for(request, user))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("account")
    return recovery_codes_page(request, codes, first=False)
