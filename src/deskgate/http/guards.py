from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.utils.translation import gettext

from deskgate.accounts import permissions
from deskgate.accounts.models import User
from deskgate.accounts.permissions import Op

View = Callable[..., HttpResponseBase]  # a page, or a streamed download


def _guard(*, admin_only: bool) -> Callable[[View], View]:
    """Let through the users the permission table lets open the admin pages (or change
    their company's settings); answer the others with its reason. What they may do to
    whom is the actions' check, the same table."""
    op = Op.CLIENT_SETTINGS if admin_only else Op.ADMIN_PAGES

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not isinstance(user, User):
                return forbidden(request, permissions.NO_ADMIN_PAGES)
            reason = permissions.refusal(user, op, user.client_id)
            if reason is not None:
                return forbidden(request, reason)
            return view(request, *args, **kwargs)

        # Which pages are admin pages, for the tests that walk the URLs (the step-up's).
        wrapped.admin_guard = "admins_only" if admin_only else "admin_pages"  # type: ignore[attr-defined]  # a marker
        return wrapped

    return decorator


def may(op: Op) -> Callable[[View], View]:
    """Under `admin_pages`: answer 403 with the table's reason to a user whose level may
    not do `op` to anyone, before the view (and its step-up) runs. The action checks the
    same row again, with the target's level."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            user = request.user
            if isinstance(user, User):
                reason = permissions.refusal(user, op, user.client_id)
                if reason is not None:
                    return forbidden(request, reason)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def forbidden(request: HttpRequest, reason: object) -> HttpResponse:
    """The 403 page, saying why."""
    return render(request, "http/forbidden.html", {"reason": str(reason)}, status=403)


admin_pages = _guard(admin_only=False)
admins_only = _guard(admin_only=True)


def acting_user(request: HttpRequest) -> User:
    """The signed-in user of a request that a guard above has let through."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied(gettext("Sign in first."))
    return user
