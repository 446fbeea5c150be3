"""The relying party's side of the protocol, in process.

The app is Authlib's real OAuth 2 client (`OAuth2Session`: PKCE S256, client_secret_basic
or _post, token parsing, refresh, revocation, introspection), and its HTTP goes to Deskgate
through Django's test client (`ThroughDjango`, a `requests` transport adapter): the bytes
on the wire are Authlib's, no server thread is needed, and the `clock` fixture and query
counting see every request. The person's browser is a separate Django test client signed
in through the real sign-in (`signed_in_client`): it only visits the authorization URL and
hands the redirect back, as a browser does. ID tokens are verified with joserfc against
the JWKS the provider publishes.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from django.conf import settings as django_settings
from django.test import Client as HttpClient
from joserfc import jwt
from joserfc.jwk import KeySet
from oauth2_provider.models import Application, Grant
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import User
from deskgate.provider import registry
from tests.conftest import signed_in_client

REDIRECT_URI = "http://127.0.0.1:8765/callback"
SCOPE = "openid profile email deskgate offline_access"


def issuer() -> str:
    return str(django_settings.OAUTH2_PROVIDER["OIDC_ISS_ENDPOINT"])


class ThroughDjango(BaseAdapter):
    """A `requests` transport that hands each request to Django's test client.

    Only the transport is replaced: method, path, query, headers (Authorization: Basic,
    Bearer) and the form body are exactly what the client library built.
    """

    def __init__(self) -> None:
        super().__init__()
        self.http = HttpClient()

    def send(  # type: ignore[override]  # requests passes these by keyword
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        assert request.url is not None and request.method is not None
        parts = urlsplit(request.url)
        headers = {
            name: _text(value)
            for name, value in request.headers.items()
            if name.lower() not in {"content-type", "content-length", "host"}
        }
        body = request.body or b""
        answer = self.http.generic(
            request.method,
            parts.path + (f"?{parts.query}" if parts.query else ""),
            data=body.encode() if isinstance(body, str) else body,
            content_type=_text(request.headers.get("Content-Type", "")),
            secure=parts.scheme == "https",
            headers={**headers, "Host": parts.netloc},
        )
        response = requests.Response()
        response.status_code = answer.status_code
        response.reason = answer.reason_phrase
        response.headers = CaseInsensitiveDict(dict(answer.items()))
        response._content = answer.content
        response.encoding = answer.charset
        response.url = request.url
        response.request = request
        return response

    def close(self) -> None:
        pass


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def rp_session(**kwargs: Any) -> OAuth2Session:
    """An Authlib session whose HTTP goes to Deskgate in process."""
    session = OAuth2Session(code_challenge_method="S256", **kwargs)
    adapter = ThroughDjango()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


@dataclass
class Authorized:
    """What the browser brought back to the app's redirect URI."""

    location: str
    verifier: str
    state: str
    nonce: str

    @property
    def params(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.location).query).items()}

    @property
    def code(self) -> str:
        return self.params["code"]


@dataclass
class App:
    """A registered app and the relying party that is its code (Authlib's client)."""

    client_id: str
    client_secret: str | None
    redirect_uri: str = REDIRECT_URI
    auth_method: str = "client_secret_basic"
    scope: str = SCOPE
    _metadata: dict[str, Any] = field(default_factory=dict)

    def session(self, **overrides: Any) -> OAuth2Session:
        options: dict[str, Any] = {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "redirect_uri": self.redirect_uri,
            "scope": self.scope,
            "token_endpoint_auth_method": self.auth_method if self.client_secret else "none",
        }
        return rp_session(**(options | overrides))

    @property
    def metadata(self) -> dict[str, Any]:
        if not self._metadata:
            response = rp_session().get(
                f"{issuer()}/.well-known/openid-configuration", withhold_token=True
            )
            assert response.status_code == 200, response.text[:300]
            self._metadata.update(response.json())
        return self._metadata

    def endpoint(self, name: str) -> str:
        return str(self.metadata[name])

    def authorization_url(self, **params: Any) -> tuple[str, str, str, str]:
        """The URL the app sends the browser to: (url, verifier, state, nonce)."""
        verifier = params.pop("code_verifier", secrets.token_urlsafe(48))
        state = secrets.token_urlsafe(16)
        nonce = secrets.token_urlsafe(16)
        url, state = self.session().create_authorization_url(
            self.endpoint("authorization_endpoint"),
            state=state,
            nonce=nonce,
            code_verifier=verifier,
            **params,
        )
        return url, verifier, state, nonce

    def visit(self, browser: HttpClient, **params: Any) -> Any:
        """The browser visits an authorization URL built by the library with these
        parameters (a `code_verifier` of None: no PKCE); answers the response as is."""
        url, *_ = self.authorization_url(**params)
        return browser.get(url)

    def authorize(self, browser: HttpClient, **params: Any) -> Authorized:
        """The browser visits the authorization URL; answers where it was sent back."""
        url, verifier, state, nonce = self.authorization_url(**params)
        response = browser.get(url)
        assert response.status_code == 302, (response.status_code, response.content[:500])
        return Authorized(response["Location"], verifier, state, nonce)

    def exchange(self, authorized: Authorized, **overrides: Any) -> dict[str, Any]:
        """The app's back channel: the code for tokens (Authlib raises OAuthError if refused)."""
        token = self.session(state=authorized.state, **overrides).fetch_token(
            self.endpoint("token_endpoint"),
            authorization_response=authorized.location,
            code_verifier=authorized.verifier,
        )
        return dict(token)

    def sign_in(self, browser: HttpClient, **params: Any) -> dict[str, Any]:
        return self.exchange(self.authorize(browser, **params))

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        return dict(
            self.session().refresh_token(
                self.endpoint("token_endpoint"), refresh_token=refresh_token
            )
        )

    def userinfo(self, access_token: str) -> requests.Response:
        return self.session(token={"access_token": access_token, "token_type": "Bearer"}).get(
            self.endpoint("userinfo_endpoint")
        )

    def jwks(self) -> KeySet:
        return KeySet.import_key_set(
            rp_session().get(self.endpoint("jwks_uri"), withhold_token=True).json()
        )

    def verify(self, id_token: str, *, nonce: str | None = None) -> dict[str, Any]:
        """The ID token's claims, after checking its signature against the published JWKS
        and the claims an app must check (iss, aud, exp, nonce)."""
        decoded = jwt.decode(id_token, self.jwks(), algorithms=["RS256"])
        expected: dict[str, Any] = {
            "iss": {"essential": True, "value": issuer()},
            "aud": {"essential": True, "value": self.client_id},
            "exp": {"essential": True},
            "sub": {"essential": True},
        }
        if nonce is not None:
            expected["nonce"] = {"essential": True, "value": nonce}
        jwt.JWTClaimsRegistry(**expected).validate(decoded.claims)
        return dict(decoded.claims)


def a_grant(application: Application, user: User, code: str, *, expires: datetime) -> Grant:
    """A grant (an authorization code) as the authorization endpoint writes one, not saved:
    every field set, a PKCE challenge, a nonce and a resource among them."""
    return Grant(
        application=application,
        user=user,
        code=code,
        expires=expires,
        redirect_uri=REDIRECT_URI,
        scope="openid profile",
        code_challenge="x" * 43,
        code_challenge_method="S256",
        nonce="n",
        claims="{}",
        resource=["https://api.example.com/"],
    )


def redirect_answer(response: Any) -> dict[str, str]:
    """The parameters an authorization response carried back to the app, from the query
    and the fragment alike (an implicit answer would use the fragment)."""
    assert response.status_code == 302, (response.status_code, response.content[:300])
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    found = parse_qs(location.query) | parse_qs(location.fragment)
    return {name: values[0] for name, values in found.items()}


@pytest.fixture
def register(db: None) -> Callable[..., App]:
    """register(name=..., public=..., clients=[...]) registers an app through the action
    the commands use, and answers its relying party."""

    def make(name: str | None = None, *, public: bool = False, **kwargs: Any) -> App:
        data = registry.AppInput(
            name=name or f"App {secrets.token_hex(3)}",
            redirect_uris=kwargs.pop("redirect_uris", [REDIRECT_URI]),
            public=public,
            **kwargs,
        )
        registered = registry.register_app(data, by=OPERATOR)
        return App(registered.application.client_id, registered.client_secret)

    return make


@pytest.fixture
def app(register: Callable[..., App]) -> App:
    return register("Agent desktop")


@pytest.fixture
def agent(user_factory: Callable[..., User]) -> User:
    return user_factory("agent", username="olli.agent", full_name="Olli Agent")


@pytest.fixture
def browser(agent: User) -> Iterator[HttpClient]:
    """The agent's browser, signed in to Deskgate (password only: an Off user)."""
    yield signed_in_client(agent)
