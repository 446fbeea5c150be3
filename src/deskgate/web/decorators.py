from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from deskgate.accounts.models import Level, User

View = Callable[..., HttpResponse]


def _guard(allowed: Callable[[User], bool], refusal: str) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not isinstance(user, User) or not allowed(user):
                return render(request, "web/forbidden.html", {"reason": refusal}, status=403)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


admin_pages = _guard(
    lambda u: u.can_open_admin_pages,
    "Only admins and managers open the admin pages.",
)
admins_only = _guard(
    lambda u: u.is_active and u.level == Level.ADMIN,
    "Only an admin can change the company's settings.",
)


def acting_user(request: HttpRequest) -> User:
    """The signed-in user of a request that a guard above has let through."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied("Sign in first.")
    return user
