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
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from deskgate.accounts import contact, rules
from deskgate.accounts.models import Level, User
from deskgate.http.actors import actor_for
from deskgate.http.forms import Form, add_errors
from deskgate.signin import enrolment, factors, pipeline
from deskgate.signin.credentials import PasswordOutcome, sign_in_with_password
from deskgate.signin.forms import AppCodeField
from deskgate.signin.models import PendingSignIn

LINK_SESSION_KEY = "deskgate.enrolment-link"
NOT_RIGHT = (
    "That password is not right. After many failed tries, sign-in pauses for a while; your "
    "admin can unlock it."
)


class ConfirmAppForm(Form):
    code = AppCodeField(label="Code from your authenticator app", autofocus=True)


class LinkPasswordForm(Form):
    password = forms.CharField(
        label="Password",
        max_length=4096,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )


def _why(pending: PendingSignIn) -> str:
    user = pending.user
    if pending.via_link:
        return "Set up an authenticator app to finish: from then on, sign-in asks for its code."
    level = Level(user.level).label.lower()
    return (
        f"{user.client.name} requires {level}s to sign in with an authenticator app or a "
        "passkey. Set one up now to continue."
    )


@never_cache
def enrol_step(request: HttpRequest) -> HttpResponse:
    pending = pipeline.current(request)
    if pending is None:
        messages.info(request, "Your sign-in expired or was not started. Sign in again.")
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
                f"We sent a set-up link to {sent.destination}. It works once, for "
                f"{sent.hours} hours. Open it, give your password, and set up the app.",
            )
        return redirect("signin:enrol")
    if not pipeline.proved(pending):
        # The password alone: no set-up here. The link to the Email is the way in.
        return render(
            request,
            "signin/enrol_blocked.html",
            {"pending_user": user, "why": _why(pending), "email": _masked_email(user)},
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
            return render(request, "signin/enrol_done.html", {"codes": codes})
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
        },
    )


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
