"""Users > a user > Delete: the confirmation page, and the delete itself.

Deactivate stays the way to let someone go (the user page's Employment); Delete removes the
person's personal data for good (`actions.delete_user`), so it asks first, is an admin's
alone, and needs a recent check of the admin's sign-in (step-up) to go through.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext

from deskgate.accounts import access, actions, rules
from deskgate.accounts.actions import privacy
from deskgate.accounts.actions.users import NOT_ONESELF
from deskgate.accounts.models import User
from deskgate.http.actors import actor_for
from deskgate.http.guards import acting_user, admins_only, forbidden
from deskgate.web.step_up import step_up


def _why_not(admin: User, user: User) -> str | None:
    """What the action would refuse, said before the admin confirms (it checks again)."""
    if admin.pk == user.pk:
        return str(NOT_ONESELF)
    before = rules.UserState.of(user)
    gone = rules.UserState(**{**before.__dict__, "is_active": False})
    errors = rules.check_keeps_an_admin(
        user.client, before, gone, user_id=user.pk, label=user.label
    )
    return next((str(m) for msgs in errors.values() for m in msgs), None)


@admins_only
@step_up("user_delete", "delete a user", back="user_edit", keeps_draft=False)
def user_delete(request: HttpRequest, user_id: int) -> HttpResponse:
    admin = acting_user(request)
    user = access.get_user_for_admin(admin, user_id)  # another client's: as missing (404)
    refused = _why_not(admin, user)
    if request.method == "POST" and refused is None:
        label, name = user.label, privacy.pseudonym(user)
        try:
            actions.delete_user(user, by=actor_for(request, admin))
        except PermissionDenied as exc:
            return forbidden(request, exc)
        except ValidationError as exc:
            refused = " ".join(exc.messages)
        else:
            messages.success(
                request,
                gettext(
                    "%(user)s is deleted. The audit trail keeps their events under the name "
                    "“%(pseudonym)s”."
                )
                % {"user": label, "pseudonym": name},
            )
            return redirect("user_list")
    return render(
        request,
        "web/users/delete.html",
        {"edited": user, "refused": refused},
        status=200 if refused is None or request.method == "GET" else 409,
    )
