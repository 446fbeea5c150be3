"""The invitation page (issue 16): the person opens the emailed link, chooses their password,
and goes on into an ordinary sign-in, whose code step proves their MFA destination.

A thin view over `actions.invitations` and the pipeline. The token moves from the URL into
the session at once (no token in the address bar, a Referer or a later log line).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache

from deskgate.accounts import passwords
from deskgate.accounts.actions import invitations
from deskgate.http.actors import actor_for, client_ip
from deskgate.signin import caps, pipeline
from deskgate.signin.app_settings import app_settings
from deskgate.signin.forms import NewPasswordForm

SESSION_KEY = "deskgate.invitation"


def _gone(request: HttpRequest, state: invitations.LinkState) -> HttpResponse:
    request.session.pop(SESSION_KEY, None)
    return render(request, "signin/invitation_invalid.html", {"state": state.value}, status=410)


@never_cache
def invitation(request: HttpRequest) -> HttpResponse:
    """Open the link (GET with the token), choose a password (POST), then sign in."""
    token = request.GET.get(invitations.TOKEN_PARAM)
    if token is not None:
        # Each opened link costs its address one of the hour's budget, as a reset request
        # does: tokens cannot be tried in bulk from one place.
        ip = client_ip(request)
        if ip and not caps.take(
            f"invitation-ip:{ip}", timezone.now(), app_settings.RESET.per_ip_hour
        ):
            return render(
                request, "signin/invitation_invalid.html", {"state": "paused"}, status=429
            )
        request.session[SESSION_KEY] = token[: invitations.TOKEN_MAX]
        return redirect("signin:invitation")
    stored = request.session.get(SESSION_KEY)
    found, state = invitations.look_up(stored if isinstance(stored, str) else None)
    if found is None:
        return _gone(request, state)
    user = found.user
    form = NewPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        by = actor_for(request, user)
        try:
            spent = invitations.accept_invitation(found, form.cleaned_data["new_password"], by=by)
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error("new_password", message)
        else:
            if not spent:  # a parallel request spent it first, or it was revoked meanwhile
                _found, state = invitations.look_up(stored if isinstance(stored, str) else None)
                return _gone(request, state)
            request.session.pop(SESSION_KEY, None)
            # The new password and the link (to the Email) passed the password stage; the
            # code step proves the MFA destination before any session.
            pending = pipeline.begin(request, found.user)
            return redirect(pipeline.advance(request, pending))
    return render(
        request,
        "signin/invitation.html",
        {"form": form, "invited": user, "policy": passwords.policy_for(user)},
    )
