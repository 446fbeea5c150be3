"""Step-up for sensitive admin changes (issue 14): is this session's check recent enough?

A sensitive change (someone's MFA method or contact fields, bulk MFA changes, API tokens,
SSO settings, resetting someone's authenticator app, the client settings) needs a factor
checked by this session within the client's `step_up_minutes`. Who can be asked for a
second factor (`pipeline.can_step_up`) needs a second factor that recent; who cannot (a
client before 25.x, R1, or MFA Off and no app) needs their password that recent instead.

What the admin had typed when asked is kept in the (server-side) session until they come
back to the page, never in a URL; passwords and secrets are not kept at all.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.http import HttpRequest, QueryDict
from django.utils import timezone

from deskgate.accounts import audit, sessions
from deskgate.accounts.models import AuditAction, User
from deskgate.http.actors import actor_for
from deskgate.signin import pipeline

# The step-up asked in this session: {"then": path to come back to, "purpose": key}.
ASKED_KEY = "deskgate.step-up.asked"
# The form data of the refused POST: {"path": where it is shown again, "data": {...}}.
DRAFT_KEY = "deskgate.step-up.draft"
# Never kept: a password or a secret is typed again, the CSRF token is the new page's.
NOT_KEPT = ("password", "secret", "csrfmiddlewaretoken")
DRAFT_MAX_CHARS = 20_000


def window(user: User) -> timedelta:
    """How long a checked factor counts for sensitive changes: the client's setting."""
    return timedelta(minutes=user.client.step_up_minutes)


def asks_code(user: User) -> bool:
    """Whether the step-up asks a second factor (else the password again)."""
    return pipeline.can_step_up(user)


def checked_recently(request: HttpRequest, user: User) -> bool:
    """Whether this session checked what the step-up would ask within `window(user)`:
    a second factor for those who have one, else the password (any sign-in step)."""
    if asks_code(user):
        return pipeline.second_factor_recent(request, window(user))
    record = sessions.current(request)
    return record is not None and record.auth_time >= timezone.now() - window(user)


def ask(request: HttpRequest, *, then: str, purpose: str) -> None:
    """Remember where to come back to and what for, until `passed` (or a new ask)."""
    request.session[ASKED_KEY] = {"then": then, "purpose": purpose}


def asked(request: HttpRequest) -> tuple[str, str] | None:
    """(then, purpose) of the step-up this session asked for, forgetting it."""
    value = request.session.pop(ASKED_KEY, None)
    if not isinstance(value, dict):
        return None
    then, purpose = value.get("then"), value.get("purpose")
    if not isinstance(then, str) or not isinstance(purpose, str):
        return None
    return then, purpose


def passed(request: HttpRequest, user: User, *, purpose: str, doing: str, then: str) -> None:
    """The step-up is done: audit it, once, with what it was for; the form data kept for
    `then` may now be shown there (not before: "Back without changing anything" shows the
    saved values)."""
    draft = request.session.get(DRAFT_KEY)
    if isinstance(draft, dict) and draft.get("path") == then:
        request.session[DRAFT_KEY] = {**draft, "ready": True}
    factor = "a second factor" if asks_code(user) else "the password"
    audit.record(
        AuditAction.STEP_UP_PASSED,
        client=user.client,
        by=actor_for(request, user),
        subject=user,
        summary=f"{user.label} checked {factor} again to {doing}",
        purpose=purpose,
        factor="second_factor" if asks_code(user) else "password",
    )


def keep_draft(request: HttpRequest, path: str) -> None:
    """Keep the refused POST's fields (not passwords, secrets or the CSRF token) for `path`,
    replacing any kept before."""
    data = {
        name: values
        for name, values in request.POST.lists()
        if not any(word in name.lower() for word in NOT_KEPT)
    }
    if sum(len(v) for values in data.values() for v in values) > DRAFT_MAX_CHARS:
        request.session.pop(DRAFT_KEY, None)  # not what a person types into these forms
        return
    request.session[DRAFT_KEY] = {"path": path, "data": data}


def take_draft(request: HttpRequest) -> QueryDict | None:
    """The kept fields for this page, once: a GET of the page the POST was refused on,
    after the step-up passed."""
    if request.method != "GET":
        return None
    draft: Any = request.session.get(DRAFT_KEY)
    if not isinstance(draft, dict) or draft.get("path") != request.path:
        return None
    if not draft.get("ready"):
        return None
    del request.session[DRAFT_KEY]
    kept = QueryDict(mutable=True)
    data = draft.get("data")
    if isinstance(data, dict):
        for name, values in data.items():
            if isinstance(name, str) and isinstance(values, list):
                kept.setlist(name, [str(v) for v in values])
    return kept


def as_initial(draft: QueryDict) -> dict[str, Any]:
    """A draft as a form's initial values (one value, or a list for multiple choices)."""
    return {name: values[0] if len(values) == 1 else values for name, values in draft.lists()}
