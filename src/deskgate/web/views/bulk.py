"""Users > User list > Set MFA for many users (R8): what it will do, then doing it.

The list's form posts here without a key: the answer is the confirmation page, made by the
action's own dry run (the same checks, nothing written). Its Confirm button posts the same
choices with a one-time idempotency key: the action runs once per key, so a double click
or a form sent again changes nothing twice. A refused form goes back to the list with the
admin's choices kept (in the session, for one page view).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from deskgate.accounts import access, actions
from deskgate.accounts.models import Level, MfaMethod, User
from deskgate.accounts.permissions import Op
from deskgate.http.actors import actor_for
from deskgate.http.guards import acting_user, admin_pages, forbidden, may
from deskgate.signin import step_up as step_up_flow
from deskgate.web import userlist
from deskgate.web.forms import BulkMfaForm
from deskgate.web.step_up import step_up

KEPT_KEY = "deskgate.bulk.kept"
REFUSED_SHOWN = 500  # on the confirmation page; the result page lists everyone


@dataclass
class Kept:
    """The bulk form's choices and the list it was sent from, to show them again."""

    initial: dict[str, Any]
    users: list[int]
    list_params: QueryDict


def _kept_from(data: QueryDict) -> Kept:
    users = []
    for value in data.getlist("users"):
        if value.isdigit() and 0 < int(value) < 2**63:
            users.append(int(value))
    initial = {name: data[name] for name in ("method", "scope") if isinstance(data.get(name), str)}
    return Kept(initial, users, QueryDict(str(data.get("filter", ""))[:2000]))


def keep(request: HttpRequest) -> None:
    """Keep the posted choices for the list's next page view."""
    request.session[KEPT_KEY] = {
        name: request.POST.getlist(name)[:1000] for name in ("method", "scope", "users", "filter")
    }


def take_kept(request: HttpRequest) -> Kept | None:
    """The choices kept by `keep`, or by the step-up (`back="user_list"`), once."""
    draft = step_up_flow.take_draft(request)
    if draft is not None:
        return _kept_from(draft)
    if request.method != "GET" or request.GET.get("partial"):
        return None
    raw = request.session.pop(KEPT_KEY, None)
    if not isinstance(raw, dict):
        return None
    data = QueryDict(mutable=True)
    for name, values in raw.items():
        if isinstance(name, str) and isinstance(values, list):
            data.setlist(name, [str(v) for v in values])
    return _kept_from(data)


def _back_to_list(request: HttpRequest, error: str | None = None) -> HttpResponse:
    if error:
        messages.error(request, error)
    keep(request)
    return redirect("user_list")


def _chosen(admin: User, form: BulkMfaForm) -> tuple[QuerySet[User], int, str]:
    """The users the form names (only the admin's own client's), how many selected ids
    were not found, and the scope as the scope's own words."""
    scope = form.cleaned_data["scope"]
    if scope == "selected":
        users = access.users_for_admin(admin).order_by("full_name", "id")
        ids = form.cleaned_data["users"]
        users = users.filter(pk__in=ids)
        return users, len(set(ids)) - users.count(), "selected"
    if scope == "matching":
        query = userlist.ListQuery.parse(QueryDict(form.cleaned_data.get("filter") or ""))
        return userlist.users_for(admin, query), 0, "matching"
    level = scope.partition(":")[2]
    users = access.users_for_admin(admin).filter(level=level, is_active=True)
    return users.order_by("full_name", "id"), 0, level


def _question(method: str, count: int, scope: str) -> str:
    """ "Set MFA to SMS for 412 agents?" """
    values = {"method": method, "count": count}
    if scope == Level.ADMIN:
        return (
            ngettext(
                "Set MFA to %(method)s for %(count)d admin?",
                "Set MFA to %(method)s for %(count)d admins?",
                count,
            )
            % values
        )
    if scope == Level.MANAGER:
        return (
            ngettext(
                "Set MFA to %(method)s for %(count)d manager?",
                "Set MFA to %(method)s for %(count)d managers?",
                count,
            )
            % values
        )
    if scope == Level.TEAM_LEADER:
        return (
            ngettext(
                "Set MFA to %(method)s for %(count)d team leader?",
                "Set MFA to %(method)s for %(count)d team leaders?",
                count,
            )
            % values
        )
    if scope == Level.AGENT:
        return (
            ngettext(
                "Set MFA to %(method)s for %(count)d agent?",
                "Set MFA to %(method)s for %(count)d agents?",
                count,
            )
            % values
        )
    if scope == "matching":
        return (
            ngettext(
                "Set MFA to %(method)s for %(count)d user that matches the list?",
                "Set MFA to %(method)s for %(count)d users that match the list?",
                count,
            )
            % values
        )
    return (
        ngettext(
            "Set MFA to %(method)s for %(count)d selected user?",
            "Set MFA to %(method)s for %(count)d selected users?",
            count,
        )
        % values
    )


@admin_pages
@require_POST
@may(Op.USERS_MFA_BULK)  # refused before the step-up asks for a code
@step_up("bulk_mfa", "change the MFA method of many users", back="user_list")
def user_bulk(request: HttpRequest) -> HttpResponse:
    admin = acting_user(request)
    if "back" in request.POST:  # "Change the choice" on the confirmation page
        return _back_to_list(request)
    form = BulkMfaForm(request.POST)
    if not form.is_valid():
        errors = [str(e) for e in form.non_field_errors()] or [
            _("Choose an MFA method and who to set it for.")
        ]
        return _back_to_list(request, " ".join(errors))
    users, missing, scope = _chosen(admin, form)
    method = form.cleaned_data["method"]
    label = MfaMethod(method).label
    by = actor_for(request, admin)
    key = form.cleaned_data.get("key")
    if key is None:
        try:
            outcomes = actions.bulk_change_mfa_method(
                admin.client, list(users), method, by=by, dry_run=True
            )
        except PermissionDenied as exc:
            return forbidden(request, exc)
        refused = [o for o in outcomes if not o.applied]
        already = sum(o.applied and not o.changed for o in outcomes)
        return render(
            request,
            "web/users/bulk_preview.html",
            {
                "question": _question(str(label), len(outcomes), scope),
                "method": label,
                "outcomes": outcomes,
                "changing": len(outcomes) - len(refused) - already,
                "already": already,
                "refused": refused[:REFUSED_SHOWN],
                "refused_count": len(refused),
                "refused_hidden": max(0, len(refused) - REFUSED_SHOWN),
                "missing": missing,
                "form": form,
                "chosen_users": form.cleaned_data["users"],
                "key": uuid.uuid4(),
            },
        )
    try:
        outcomes = actions.bulk_change_mfa_method(admin.client, list(users), method, by=by, key=key)
    except PermissionDenied as exc:
        return forbidden(request, exc)
    except ValidationError as exc:
        if exc.code == "already_run":
            messages.info(request, " ".join(exc.messages))
            return redirect("user_list")
        return _back_to_list(request, " ".join(exc.messages))
    return render(
        request,
        "web/users/bulk_result.html",
        {
            "outcomes": outcomes,
            "method": label,
            "applied": sum(o.applied for o in outcomes),
            "refused": sum(not o.applied for o in outcomes),
            "missing": missing,
        },
    )
