"""The provider's endpoints: django-oauth-toolkit's views, with Deskgate's sign-in.

The authorization endpoint is DOT's, told four things it cannot know:

1. who is signed in comes from Deskgate's pipeline: an unauthenticated browser goes to
   the sign-in page (password, code, new password, or the company's SSO) and comes back;
2. `prompt=login` and `max_age` run the sign-in again in the same session, `prompt=none`
   answers instead of showing a page, and an app that asks for two factors (`acr_values`
   or an essential `acr` claim) gets the code step if this session has not passed one;
3. an app restricted to some clients refuses everyone else (`access_denied`);
4. what this session's sign-in checked (`amr`, `auth_time`, `sid`) goes with the code.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from oauth2_provider.exceptions import InvalidOIDCClientError, OAuthToolkitError
from oauth2_provider.http import OAuth2ResponseRedirect
from oauth2_provider.models import get_application_model
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.signals import app_authorized
from oauth2_provider.views import AuthorizationView, ConnectDiscoveryInfoView, TokenView
from oauth2_provider.views.oidc import RPInitiatedLogoutView
from oauth2_provider.views.oidc import _load_id_token as load_id_token
from oauthlib.oauth2.rfc6749.errors import CustomOAuth2Error

from deskgate.accounts import audit, sessions
from deskgate.accounts.models import AuditAction, User, UserSession
from deskgate.http.actors import actor_for
from deskgate.http.middleware import CSP_BASE
from deskgate.provider import claims, logout, registry
from deskgate.signin import pipeline

# When the session was sent to sign in again for an app (Unix time): the sign-in that
# comes back must be at least this recent, whatever max_age said.
REAUTH_SINCE = "deskgate.oidc-reauth-since"


class Authorize(AuthorizationView):
    template_name = "oauth2_provider/authorize.html"

    def handle_no_permission(self) -> HttpResponse:
        """Not signed in: prompt=none answers login_required; otherwise the sign-in page,
        then back here. A request that names no valid app or redirect URI gets an error
        page, never a redirect."""
        request = self.request
        try:
            _, credentials = self.validate_authorization_request(request)
        except OAuthToolkitError as error:
            return self.error_response(error, application=None)
        if "none" in _prompt(request):
            return self._refuse("login_required", "The user is not signed in.", credentials)
        if "max_age" in request.GET or _prompt(request):
            # Any sign-in from now on will do, however old max_age would find it. Without
            # either (the usual request) any sign-in does anyway: nothing to note, and the
            # authorization that comes back has no session key to drop (no session write).
            request.session[REAUTH_SINCE] = 0
        pipeline.return_after(
            request,
            _without_prompt_login(request.get_full_path()),
            leads_to=credentials["redirect_uri"],
        )
        return redirect("signin:password")

    def validate_authorization_request(
        self, request: HttpRequest
    ) -> tuple[list[str], dict[str, Any]]:
        """DOT's validation, once per request: `get` validates and DOT's own `get` again,
        each time reading the app (the same request gets the same answer)."""
        validated: tuple[list[str], dict[str, Any]] | None = getattr(self, "_validated", None)
        if validated is None:
            validated = self._validated = super().validate_authorization_request(request)
        return validated

    def _application(self, credentials: dict[str, Any]) -> Any:
        """The app the validation read (oauthlib keeps it on its request), else read now."""
        validated = credentials.get("request")
        client = getattr(validated, "client", None)
        model = get_application_model()
        if isinstance(client, model) and client.client_id == credentials["client_id"]:
            return client
        return model.objects.get(client_id=credentials["client_id"])

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            scopes, credentials = self.validate_authorization_request(request)
        except OAuthToolkitError as error:
            return self.error_response(error, application=None)
        if credentials.get("code_challenge_method") != "S256" or not credentials.get(
            "code_challenge"
        ):
            return self._refuse(
                "invalid_request", "PKCE with code_challenge_method=S256 is required.", credentials
            )
        user = _signed_in(request)
        application = self._application(credentials)
        if not _open_to(application, user):
            self._audit_refusal(user, application, "the app is not open to this client")
            return self._refuse("access_denied", "", credentials)
        record = sessions.current(request)
        prompt = _prompt(request)
        if record is None or self._must_sign_in_again(request, record, prompt):
            if "none" in prompt:
                return self._refuse("login_required", "The user must sign in again.", credentials)
            request.session[REAUTH_SINCE] = timezone.now().timestamp()
            pipeline.ask_again(
                request,
                _without_prompt_login(request.get_full_path()),
                leads_to=credentials["redirect_uri"],
            )
            return redirect("signin:password")
        wants_mfa = claims.wants_mfa(request.GET.get("acr_values", ""), request.GET.get("claims"))
        if wants_mfa and "mfa" not in record.amr:
            if not pipeline.can_step_up(user):
                self._audit_refusal(user, application, "two factors asked, the user has one")
                return self._refuse(
                    "unmet_authentication_requirements",
                    "The app asks for two factors; this user has no second factor.",
                    credentials,
                )
            if "none" in prompt:
                return self._refuse("interaction_required", "A code is needed.", credentials)
            pending = pipeline.begin_step_up(request, user)
            pipeline.return_after(
                request, request.get_full_path(), leads_to=credentials["redirect_uri"]
            )
            return redirect(pipeline.advance(request, pending))
        request.session.pop(REAUTH_SINCE, None)
        self._checked = (user, application, record)  # create_authorization_response's too
        if application.skip_authorization and _asks_nothing_more(request):
            # DOT's `get` would read the app again only to come to the same call.
            if isinstance(credentials.get("ui_locales"), list):  # as DOT's `get` does
                credentials["ui_locales"] = " ".join(credentials["ui_locales"])
            try:
                uri, _, _, _ = self.create_authorization_response(
                    request=request, scopes=" ".join(scopes), credentials=credentials, allow=True
                )
            except OAuthToolkitError as error:
                return self.error_response(error, application)
            return self.redirect(uri, application)
        return super().get(request, *args, **kwargs)

    def _must_sign_in_again(
        self, request: HttpRequest, record: UserSession, prompt: set[str]
    ) -> bool:
        since = request.session.get(REAUTH_SINCE)
        if isinstance(since, (int, float)):
            # Sent to sign in (again) for this request: a sign-in after that satisfies it.
            return record.auth_time.timestamp() < since
        if "login" in prompt:
            return True
        max_age = request.GET.get("max_age", "")
        if max_age.isdigit():
            return timezone.now().timestamp() - record.auth_time.timestamp() > int(max_age)
        return False

    def create_authorization_response(
        self, request: HttpRequest, scopes: str, credentials: dict[str, Any], allow: bool
    ) -> tuple[str, dict[str, str], str, int]:
        """The code goes with what this session's sign-in checked. Without consent, `get`
        has checked this very request; the consent form's answer is checked again here."""
        checked = getattr(self, "_checked", None)
        if checked is not None and checked[1].client_id == credentials["client_id"]:
            user, application, record = checked  # `get` checked this very request
        else:
            user = _signed_in(request)
            application = self._application(credentials)
            if not _open_to(application, user):
                raise OAuthToolkitError(
                    error=CustomOAuth2Error(error="access_denied", state=credentials.get("state")),
                    redirect_uri=credentials["redirect_uri"],
                )
            record = sessions.current(request)
        # oauthlib validates the request again before it issues the code; DOT reuses the
        # app it is given (its `_load_application`) instead of reading it a third time.
        credentials["client"] = application
        if record is not None:
            credentials["deskgate_facts"] = {
                "sid": record.sid,
                "amr": list(record.amr),
                "auth_time": record.auth_time,
            }
        answer = super().create_authorization_response(request, scopes, credentials, allow)
        if allow and record is not None:
            audit.record(
                AuditAction.OIDC_AUTHORIZED,
                client=user.client,
                by=actor_for(request, user),
                subject=user,
                summary=f"{user.label} signed in to {application.name}",
                app=application.name,
                client_id=application.client_id,
                amr=list(record.amr),
            )
        return answer

    def error_response(
        self, error: OAuthToolkitError, application: Any, **kwargs: Any
    ) -> HttpResponse:
        """DOT's answer, with the issuer in an error redirect as in a code redirect: RFC 9207
        (section 2) has error responses carry `iss` too, and the discovery document says
        authorization responses do. An error page (bad client or redirect URI) is left."""
        response = super().error_response(error, application, **kwargs)
        if isinstance(response, OAuth2ResponseRedirect):
            issuer = oauth2_settings.oauth2_authorization_server_issuer(self.request)
            response["Location"] = _with_issuer(response["Location"], issuer)
        return response

    def _refuse(self, error: str, description: str, credentials: dict[str, Any]) -> HttpResponse:
        application = self._application(credentials)
        failure = OAuthToolkitError(
            error=CustomOAuth2Error(
                error=error, description=description or None, state=credentials.get("state")
            ),
            redirect_uri=credentials["redirect_uri"],
        )
        return self.error_response(failure, application)

    def _audit_refusal(self, user: User, application: Any, reason: str) -> None:
        audit.record(
            AuditAction.OIDC_REFUSED,
            client=user.client,
            by=actor_for(self.request, user),
            subject=user,
            summary=f"Sign-in of {user.label} to {application.name} refused: {reason}",
            app=application.name,
            reason=reason,
        )


def _prompt(request: HttpRequest) -> set[str]:
    return set(request.GET.get("prompt", "").split())


def _without_prompt_login(url: str) -> str:
    """The same request without prompt=login (it is being satisfied now)."""
    parts = urlsplit(url)
    query = []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name == "prompt":
            value = " ".join(v for v in value.split() if v != "login")
            if not value:
                continue
        query.append((name, value))
    return parts._replace(query=urlencode(query)).geturl()


def _with_issuer(uri: str, issuer: str) -> str:
    parts = urlsplit(uri)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "iss"]
    return parts._replace(query=urlencode([*query, ("iss", issuer)])).geturl()


def _signed_in(request: HttpRequest) -> User:
    """The signed-in user, as the authentication middleware read them (with their client:
    DeskgateBackend.get_user) in this request."""
    user = request.user
    if isinstance(user, User) and user.pk is not None:
        return user
    return User.objects.select_related("client").get(pk=user.pk or 0)


def _asks_nothing_more(request: HttpRequest) -> bool:
    """Whether DOT's `get` would go straight to the code for an app that needs no
    consent: no account creation or login asked, no resource indicators to check."""
    return not {"create", "login"} & _prompt(request) and "resource" not in request.GET


def _open_to(application: Any, user: User) -> bool:
    return registry.open_to(application, user.client_id)


@method_decorator(transaction.atomic, name="post")
class Token(TokenView):
    """DOT's token endpoint, in one transaction from the code's claim to the saved tokens.

    The claim (validator.validate_code) is a conditional UPDATE of the code's
    `Authorization` row. Inside one transaction its row lock is held until the tokens are
    saved, so a second exchange of the same code waits, then finds the code spent and the
    tokens already written, and revokes them. Without it, a replay racing the first
    exchange ran between the claim and the save, revoked nothing, and the first
    exchange's tokens stayed valid although the code had been used twice.
    """

    @method_decorator(sensitive_post_parameters("password", "client_secret"))
    def authorization_flow_token_response(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> HttpResponse:
        """DOT's, without reading back the access token it has just saved when nothing
        listens to `app_authorized` (Deskgate does not): one statement less a token."""
        if app_authorized.has_listeners():
            return super().authorization_flow_token_response(request, *args, **kwargs)
        _, headers, body, status = self.create_token_response(request)
        response = HttpResponse(content=body, status=status)
        for name, value in headers.items():
            response[name] = value
        return response


class Discovery(ConnectDiscoveryInfoView):
    """DOT's discovery document, plus what Deskgate adds (docs/oidc.md)."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        import json

        response = super().get(request, *args, **kwargs)
        data = json.loads(response.content)
        data.update(
            {
                "acr_values_supported": claims.ACR_VALUES,
                "claims_parameter_supported": True,
                "backchannel_logout_supported": True,
                "backchannel_logout_session_supported": True,
                "frontchannel_logout_supported": False,
                "grant_types_supported": ["authorization_code", "refresh_token"],
                "response_modes_supported": ["query"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "revocation_endpoint": self._get_endpoint_url(request, "revoke-token", True),
                "introspection_endpoint": self._get_endpoint_url(request, "introspect", True),
            }
        )
        response.content = json.dumps(data).encode()
        response["Content-Length"] = str(len(response.content))
        return response


class Logout(RPInitiatedLogoutView):
    """RP-initiated logout: the Deskgate session ends as the sign-out button ends it, so
    every other app is told too (back-channel) and that session's tokens are revoked.

    django-oauth-toolkit's own token deletion is off (settings): it deletes every token
    of the user in every app, the user's other browsers' included, and tells no app.
    A hint from another session of the user (another browser) is asked about first, as
    RP-Initiated Logout 1.0 section 2 requires.
    """

    template_name = "oauth2_provider/logout_confirm.html"
    hint_sid = ""

    def validate_logout_request_user(self, id_token_hint: str | None, client_id: str | None) -> Any:
        id_token = super().validate_logout_request_user(id_token_hint, client_id)
        if id_token is not None:
            _, hint_claims = load_id_token(id_token_hint)
            self.hint_sid = str((hint_claims or {}).get("sid", ""))
        return id_token

    def must_prompt(self, token_user: Any) -> bool:
        if super().must_prompt(token_user):
            return True
        record = sessions.current(self.request)
        return record is not None and self.hint_sid != record.sid

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response: HttpResponse = super().get(request, *args, **kwargs)
        target = self.oidc_data.get("post_logout_redirect_uri")
        if target and response.status_code == 200:
            # The confirmation's form leads, by redirect, to the app's post-logout URI
            # (checked against its registration by now): browsers apply form-action to
            # that redirect too, as to a sign-in's (middleware.csp_for).
            parts = urlsplit(target)
            response.headers["Content-Security-Policy"] = (
                f"{CSP_BASE}; form-action 'self' {parts.scheme}://{parts.netloc}"
            )
        return response

    def get_request_application(self, id_token: Any, client_id: str | None) -> Any:
        """An unknown client_id is the app's mistake (400), not a server error."""
        try:
            return super().get_request_application(id_token, client_id)
        except get_application_model().DoesNotExist:
            raise InvalidOIDCClientError() from None

    def do_logout(
        self,
        application: Any = None,
        post_logout_redirect_uri: str | None = None,
        state: str | None = None,
        token_user: Any = None,
    ) -> HttpResponse:
        request = self.request
        if request.user.is_authenticated:
            user = User.objects.select_related("client").get(pk=request.user.pk or 0)
            audit.record(
                AuditAction.SIGNIN_SIGNED_OUT,
                client=user.client,
                by=actor_for(request, user),
                subject=user,
                summary=f"{user.label} signed out"
                + (f" from {application.name}" if application is not None else ""),
            )
            sessions.end(request)
        elif application is not None and token_user is not None and self.hint_sid:
            logout.app_signed_out(application, token_user, self.hint_sid)
        return super().do_logout(application, post_logout_redirect_uri, state, token_user)
