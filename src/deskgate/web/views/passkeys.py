"""The user's own passkeys and security keys: add, rename, remove (issue 14).

Adding or removing a key needs a second factor checked by this session within
`pipeline.PROOF_WINDOW`, never the password alone: otherwise the page offers the step-up
(the authenticator pages' own) and comes back. The first strong factor's recovery codes
are rendered into the response that made them, once. Thin views over `signin.passkeys`;
passkeys.js does navigator.credentials.create() and posts the answer as a form.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from deskgate.accounts.models import User
from deskgate.http.actors import actor_for
from deskgate.http.guards import acting_user
from deskgate.signin import passkeys, pipeline
from deskgate.signin.passkey_views import REGISTER_KEY, options_response
from deskgate.web.views.authenticator import prove_first, recovery_codes_page

TITLE = "Passkeys and security keys"


def _ready(request: HttpRequest, user: User) -> bool:
    return passkeys.may_register(user) is None and pipeline.second_factor_recent(request)


def _prove(request: HttpRequest, user: User, *, then: str, doing: str) -> HttpResponse:
    return prove_first(
        request,
        user,
        then=then,
        doing=doing,
        refusal=passkeys.may_register(user),
        title=TITLE,
    )


@login_required
@never_cache
def add(request: HttpRequest) -> HttpResponse:
    user = acting_user(request)
    if not _ready(request, user):
        return _prove(request, user, then="passkey", doing="add a passkey or security key")
    error = ""
    name = request.POST.get("name", "") if request.method == "POST" else ""
    if request.method == "POST":
        try:
            added = passkeys.register(
                user,
                request.POST.get("credential", ""),
                token=request.session.pop(REGISTER_KEY, None),
                name=name,
                by=actor_for(request, user),
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
        except PermissionDenied as exc:  # the client or the user's MFA changed meanwhile
            error = str(exc)
        else:
            if added.recovery_codes:
                return recovery_codes_page(
                    request, added.recovery_codes, first=True, factor="passkey"
                )
            messages.success(
                request, gettext("The key “%(name)s” is added.") % {"name": added.passkey.name}
            )
            return redirect("account")
    return render(
        request,
        "web/passkey_add.html",
        {
            "error": error,
            "name": name or passkeys.default_name(user),
            "uv_required": passkeys.requires_uv(user),
            "name_max": passkeys.NAME_MAX,
        },
    )


@login_required
@require_POST
@never_cache
def options(request: HttpRequest) -> HttpResponse:
    """The options for navigator.credentials.create(), with a challenge stored for this
    browser; refused unless a second factor was checked recently."""
    user = acting_user(request)
    if not _ready(request, user):
        refusal = passkeys.may_register(user) or (
            "Check your second factor again first: reload this page."
        )
        return JsonResponse({"error": refusal}, status=403)
    token, body = passkeys.registration_options(user)
    request.session[REGISTER_KEY] = token
    return options_response(body)


@login_required
@require_POST
def rename(request: HttpRequest, passkey_id: int) -> HttpResponse:
    user = acting_user(request)
    try:
        passkey = passkeys.rename(
            user, passkey_id, request.POST.get("name", ""), by=actor_for(request, user)
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request, gettext("The key is now called “%(name)s”.") % {"name": passkey.name}
        )
    return redirect("account")


@login_required
@require_POST
@never_cache
def remove(request: HttpRequest, passkey_id: int) -> HttpResponse:
    user = acting_user(request)
    if not pipeline.second_factor_recent(request):
        return _prove(request, user, then="account", doing="remove a passkey or security key")
    try:
        name = passkeys.remove(user, passkey_id, by=actor_for(request, user))
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
    else:
        messages.success(request, gettext("The key “%(name)s” is removed.") % {"name": name})
    return redirect("account")
