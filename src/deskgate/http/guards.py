from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.utils.translation import gettext

from deskgate.accounts import access
from deskgate.accounts.models import User

View = Callable[..., HttpResponseBase]  # a page, or a streamed download


def _guard(*, admin_only: bool) -> Callable[[View], View]:
    """Let through the users `access.refusal` lets act on their own client (or its
    settings); answer the others with its reason. What they may do to whom is the
    actions' check, the same one."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not isinstance(user, User):
                return forbidden(request, access.Refusal.NO_ADMIN_PAGES)
            reason = access.refusal(user, user.client_id, admin_only=admin_only)
            if reason is not None:
                return forbidden(request, reason)
            return view(request, *args, **kwargs)

        # Which pages are admin pages, for the tests that walk the URLs (the step-up's).
        wrapped.admin_guard = "admins_only" if admin_only else "admin_pages"  # type: ignore[attr-defined]  # a marker
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
