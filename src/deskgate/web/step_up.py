"""The step-up guard of the sensitive admin pages (issue 14), one decorator for all of them.

`@step_up(purpose, doing, back=...)` goes under the rights guard (`admin_pages` or
`admins_only`): a write the view would make (by default any POST; `needed` narrows it)
with no recent enough check in this session (`signin.step_up.checked_recently`) changes
nothing: the page asks for the check first, keeps what was typed server-side, and after
the check comes back to `back`. The check is on the POST itself, so a tab opened before
the window ran out cannot skip it. Tokens (the API, SCIM) are not sessions: not here.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve, reverse
from django.utils.http import url_has_allowed_host_and_scheme

from deskgate.accounts.models import User
from deskgate.http.guards import acting_user
from deskgate.signin import factors
from deskgate.signin import step_up as flow

View = Callable[..., HttpResponse]
Needed = Callable[[HttpRequest, User, dict[str, Any]], bool]

# What each guarded write is, in the words the step-up page and the audit trail use.
PURPOSES: dict[str, str] = {}
# The pages a step-up may come back to: a fixed set of URL names, never a URL as given.
RETURN_TARGETS = frozenset(
    {"user_edit", "user_list", "user_import", "client_settings", "sso_settings", "api_tokens"}
)


def writes(request: HttpRequest, admin: User, kwargs: dict[str, Any]) -> bool:
    """The default: every POST writes (or could)."""
    return request.method == "POST"


def return_target(path: object) -> str:
    """`path` when it is a local path to one of RETURN_TARGETS, else the home page."""
    if (
        isinstance(path, str)
        and path.startswith("/")
        and not path.startswith("//")
        and "\\" not in path
        and url_has_allowed_host_and_scheme(path, allowed_hosts=None)
    ):
        try:
            match = resolve(path.partition("?")[0])
        except Resolver404:
            match = None
        if match is not None and match.url_name in RETURN_TARGETS:
            return path.partition("?")[0]
    return reverse("home")


def ask_page(
    request: HttpRequest, user: User, *, purpose: str, then: str, kept: bool
) -> HttpResponse:
    """The page that says why and offers the check (a code, or the password again)."""
    return render(
        request,
        "web/step_up.html",
        {
            "doing": PURPOSES.get(purpose, "make this change"),
            "purpose": purpose,
            "then": then,
            "minutes": user.client.step_up_minutes,
            "asks_code": flow.asks_code(user),
            "has_app": factors.has_app(user),
            "kept": kept,
        },
        status=403,  # refused: nothing was changed
    )


def step_up(
    purpose: str, doing: str, *, back: str, needed: Needed = writes, keeps_draft: bool = True
) -> Callable[[View], View]:
    """Guard a sensitive write: see the module's docstring. `back` is the URL name (one of
    RETURN_TARGETS) the admin comes back to, reversed with the view's own URL arguments;
    `keeps_draft` when `back` is the form that was posted (and reads `take_draft`)."""
    if back not in RETURN_TARGETS:
        raise ValueError(f"{back!r} is not a step-up return target")
    PURPOSES[purpose] = doing

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            admin = acting_user(request)
            if needed(request, admin, kwargs) and not flow.checked_recently(request, admin):
                then = reverse(back, kwargs=kwargs or None)
                kept = keeps_draft and request.method == "POST"
                if kept:
                    flow.keep_draft(request, then)
                return ask_page(request, admin, purpose=purpose, then=then, kept=kept)
            return view(request, *args, **kwargs)

        # Read by tests/security/test_25_step_up.py, which walks the URLs.
        wrapped.step_up_purpose = purpose  # type: ignore[attr-defined]  # a marker for the walk
        return wrapped

    return decorator
