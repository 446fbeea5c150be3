"""Sign-in as a pipeline of stages: password (or SSO), then code, then new password, done.

The session carries only the opaque token of a `PendingSignIn`; the user at every stage
after the password comes from that server-side row, never from the request.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from enum import StrEnum

from django.contrib.auth import login
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from deskgate.accounts import audit, rules, sessions
from deskgate.accounts.models import AuditAction, User
from deskgate.http.actors import actor_for, client_ip
from deskgate.signin import challenge, devices
from deskgate.signin.models import PendingSignIn, SignInVia
from deskgate.signin.policy import owes_code

SESSION_KEY = "deskgate.pending"
FIRST_SEND_KEY = "deskgate.first-send"
PENDING_LIFETIME = timedelta(minutes=15)
BACKEND = "deskgate.signin.backends.DeskgateBackend"


class Stage(StrEnum):
    CODE = "code"
    NEW_PASSWORD = "new_password"  # noqa: S105  # a stage name, not a secret
    DONE = "done"


STAGE_URLS = {Stage.CODE: "signin:code", Stage.NEW_PASSWORD: "signin:new_password"}


def create_pending(
    user: User, *, via: SignInVia, ip: str | None, idp_did_mfa: bool = False
) -> PendingSignIn:
    now = timezone.now()
    PendingSignIn.objects.filter(user=user, expires_at__lt=now).delete()
    return PendingSignIn.objects.create(
        token=secrets.token_urlsafe(32),
        user=user,
        via=via,
        idp_did_mfa=idp_did_mfa,
        created_at=now,
        expires_at=now + PENDING_LIFETIME,
        ip=ip,
    )


def begin(
    request: HttpRequest,
    user: User,
    *,
    via: SignInVia = SignInVia.PASSWORD,
    idp_did_mfa: bool = False,
) -> PendingSignIn:
    """The first factor passed: remember that server-side, and only a token in the session."""
    pending = create_pending(user, via=via, ip=client_ip(request), idp_did_mfa=idp_did_mfa)
    if request.session.session_key is not None:
        request.session.cycle_key()  # a new key for the new privilege; none yet: new anyway
    request.session[SESSION_KEY] = pending.token
    return pending


def current(request: HttpRequest) -> PendingSignIn | None:
    """The sign-in in progress in this browser, if it has not expired."""
    token = request.session.get(SESSION_KEY)
    if not isinstance(token, str):
        return None
    pending = (
        PendingSignIn.objects.select_related("user", "user__client").filter(token=token).first()
    )
    if pending is None or pending.expires_at <= timezone.now() or not pending.user.is_active:
        abandon(request)
        return None
    return pending


def abandon(request: HttpRequest) -> None:
    token = request.session.pop(SESSION_KEY, None)
    if isinstance(token, str):
        PendingSignIn.objects.filter(token=token).delete()


def next_stage(pending: PendingSignIn) -> Stage:
    user = pending.user
    if not pending.code_passed:
        return Stage.CODE
    if user.must_change_password and pending.via == SignInVia.PASSWORD:
        return Stage.NEW_PASSWORD
    return Stage.DONE


def stage_url(stage: Stage) -> str:
    return reverse(STAGE_URLS[stage]) if stage in STAGE_URLS else reverse("home")


def claim(pending: PendingSignIn) -> bool:
    """Claim a passed attempt by deleting it: of parallel requests, exactly one gets True."""
    claimed, _ = PendingSignIn.objects.filter(pk=pending.pk).delete()
    return bool(claimed)


def finish(
    request: HttpRequest, user: User, *, via: SignInVia, pending: PendingSignIn | None = None
) -> bool:
    """Every stage passed: open the session (a new key) and record it.

    The pending sign-in is claimed by deleting it: of parallel requests carrying the same
    passed attempt, exactly one deletes the row and gets a session.
    """
    if pending is not None and not claim(pending):
        request.session.pop(SESSION_KEY, None)
        return False
    abandon(request)
    login(request, user, backend=BACKEND)  # rotates the session key
    sessions.open(request, user, ip=client_ip(request))
    audit.record(
        AuditAction.SIGNIN_SUCCESS,
        client=user.client,
        by=actor_for(request, user),
        subject=user,
        summary=f"{user.label} signed in ({via})",
        method=via,
    )
    return True


def advance(request: HttpRequest, pending: PendingSignIn) -> str:
    """Move the sign-in on by one stage; answer the URL to go to."""
    user = pending.user
    if not pending.code_passed and pending.codes_sent == 0:
        via_sso = pending.via == SignInVia.SSO
        owed = owes_code(
            user,
            via_sso=via_sso,
            sso_requires_idp_mfa=via_sso and rules.sso_requires_idp_mfa(user.client),
            idp_did_mfa=pending.idp_did_mfa,
            remembered_device=not via_sso and devices.is_remembered(request, user),
        )
        if not owed:
            pending.code_passed = True  # nothing owed: the code step is passed
            pending.save(update_fields=["code_passed"])
    stage = next_stage(pending)
    if stage == Stage.CODE and pending.codes_sent == 0:
        answer = challenge.issue(pending.pk, by=actor_for(request, user))
        if answer.reason != challenge.Issue.SENT:  # a sent code is said by the page itself
            request.session[FIRST_SEND_KEY] = answer.as_dict()
    if stage == Stage.DONE:
        if not finish(request, pending.user, via=SignInVia(pending.via), pending=pending):
            return reverse("signin:password")
        return reverse("home")
    return stage_url(stage)
