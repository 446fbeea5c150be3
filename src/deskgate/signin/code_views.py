"""The code page: where the code went, the Code field, Resend code, Remember device."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext, ngettext
from django.views.decorators.cache import never_cache

from deskgate.accounts import languages
from deskgate.http.actors import actor_for
from deskgate.signin import challenge, codes, devices, factors, passkey_views, passkeys, pipeline
from deskgate.signin.app_settings import app_settings
from deskgate.signin.caps import SCOPE_MESSAGES
from deskgate.signin.challenge import Answer, Issue
from deskgate.signin.codes import Check
from deskgate.signin.factors import FactorCheck
from deskgate.signin.forms import AppCodeForm, CodeForm, RecoveryCodeForm
from deskgate.signin.models import PendingSignIn, SignInVia


def _until(answer: Answer) -> str:
    when = timezone.localtime(answer.locked_until or timezone.now())
    return f"{when:%H:%M} {timezone.get_current_timezone_name()}"


def _tries(left: int) -> str:
    return ngettext("%(count)d try left.", "%(count)d tries left.", left) % {"count": left}


def _locked(answer: Answer) -> str:
    return gettext(
        "Too many wrong codes. You can try again after %(until)s, or ask your admin to unlock "
        "your account."
    ) % {"until": _until(answer)}


def issue_message(answer: Answer, pending: PendingSignIn, *, resend: bool) -> tuple[str, str]:
    """The page's words for the outcome of sending a code: (level, text)."""
    if answer.reason == Issue.SENT:
        where = {"to": pending.code_destination}
        if resend:
            return "success", gettext(
                "We sent a new code to %(to)s. The previous code no longer works."
            ) % where
        return "success", gettext("We sent a code to %(to)s.") % where
    if answer.reason == Issue.NOT_NEEDED:
        return "info", gettext("Your code is accepted already.")
    if answer.reason == Issue.COUNTRY:
        return "error", gettext(
            "Your company does not send SMS codes to your number's country, so no code was "
            "sent. Ask your admin to change your MFA settings."
        )
    if answer.reason == Issue.COOLDOWN:
        seconds = answer.wait_seconds or 0
        return "info", ngettext(
            "Wait %(count)d second before asking for a new code.",
            "Wait %(count)d seconds before asking for a new code.",
            seconds,
        ) % {"count": seconds}
    if answer.reason == Issue.CAPPED:
        return "error", str(SCOPE_MESSAGES[answer.capped_scope])
    if answer.reason == Issue.LOCKED:
        return "error", _locked(answer)
    return "error", gettext(
        "We could not send the code right now, so no code is on its way. "
        "Try Resend code in a moment."
    )


def check_message(answer: Answer) -> str:
    minutes = app_settings.CODE.lifetime_minutes
    reason = Check(answer.reason)
    if reason == Check.WRONG:
        return (
            gettext("That code is not right.")
            + " "
            + ngettext(
                "%(count)d try left for this code.",
                "%(count)d tries left for this code.",
                answer.tries_left or 0,
            )
            % {"count": answer.tries_left or 0}
        )
    if reason == Check.EXPIRED:
        return ngettext(
            "This code has expired: codes are valid for %(count)d minute. Ask for a new one "
            "with Resend code.",
            "This code has expired: codes are valid for %(count)d minutes. Ask for a new one "
            "with Resend code.",
            minutes,
        ) % {"count": minutes}
    if reason == Check.LOCKED:
        return _locked(answer)
    if reason == Check.MALFORMED:
        return codes.not_a_code()
    return {
        Check.REPLACED: gettext(
            "That code was replaced by a newer one. Use the code in the latest message."
        ),
        Check.TOO_MANY: gettext(
            "That was the last try for this code. Ask for a new one with Resend code."
        ),
        Check.NO_CODE: gettext(
            "There is no valid code for this sign-in. Ask for one with Resend code."
        ),
    }.get(reason, gettext("That code is not right."))


def factor_message(answer: Answer, *, recovery: bool) -> str:
    """The page's words for a refused app code or recovery code (never the code itself)."""
    tries = _tries(answer.tries_left or 0)
    if answer.reason == FactorCheck.WRONG:
        what = (
            gettext("That recovery code is not right.")
            if recovery
            else gettext("That code is not right.")
        )
        return f"{what} {tries}"
    if answer.reason == FactorCheck.USED:
        if recovery:
            return gettext("That recovery code was used already: each works once.") + f" {tries}"
        return gettext("That code was used already: wait for the app's next code.") + f" {tries}"
    if answer.reason == FactorCheck.CLONED:
        return f"{passkeys.REFUSED} {tries}"
    if answer.reason == FactorCheck.TOO_MANY:
        return gettext(
            "That was the last try for this sign-in. Go back to sign-in and start again."
        )
    if answer.reason == FactorCheck.LOCKED:
        return _locked(answer)
    return gettext(
        "That factor is no longer set up for you (an admin may have reset it). Sign in again."
    )


def _mode(request: HttpRequest, has_app: bool, has_passkey: bool, may_send: bool) -> str:
    """Which factor the page asks for: the app (first, for those who have one), a passkey
    (first, for those who have one and no app), a recovery code, or the Email or SMS
    code."""
    asked = request.POST.get("with") or request.GET.get("with") or ""
    if has_passkey and asked == "passkey":
        return "passkey"
    if (has_app or has_passkey) and asked == "recovery":
        return "recovery"
    if asked == "code" and may_send:
        return "code"
    if has_app and asked != "passkey":
        return "app"
    if has_passkey:
        return "passkey"
    return "code"


def _reload(pending: PendingSignIn) -> bool:
    """Fresh code state; False when the sign-in is gone (finished by a parallel request,
    or voided by a change of the user's settings)."""
    # The code's state only: the user and client loaded with the row stay as they are.
    try:
        pending.refresh_from_db(fields=CODE_STATE)
    except PendingSignIn.DoesNotExist:
        return False
    return True


CODE_STATE = [
    "code_passed",
    "code_hash",
    "code_channel",
    "code_destination",
    "code_issued_at",
    "code_expires_at",
    "code_attempts",
    "codes_sent",
    "second_factor",
    "factor_attempts",
    "key_amr",
]


def _gone(request: HttpRequest) -> HttpResponse:
    pipeline.abandon(request)
    messages.info(request, gettext("This sign-in is over. Sign in again if you are not signed in."))
    return redirect("signin:password")


def _offer_remember(pending: PendingSignIn) -> bool:
    # Remembered devices play no part in SSO sign-ins (and the client may turn them off).
    return pending.via != SignInVia.SSO and devices.offered(pending.user)


@never_cache
def code_step(request: HttpRequest) -> HttpResponse:
    if request.method == "POST" and request.POST.get("action") in CHECKS:
        # A check (a code, the app's, a recovery code, a passkey) reads the attempt once,
        # locked, in the check's transaction, which also moves a passed sign-in on; the
        # page (a wrong code's) is rendered after the commit (a TemplateResponse).
        with pipeline.checking(request) as checking:
            return _code_step(request, checking)
    found = pipeline.current_with_factors(request)
    return _code_step(request, None if found is None else (*found, None))


CHECKS = frozenset({"verify", "verify_app", "verify_recovery", "verify_passkey"})


def _code_step(request: HttpRequest, found: pipeline.Checking | None) -> HttpResponse:
    if found is None:
        messages.info(request, gettext("Your sign-in expired or was not started. Sign in again."))
        return redirect("signin:password")
    pending, has_app, has_passkey, guard = found
    # The attempt and guard row read locked (`pipeline.checking`): the check joins that.
    locked = None if guard is None else (pending, guard)
    if pipeline.next_stage(pending) != pipeline.Stage.CODE:
        return redirect(pipeline.advance(request, pending))
    user = pending.user
    # The password told us who this is: their language and zone from here on.
    translation.activate(languages.language_of(user) or request.LANGUAGE_CODE)
    timezone.activate(languages.zone_of(user))
    by = actor_for(request, user)
    first = request.session.pop(pipeline.FIRST_SEND_KEY, None)
    if isinstance(first, dict):  # the first send did not go out: say why
        level, text = issue_message(Answer.from_dict(first), pending, resend=False)
        getattr(messages, level)(request, text)
    has_strong = has_app or has_passkey
    may_send = user.mfa_applies  # an Email or SMS code is the user's method (R1, R2)
    mode = _mode(request, has_app, has_passkey, may_send)
    action = request.POST.get("action") if request.method == "POST" else None
    form = CodeForm(request.POST if action == "verify" else None)
    # The app's and the recovery code's forms only where the page shows or checks them.
    app_form = (
        AppCodeForm(request.POST if action == "verify_app" else None)
        if mode == "app" or action == "verify_app"
        else None
    )
    recovery_form = (
        RecoveryCodeForm(request.POST if action == "verify_recovery" else None)
        if mode == "recovery" or action == "verify_recovery"
        else None
    )
    if action == "resend" and may_send:
        answer = challenge.issue(pending.pk, by=by, user=user)
        if not _reload(pending):
            return _gone(request)
        level, text = issue_message(answer, pending, resend=pending.codes_sent > 1)
        getattr(messages, level)(request, text)
        return redirect(f"{reverse('signin:code')}?with=code" if has_strong else "signin:code")
    if action == "verify_passkey" and has_passkey:
        return _verify_passkey(request, pending, locked)
    factor_form = app_form if action == "verify_app" else recovery_form
    recovery_ok = action == "verify_recovery" and has_strong
    if (
        (recovery_ok or (action == "verify_app" and has_app))
        and factor_form is not None
        and factor_form.is_valid()
    ):
        recovery = action == "verify_recovery"
        if recovery:
            answer = factors.use_recovery_code(
                pending.pk, factor_form.cleaned_data["recovery_code"], by=by, locked=locked
            )
        else:
            answer = factors.verify_app(
                pending.pk, factor_form.cleaned_data["app_code"], by=by, locked=locked
            )
        if answer.reason == FactorCheck.OK:
            if locked is None and not _reload(pending):
                return _gone(request)
            response = redirect(_passed(request, pending, locked))
            if factor_form.cleaned_data.get("remember") and _offer_remember(pending):
                devices.remember(response, request, user)
            return response
        field = "recovery_code" if recovery else "app_code"
        factor_form.add_error(field, factor_message(answer, recovery=recovery))
    if request.method == "POST" and form.is_valid():
        answer, url = pipeline.check_code(
            request, pending, form.cleaned_data["code"], by=by, guard=guard
        )
        if url is not None:
            response = redirect(url)
            if form.cleaned_data.get("remember") and _offer_remember(pending):
                devices.remember(response, request, user)
            return response
        form.add_error("code", check_message(answer))
    # A POST may have changed the code's state (a wrong try counted); a GET changed
    # nothing since `pipeline.current` read the row, nor did a check of the row read locked
    # (`guard`: the check left `pending` as it left the row).
    if request.method == "POST" and guard is None and not _reload(pending):
        return _gone(request)
    return TemplateResponse(
        request,
        "signin/code.html",
        {
            "form": form,
            "app_form": app_form,
            "recovery_form": recovery_form,
            "mode": mode,
            "has_app": has_app,
            "has_passkey": has_passkey,
            "has_strong": has_strong,
            "may_send": may_send,
            "pending": pending,
            "pending_user": user,
            "offer_remember": _offer_remember(pending),
            "resend_wait": challenge.resend_wait(pending),
            "lifetime_minutes": app_settings.CODE.lifetime_minutes,
            "code_expires_at": pending.code_expires_at,
        },
    )


def _passed(request: HttpRequest, pending: PendingSignIn, locked: factors.Locked | None) -> str:
    """Where a sign-in goes once a second factor passed."""
    if locked is None:  # the check saved the pass in its own transaction
        return pipeline.advance(request, pending)
    return pipeline.factor_passed(request, pending)


def _verify_passkey(
    request: HttpRequest, pending: PendingSignIn, locked: factors.Locked | None
) -> HttpResponse:
    """The browser's answer from the user's passkey or security key (passkeys.js posts it)."""
    user = pending.user
    answer = passkeys.verify_second_factor(
        pending.pk,
        user,
        request.POST.get("credential", ""),
        token=request.session.pop(passkey_views.SIGNIN_KEY, None),
        by=actor_for(request, user),
        locked=locked,
    )
    if locked is None and not _reload(pending):
        return _gone(request)
    if answer.reason == FactorCheck.OK:
        response = redirect(_passed(request, pending, locked))
        if request.POST.get("remember") and _offer_remember(pending):
            devices.remember(response, request, user)
        return response
    if answer.reason == FactorCheck.WRONG:
        messages.error(request, " ".join([str(passkeys.REFUSED), _tries(answer.tries_left or 0)]))
    else:
        messages.error(request, factor_message(answer, recovery=False))
    return redirect(f"{reverse('signin:code')}?with=passkey")
