"""What the authorization endpoint answers before any code: found by the browser tests
(tests/browser/test_oidc_provider.py), held here without a browser."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.test import Client as HttpClient

from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import Client, User
from deskgate.provider import registry
from deskgate.provider.registry import issuer
from tests.conftest import PASSWORD

APP_URI = "http://127.0.0.1:9/callback"


@pytest.fixture
def client_id(tenant: Client) -> str:
    registered = registry.register_app(
        registry.AppInput(name="Reports", redirect_uris=[APP_URI], clients=["Northwind"]),
        by=OPERATOR,
    )
    return registered.application.client_id


def authorize(client_id: str, **extra: str) -> str:
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": APP_URI,
        "scope": "openid",
        "state": "s1",
        "nonce": "n1",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
        **extra,
    }
    return "/o/authorize/?" + urlencode(query)


def answer_at_app(response: Any) -> dict[str, list[str]]:
    assert response.status_code == 302, response.content[:300]
    location = response["Location"]
    assert location.startswith(APP_URI + "?"), location
    return parse_qs(urlsplit(location).query)


def form_action(response: Any) -> str:
    directives = dict(
        d.strip().split(" ", 1) for d in response["Content-Security-Policy"].split(";")
    )
    return directives["form-action"]


def test_sign_in_pages_let_their_forms_lead_on_to_the_app(
    client_id: str, user_factory: Callable[..., User]
) -> None:
    """Chromium applies the password page's form-action to the whole redirect chain of its
    form (password, the authorization endpoint, the app), so the app's origin must be in
    it while a sign-in for that app is under way; and only then."""
    agent = user_factory("agent", "off")
    http = HttpClient()
    assert form_action(http.get("/signin/")) == "'self'"
    assert http.get(authorize(client_id))["Location"] == "/signin/"

    assert form_action(http.get("/signin/")) == "'self' http://127.0.0.1:9"

    done = http.post("/signin/", {"username": agent.username, "password": PASSWORD})
    assert answer_at_app(http.get(done["Location"]))["code"]
    assert form_action(http.get("/account/")) == "'self'"  # the sign-in is over


def test_prompt_none_not_signed_in_answers_login_required_with_the_issuer(
    client_id: str,
) -> None:
    answer = answer_at_app(HttpClient().get(authorize(client_id, prompt="none")))
    assert answer["error"] == ["login_required"] and "code" not in answer
    assert answer["state"] == ["s1"]
    assert answer["iss"] == [issuer()]  # RFC 9207: in error responses too


def test_access_denied_tells_the_app_the_issuer_and_nothing_else(
    client_id: str, tenant_factory: Callable[..., Client], user_factory: Callable[..., User]
) -> None:
    stranger = user_factory("agent", "off", client=tenant_factory("Contoso"))
    http = HttpClient()
    http.post("/signin/", {"username": stranger.username, "password": PASSWORD})

    answer = answer_at_app(http.get(authorize(client_id)))

    assert answer == {"error": ["access_denied"], "state": ["s1"], "iss": [issuer()]}
