"""Sign-in pages: thin views over the pipeline (`deskgate.signin.pipeline`)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import password_validation
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from deskgate.accounts import actions, audit, passwords, rules, sessions
from deskgate.accounts.models import AuditAction, User
from deskgate.http.actors import actor_for
from deskgate.http.guards import acting_user
from deskgate.signin import pipeline, reset
from deskgate.signin.credentials import (
    PasswordOutcome,
    check_credentials,
    sign_in_with_password,
    sso_only_company,
)
from deskgate.signin.forms import (
    ChangePasswordForm,
    NewPasswordForm,
    PasswordForm,
    ResetRequestForm,
)
from deskgate.signin.models import PendingSignIn, SignInVia

# One answer for every refusal (unknown user, wrong password, inactive, SSO-only, locked,
# the address's budget spent), so it must also make sense to someone who types the right
# password while the step is paused.
WRONG_CREDENTIALS = (
    "The user name or password is not right. After many failed tries, sign-in pauses for "
    "a while; your admin can unlock it."
)


@never_cache
def password_step(request: HttpRequest) -> HttpResponse:
    """The first step. A signed-in user sees it only when an app asked that they sign in
    again (prompt=login, max_age); then only their own user name is accepted."""
    again = request.user.is_authenticated and pipeline.asked_again(request)
    if request.user.is_authenticated and not again:
        return redirect("home")
    me = acting_user(request) if again else None
    initial = {"username": me.username} if me is not None else None
    form = PasswordForm(request.POST or None, initial=initial)
    if request.method == "POST" and me is None and not request.POST.get("password"):
        # A user name and no password: whose company signs in only through SSO goes to
        # its provider (identifier first, as Okta's routing does) instead of being asked
        # for a password they do not have here. Through a page that moves on by itself:
        # browsers apply this page's form-action 'self' to every redirect of the form's
        # answer, and the provider is elsewhere.
        slug = sso_only_company(request.POST.get("username", ""))
        if slug is not None:
            url = reverse("sso:company", kwargs={"slug": slug})
            return render(request, "signin/sso_continue.html", {"url": url})
    if request.method == "POST" and form.is_valid():
        # A right password begins the sign-in in the check's own transaction (one commit);
        # its first code is sent after that commit, by `onward()`.
        passed = pipeline.PasswordPassed(request)
        sign_in_with_password(
            form.cleaned_data["username"],
            form.cleaned_data["password"],
            by=actor_for(request, me),
            only=me,  # signing in again: only their own name
            then=passed,
        )
        onward = passed.onward()
        if onward is not None:
            return redirect(onward)
        form.add_error(None, WRONG_CREDENTIALS)
    # Anonymous: the company is not known yet, so the link shows and its page says who to
    # ask. Signing in again: the user's company is known, and without self-service reset
    # there is nothing behind the link.
    offer_reset = me is None or me.client.password_reset_enabled
    return render(
        request,
        "signin/password.html",
        {"form": form, "again": me is not None, "offer_reset": offer_reset},
    )


def _pending_or_restart(request: HttpRequest) -> PendingSignIn | None:
    pending = pipeline.current(request)
    if pending is None:
        messages.info(request, _("Your sign-in expired or was not started. Sign in again."))
    return pending


@never_cache
def new_password_step(request: HttpRequest) -> HttpResponse:
    """A temporary password must be replaced before the first session."""
    pending = _pending_or_restart(request)
    if pending is None or pipeline.next_stage(pending) != pipeline.Stage.NEW_PASSWORD:
        return redirect("signin:password")
    user = pending.user
    form = NewPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and _password_acceptable(user, form):
        # Claim the sign-in before the change (which voids pending sign-ins): of parallel
        # requests, one goes on. The code step (if owed) came before this one.
        facts = pipeline.facts_for(request, pending)
        if pipeline.claim(pending) and _set_password(request, user, form):
            pipeline.finish(request, user, via=SignInVia(pending.via), facts=facts)
            return redirect(pipeline.landing(request))
        return redirect("signin:password")
    return render(request, "signin/new_password.html", {"form": form, "pending_user": user})


def _password_acceptable(user: User, form: NewPasswordForm) -> bool:
    try:
        password_validation.validate_password(form.cleaned_data["new_password"], user)
    except ValidationError as exc:
        for message in exc.messages:
            form.add_error("new_password", message)
        return False
    return True


def _set_password(request: HttpRequest, user: User, form: NewPasswordForm) -> bool:
    """Save the form's new password through the action; its refusals go on the field."""
    try:
        actions.set_password(user, form.cleaned_data["new_password"], by=actor_for(request, user))
    except ValidationError as exc:
        for message in exc.messages:
            form.add_error("new_password", message)
        return False
    return True


@require_POST
def cancel(request: HttpRequest) -> HttpResponse:
    pipeline.abandon(request)
    return redirect("signin:password")


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        user = acting_user(request)
        audit.record(
            AuditAction.SIGNIN_SIGNED_OUT,
            client=user.client,
            by=actor_for(request, user),
            subject=user,
            summary=f"{user.label} signed out",
        )
    sessions.end(request)
    messages.info(request, _("You are signed out."))
    return redirect("signin:password")


@login_required
def change_password(request: HttpRequest) -> HttpResponse:
    user = acting_user(request)
    if rules.sso_mandatory(user.client):
        return render(request, "signin/change_password.html", {"sso": True})
    form = ChangePasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        # The same counter as the sign-in page: a stolen session cannot guess the password.
        _checked, outcome = check_credentials(
            user.username, form.cleaned_data["current_password"], by=actor_for(request)
        )
        if outcome != PasswordOutcome.OK:
            form.add_error("current_password", _("That is not your current password."))
        elif _set_password(request, user, form):
            sessions.rekey(request, user)  # this session stays signed in, under a new key
            messages.success(request, _("Your password is changed."))
            return redirect("account")
    return render(
        request,
        "signin/change_password.html",
        {"form": form, "policy": passwords.policy_for(user)},
    )


@never_cache
def reset_request(request: HttpRequest) -> HttpResponse:
    form = ResetRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        reset.request_reset(form.cleaned_data["email"], by=actor_for(request))
        # The same answer whether or not an account has this address.
        return render(request, "signin/reset_sent.html", {})
    return render(request, "signin/reset_request.html", {"form": form})


@never_cache
def reset_confirm(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    user = reset.user_for_link(uidb64, token)
    if user is None:
        return render(request, "signin/reset_invalid.html", {}, status=400)
    form = NewPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and _reset_password(request, user, form):
        # A reset never signs in: the user signs in, code step included.
        messages.success(request, _("Your password is changed. Sign in with it now."))
        return redirect(reverse("signin:password"))
    return render(request, "signin/reset_confirm.html", {"form": form, "reset_user": user})


def _reset_password(request: HttpRequest, user: User, form: NewPasswordForm) -> bool:
    """Complete the reset through the flow; the password rules' refusals go on the field."""
    try:
        reset.complete_reset(user, form.cleaned_data["new_password"], by=actor_for(request, user))
    except ValidationError as exc:
        for message in exc.messages:
            form.add_error("new_password", message)
        return False
    return True
