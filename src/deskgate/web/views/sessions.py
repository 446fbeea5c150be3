"""Signed-in sessions and remembered devices: the user's own (Your account > Your sessions)
and an admin's Sign out everywhere on the user page. Thin views over the actions.

A session is named on the page by `sessions.handle`, never by its key. Addresses are
shown to the person themself and to their admins, who see them in the audit trail too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_POST

from deskgate.accounts import access, actions, places, sessions
from deskgate.accounts.models import User, UserSession
from deskgate.http.actors import actor_for
from deskgate.http.guards import acting_user, admin_pages, forbidden
from deskgate.signin import devices, useragent
from deskgate.signin.models import RememberedDevice


@dataclass(frozen=True)
class SessionRow:
    handle: str
    device: str
    place: str
    ip: str
    first_seen: datetime
    last_seen: datetime
    current: bool


@dataclass(frozen=True)
class DeviceRow:
    id: int
    device: str
    place: str
    ip: str
    since: datetime
    last_used: datetime | None
    until: datetime


def session_rows(user: User, *, current_key: str | None = None) -> list[SessionRow]:
    """The user's signed-in sessions as a page shows them; `current_key` marks this one."""
    return [_session_row(r, current_key) for r in sessions.live(user)]


def _session_row(record: UserSession, current_key: str | None) -> SessionRow:
    return SessionRow(
        handle=sessions.handle(record),
        device=useragent.device_name(record.user_agent),
        place=places.place_of(record.ip),
        ip=record.ip or "",
        first_seen=record.created_at,
        last_seen=record.last_seen_at,
        current=current_key is not None and record.session_key == current_key,
    )


def device_rows(user: User) -> list[DeviceRow]:
    """The user's remembered devices as a page shows them."""
    return [_device_row(d) for d in devices.active_for(user)]


def _device_row(device: RememberedDevice) -> DeviceRow:
    return DeviceRow(
        id=device.pk,
        device=device.name,
        place=places.place_of(device.ip),
        ip=device.ip or "",
        since=device.created_at,
        last_used=device.last_used_at,
        until=device.expires_at,
    )


@login_required
@require_POST
def end_session(request: HttpRequest) -> HttpResponse:
    """End one of the user's own sessions (this one is ended by Sign out)."""
    user = acting_user(request)
    handle = request.POST.get("session", "")[:64]
    ended = actions.end_own_session(user, handle, by=actor_for(request, user))
    if ended is None:
        messages.info(request, gettext("That session had already ended."))
    elif ended.session_key == request.session.session_key:
        sessions.end(request)  # they ended this one: this browser is signed out
        return redirect("signin:password")
    else:
        messages.success(
            request,
            gettext("The session on %(device)s is ended: it is signed out.")
            % {"device": useragent.device_name(ended.user_agent)},
        )
    return redirect("account")


@login_required
@require_POST
def end_other_sessions(request: HttpRequest) -> HttpResponse:
    user = acting_user(request)
    count = actions.end_other_sessions(
        user, keep_key=request.session.session_key or "", by=actor_for(request, user)
    )
    if count:
        messages.success(
            request,
            ngettext(
                "%(count)d other session ended: only this one is signed in.",
                "%(count)d other sessions ended: only this one is signed in.",
                count,
            )
            % {"count": count},
        )
    else:
        messages.info(request, gettext("No other session was signed in."))
    return redirect("account")


@login_required
@require_POST
def forget_device(request: HttpRequest, device_id: int) -> HttpResponse:
    user = acting_user(request)
    if actions.forget_own_device(user, device_id, by=actor_for(request, user)):
        messages.success(
            request, gettext("The device is forgotten: its next sign-in asks for a code.")
        )
    else:
        messages.info(request, gettext("That device was forgotten already."))
    return redirect("account")


@admin_pages
@require_POST
def user_sign_out_everywhere(request: HttpRequest, user_id: int) -> HttpResponse:
    """An admin ends every session of a user and forgets their remembered devices."""
    admin = acting_user(request)
    user = access.get_user_for_admin(admin, user_id)
    try:
        count = actions.sign_out_everywhere(user, by=actor_for(request, admin))
    except PermissionDenied as exc:
        return forbidden(request, exc)
    messages.success(
        request,
        ngettext(
            "%(user)s is signed out everywhere: %(count)d session ended and their remembered "
            "devices forgotten.",
            "%(user)s is signed out everywhere: %(count)d sessions ended and their remembered "
            "devices forgotten.",
            count,
        )
        % {"user": user.label, "count": count},
    )
    return redirect("user_edit", user_id=user.pk)
