"""A user's own sessions and remembered devices: end one, end all the others, forget one.

An admin's "Sign out everywhere" is `users.sign_out_everywhere`; `forget_ended_sessions` is
the operator's daily clean-up. Each action here is
idempotent: a session already ended or a device already forgotten answers None or False
and records nothing, so a double click or two tabs at once end it once.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from deskgate.accounts import audit, hooks, sessions
from deskgate.accounts.audit import Actor
from deskgate.accounts.models import AuditAction, User, UserSession


def _require_self(user: User, by: Actor) -> None:
    # These are the user's own page's actions; admins have Sign out everywhere.
    if by.user is None or by.user.pk != user.pk:
        raise PermissionDenied("Only the user ends their sessions from their account page.")


def end_own_session(user: User, session_handle: str, *, by: Actor) -> UserSession | None:
    """The user ends one of their signed-in sessions (`sessions.handle` names it); answer
    its record, or None when it had already ended. Recorded on the trail."""
    _require_self(user, by)
    ended = sessions.end_one(user, session_handle)
    if ended is not None:
        audit.record(
            AuditAction.SESSIONS_ENDED,
            client=user.client,
            by=by,
            subject=user,
            summary=(
                f"{user.label} ended one of their sessions "
                f"(signed in {ended.created_at:%Y-%m-%d %H:%M} UTC)"
            ),
            sessions=1,
            session_ip=ended.ip,
        )
    return ended


def end_other_sessions(user: User, *, keep_key: str, by: Actor) -> int:
    """The user ends every session of theirs but this browser's (`keep_key`); answer how
    many were signed in. Recorded on the trail when there were any."""
    _require_self(user, by)
    ended = sessions.end_others(user, keep_key)
    if ended:
        audit.record(
            AuditAction.SESSIONS_ENDED,
            client=user.client,
            by=by,
            subject=user,
            summary=f"{user.label} ended their {ended} other session{'s' if ended != 1 else ''}",
            sessions=ended,
            others=True,
        )
    return ended


def forget_own_device(user: User, device_id: int, *, by: Actor) -> bool:
    """The user forgets one of their remembered devices: its next sign-in asks for a code.
    Answer False when it was not theirs or is gone already. Recorded on the trail."""
    _require_self(user, by)
    return hooks.sign_in().forget_device(user, device_id, by=by)


def forget_ended_sessions(*, by: Actor) -> int:
    """The operator's daily run (`deskgate purge-audit`): remove the records of sessions
    past the absolute limit, which ended without their browser coming back to be told.
    Their address and browser are personal data, kept only while a session lives."""
    if by.user is not None or by.client_id is not None:
        raise PermissionDenied("Only the operator removes the records of ended sessions.")
    return sessions.forget_over()
