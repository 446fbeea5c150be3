"""Sign-in with a passkey: the options a browser needs, and the passwordless finish.

The second-factor finish is the code page's own (`code_views`, action verify_passkey), so
that it shares the page's messages, its Remember device and R7's counts. Thin views over
`passkeys`; passkeys.js does navigator.credentials.get() and posts the answer as a form.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from deskgate.http.actors import actor_for
from deskgate.signin import passkeys, pipeline

# The session holds only the opaque token of the stored challenge, never the challenge.
SIGNIN_KEY = "deskgate.passkey-signin"
REGISTER_KEY = "deskgate.passkey-register"

NOT_NOW = "Sign-in with a passkey is not possible here now. Sign in again."


def options_response(options: str) -> HttpResponse:
    """The options JSON as navigator.credentials wants them (base64url fields)."""
    return HttpResponse(f'{{"publicKey": {options}}}', content_type="application/json")


@require_POST
@never_cache
def options(request: HttpRequest) -> HttpResponse:
    """A challenge for the code step (the pending user's keys) or, with for=passwordless,
    for a passkey that names its user itself."""
    if request.POST.get("for") == "passwordless":
        token, body = passkeys.signin_options(None)
    else:
        pending = pipeline.current(request)
        if pending is None or pipeline.next_stage(pending) != pipeline.Stage.CODE:
            return JsonResponse({"error": NOT_NOW}, status=409)
        if not passkeys.has_passkey(pending.user):
            return JsonResponse({"error": "You have no passkey or security key."}, status=409)
        token, body = passkeys.signin_options(pending.user)
    request.session[SIGNIN_KEY] = token
    return options_response(body)


@require_POST
@never_cache
def passwordless(request: HttpRequest) -> HttpResponse:
    """Sign in with a passkey that verified the user: both factors, no password."""
    answer = passkeys.verify_passwordless(
        request.POST.get("credential", ""),
        token=request.session.pop(SIGNIN_KEY, None),
        by=actor_for(request),
    )
    if answer.reason != passkeys.Passwordless.OK or answer.user is None:
        messages.error(
            request,
            _(
                "That passkey could not sign you in. Passwordless sign-in needs a passkey that "
                "checks your PIN or fingerprint, and your company must allow it; otherwise sign "
                "in with your user name and password."
            ),
        )
        return redirect("signin:password")
    pending = pipeline.begin_passwordless(request, answer.user, key_amr=answer.amr)
    return redirect(pipeline.advance(request, pending))
