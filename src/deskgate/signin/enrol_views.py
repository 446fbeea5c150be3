"""The enrolment step of sign-in and the enrolment link's page (issue 14): thin views over
the pipeline (`Stage.ENROL`), `factors` and `enrolment`.

The enrolment step belongs to a sign-in in progress: there is no session yet, so nothing
else (pages, the API, SCIM) can be reached until a strong factor is set up. It sets one up
only once the attempt proved something besides the password (`pipeline.proved`);
otherwise it offers the single-use set-up link to the user's Email.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from deskgate.accounts import contact, rules
from deskgate.accounts.models import Level, User
from deskgate.http.actors import actor_for
from deskgate.http.forms import Form, add_errors
from deskgate.signin import enrolment, factors, passkeys, pipeline
from deskgate.signin.credentials import PasswordOutcome, sign_in_with_password
from deskgate.signin.forms import AppCodeField
from deskgate.signin.models import PendingSignIn
from deskgate.signin.passkey_views import REGISTER_KEY, options_response

LINK_SESSION_KEY = "deskgate.enrolment-link"
NOT_RIGHT = (
    "That password is not right. After many failed tries, sign-in pauses for a while; your "
    "admin can unlock it."
)


class ConfirmAppForm(Form):
    code = AppCodeField(label=_("Code from your authenticator app"), autofocus=True)


class LinkPasswordForm(Form):
    password = forms.CharField(
        label=_("Password"),
        max_length=4096,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )


def _why(pending: PendingSignIn) -> str:
    user = pending.user
    if pending.via_link:
        return (
            "Set up an authenticator app or a passkey to finish: from then on, sign-in asks for it."
        )
    level = Level(user.level).label.lower()
    return (
        f"{user.client.name} requires {level}s to sign in with an authenticator app or a "
        "passkey. Set one up now to continue."
    )


@never_cache
def enrol_step(request: HttpRequest) -> HttpResponse:
    pending = pipeline.current(request)
    if pending is None:
        messages.info(request, _("Your sign-in expired or was not started. Sign in again."))
        return redirect("signin:password")
    if pipeline.next_stage(pending) != pipeline.Stage.ENROL:
        return redirect(pipeline.advance(request, pending))
    user = pending.user
    action = request.POST.get("action") if request.method == "POST" else None
    if action == "send_link":
        try:
            sent = enrolment.send_link(user, by=actor_for(request, user))
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
        else:
            messages.success(
                request,
                ngettext(
                    "We sent a set-up link to %(destination)s. It works once, for %(hours)d "
                    "hour. Open it, give your password, and set up the app.",
                    "We sent a set-up link to %(destination)s. It works once, for %(hours)d "
                    "hours. Open it, give your password, and set up the app.",
                    sent.hours,
                )
                % {"destination": sent.destination, "hours": sent.hours},
            )
        return redirect("signin:enrol")
    if not pipeline.proved(pending):
        # The password alone: no set-up here. The link to the Email is the way in.
        return render(
            request,
            "signin/enrol_blocked.html",
            {"pending_user": user, "why": _why(pending), "email": _masked_email(user)},
        )
    key_error, key_name = "", passkeys.default_name(user)
    if action == "passkey":
        key_name = request.POST.get("name", "")
        try:
            added = passkeys.register(
                user,
                request.POST.get("credential", ""),
                token=request.session.pop(REGISTER_KEY, None),
                name=key_name,
                by=actor_for(request, user),
                proven=True,
            )
        except (ValidationError, PermissionDenied) as exc:
            key_error = " ".join(getattr(exc, "messages", [str(exc)]))
        else:
            if not added.recovery_codes:  # codes kept from before: nothing to show
                return redirect(pipeline.advance(request, pending))
            return render(
                request,
                "signin/enrol_done.html",
                {"codes": added.recovery_codes, "factor": "passkey"},
            )
    form = ConfirmAppForm(request.POST if action == "confirm" else None)
    if action == "confirm" and form.is_valid():
        try:
            codes = factors.confirm_enrolment(
                user, form.cleaned_data["code"], by=actor_for(request, user)
            )
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            return render(request, "signin/enrol_done.html", {"codes": codes, "factor": "app"})
    enrolment_now = factors.enrolment_in_progress(user) if action == "confirm" else None
    if enrolment_now is None:
        enrolment_now = factors.start_enrolment(user)
    return render(
        request,
        "signin/enrol.html",
        {
            "form": form,
            "enrolment": enrolment_now,
            "pending_user": user,
            "why": _why(pending),
            "may_send_link": bool(user.email) and not pending.via_link,
            "passkey_refusal": passkeys.may_register(user, proven=True),
            "key_error": key_error,
            "key_name": key_name,
            "key_uv_required": passkeys.requires_uv(user),
            "key_name_max": passkeys.NAME_MAX,
        },
    )


@require_POST
@never_cache
def enrol_passkey_options(request: HttpRequest) -> HttpResponse:
    """The options for navigator.credentials.create() at the enrolment step: only for an
    attempt at that step that proved something besides the password."""
    pending = pipeline.current(request)
    if (
        pending is None
        or pipeline.next_stage(pending) != pipeline.Stage.ENROL
        or not pipeline.proved(pending)
    ):
        return JsonResponse({"error": "Your sign-in expired. Sign in again."}, status=409)
    refusal = passkeys.may_register(pending.user, proven=True)
    if refusal is not None:
        return JsonResponse({"error": refusal}, status=403)
    token, body = passkeys.registration_options(pending.user)
    request.session[REGISTER_KEY] = token
    return options_response(body)


def _masked_email(user: User) -> str:
    return contact.mask_email(user.email) if user.email else ""


@never_cache
def enrolment_link(request: HttpRequest) -> HttpResponse:
    """The page the emailed link opens: the token moves from the URL into the session at
    once (no token in the address bar, a Referer or a later log line); the password then
    spends the link and begins a sign-in that sets up the app."""
    token = request.GET.get(enrolment.TOKEN_PARAM)
    if token is not None:
        request.session[LINK_SESSION_KEY] = token[:200]
        return redirect("signin:enrolment_link")
    stored = request.session.get(LINK_SESSION_KEY)
    link = enrolment.live_link(stored) if isinstance(stored, str) else None
    if link is None:
        request.session.pop(LINK_SESSION_KEY, None)
        return render(request, "signin/enrolment_link_invalid.html", {})
    user = link.user
    if rules.sso_mandatory(user.client):
        return render(request, "signin/enrolment_link.html", {"link_user": user, "sso": True})
    form = LinkPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        by = actor_for(request, user)
        checked, outcome = sign_in_with_password(
            user.username, form.cleaned_data["password"], by=by
        )
        if checked is None or checked.pk != user.pk or outcome != PasswordOutcome.OK:
            form.add_error("password", NOT_RIGHT)
        elif not enrolment.use_link(link, by=by):
            request.session.pop(LINK_SESSION_KEY, None)
            return render(request, "signin/enrolment_link_invalid.html", {})
        else:
            request.session.pop(LINK_SESSION_KEY, None)
            pending = pipeline.begin(request, user, via_link=True)
            return redirect(pipeline.advance(request, pending))
    return render(request, "signin/enrolment_link.html", {"form": form, "link_user": user})
