"""Idle and absolute session timeouts, the Content-Security-Policy header, and the signed-in
person's language and time zone."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth.middleware import AuthenticationMiddleware as DjangoAuthentication
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import Resolver404, resolve
from django.utils import timezone, translation
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext, ngettext

from deskgate.accounts import languages, sessions
from deskgate.http.actors import client_ip

CSP_BASE = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
CSP = f"{CSP_BASE}; form-action 'self'"
# The SSO company form redirects to the company's identity provider, and browsers apply
# form-action to a form's redirects too; that page alone lets a form lead elsewhere.
CSP_FORM_TO_PROVIDER = CSP_BASE
# While a sign-in for an app is under way, the session names the app's origin here: its
# forms (password, code, new password) end in a redirect chain that leads on to the app's
# redirect URI, and the browser applies form-action to every step of that chain.
FORM_LEADS_TO_KEY = "deskgate.form-leads-to"


class AuthenticationMiddleware(DjangoAuthentication):
    """Django's, with the user read for this session's key: the sign-in's backend reads the
    session's record (`sessions.current`) in the user's statement (issue 17: the
    authorization endpoint asked for it in a second one on every request)."""

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: _user(request))  # type: ignore[assignment]  # as Django's


def _user(request: HttpRequest) -> object:
    """Django's `get_user` of its middleware (cached on the request), with the key."""
    if not hasattr(request, "_cached_user"):
        with sessions.reading_user_of(request.session.session_key):
            request._cached_user = auth.get_user(request)  # type: ignore[attr-defined]  # Django's
    return request._cached_user  # type: ignore[attr-defined]  # as above


def csp_for(request: HttpRequest) -> str:
    """The page's policy: forms lead only here, and on to the app a sign-in is for."""
    session = getattr(request, "session", None)
    # Only a session the view read already: looking costs no load, and no Vary: Cookie.
    if session is None or not session.accessed:
        return CSP
    origin = session.get(FORM_LEADS_TO_KEY)
    if isinstance(origin, str) and origin:
        return f"{CSP_BASE}; form-action 'self' {origin}"
    return CSP


def _duration(seconds: int) -> str:
    """30 minutes, 8 hours: a limit as a person would say it."""
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours}
    minutes = seconds // 60
    return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", csp_for(request))
        # Pages hold people's data and forms: no copy in any cache, the browser's included.
        # (Static files are answered by WhiteNoise before this middleware.)
        response.headers.setdefault("Cache-Control", "no-store, private")
        return response


def _for_an_app(request: HttpRequest) -> bool:
    """Is this a request of the OpenID Provider's endpoints (an app's, through the browser)?"""
    try:
        return resolve(request.path_info).namespace == "oauth2_provider"
    except Resolver404:
        return False


class IdleTimeoutMiddleware:
    """Sign out a session idle too long (30 minutes for admin pages) or too old (12 hours)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated:
            idle_limit = sessions.idle_limit(user)
            expired = sessions.touch(request, idle=idle_limit, ip=client_ip(request))
            if expired is not None:
                sessions.end(request)
                if expired == sessions.Expiry.IDLE:
                    text = gettext(
                        "You were signed out after %(duration)s without activity. Sign in again."
                    ) % {"duration": _duration(idle_limit)}
                else:
                    text = gettext(
                        "You were signed out because a session lasts at most %(duration)s. "
                        "Sign in again."
                    ) % {"duration": _duration(settings.SESSION_COOKIE_AGE)}
                messages.info(request, text)
                if _for_an_app(request):
                    # An app's request goes on, signed out: the authorization endpoint
                    # sends the person to sign in and back to the app (or answers
                    # login_required to prompt=none); the logout endpoint returns them
                    # to the app. The sign-in page here would drop the app's request.
                    return self.get_response(request)
                return redirect("signin:password")
        return self.get_response(request)


class PreferencesMiddleware:
    """The signed-in person's language (their own, else their client's default; else what
    LocaleMiddleware took from Accept-Language) and time zone (theirs, the client's, UTC).

    After AuthenticationMiddleware; signed-out pages keep LocaleMiddleware's choice and UTC.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            timezone.deactivate()
            return self.get_response(request)
        language = languages.language_of(user)
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        timezone.activate(languages.zone_of(user))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
