"""PKCE (S256) for every app, the code flow alone, and how apps prove who they are."""

from __future__ import annotations

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from deskgate.accounts.models import AuditEvent
from tests.provider.conftest import App, redirect_answer
from tests.provider.test_codes import refused

# --- PKCE at the authorization endpoint -------------------------------------------------


def test_an_authorization_request_without_a_code_challenge_is_refused(app: App, browser) -> None:
    answer = redirect_answer(app.visit(browser, code_verifier=None))
    assert answer["error"] == "invalid_request"
    assert "code" not in answer
    assert not AuditEvent.objects.filter(action="oidc.authorized").exists()


def test_the_plain_code_challenge_method_is_refused(app: App, browser) -> None:
    verifier = "v" * 50
    answer = redirect_answer(
        app.visit(
            browser,
            code_verifier=None,
            code_challenge=verifier,
            code_challenge_method="plain",
        )
    )
    assert answer["error"] == "invalid_request"
    assert "code" not in answer


def test_a_wrong_code_verifier_at_the_token_endpoint_is_refused(app: App, browser) -> None:
    authorized = app.authorize(browser)
    right = authorized.verifier
    authorized.verifier = right[::-1]
    assert refused(app.exchange, authorized) == "invalid_grant"
    # Whoever tried the code without its verifier spent it: the app's own try after that
    # is a second use (refused, and audited as one).
    authorized.verifier = right
    assert refused(app.exchange, authorized) == "invalid_grant"
    assert AuditEvent.objects.filter(action="oidc.code_replayed").count() == 1


def test_a_missing_code_verifier_at_the_token_endpoint_is_refused(app: App, browser) -> None:
    authorized = app.authorize(browser)
    authorized.verifier = ""
    # Authlib sends no code_verifier when it has none.
    assert refused(app.exchange, authorized) == "invalid_request"


# --- the code flow alone -----------------------------------------------------------------


@pytest.mark.parametrize(
    "response_type",
    ["token", "id_token", "id_token token", "code id_token", "code token", "code id_token token"],
)
def test_implicit_and_hybrid_response_types_are_refused(app: App, browser, response_type) -> None:
    verifier = "w" * 50
    response = app.visit(
        browser,
        response_type=response_type,
        code_verifier=None,
        code_challenge=create_s256_code_challenge(verifier),
        code_challenge_method="S256",
    )
    if response.status_code == 302:
        answer = redirect_answer(response)
        assert answer["error"] in {"unsupported_response_type", "unauthorized_client"}, answer
        assert not {"code", "access_token", "id_token"} & set(answer)
    else:  # refused on a page of its own: nothing went to the app at all
        assert response.status_code == 400, response.status_code
    assert not AuditEvent.objects.filter(action="oidc.authorized").exists()


# --- client authentication ---------------------------------------------------------------


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_a_confidential_app_authenticates_with_basic_or_post(app: App, browser, method) -> None:
    app.auth_method = method
    token = app.sign_in(browser)
    assert token["token_type"] == "Bearer" and token["access_token"]


def test_a_confidential_app_with_a_wrong_secret_is_refused(app: App, browser) -> None:
    authorized = app.authorize(browser)
    assert refused(app.exchange, authorized, client_secret="not-the-secret") == "invalid_client"
    # A wrong secret did not spend the code: the app with its own secret still gets tokens.
    assert app.exchange(authorized)["access_token"]


def test_a_confidential_app_without_its_secret_is_refused(app: App, browser) -> None:
    authorized = app.authorize(browser)
    outcome = refused(
        app.exchange, authorized, client_secret=None, token_endpoint_auth_method="none"
    )
    assert outcome == "invalid_client"


def test_a_public_app_needs_no_secret_but_needs_pkce(register, browser) -> None:
    public = register("Wallboard", public=True)
    assert public.client_secret is None
    token = public.sign_in(browser)
    assert token["access_token"] and token["id_token"]

    authorized = public.authorize(browser)
    authorized.verifier = ""
    assert refused(public.exchange, authorized) == "invalid_request"
    authorized = public.authorize(browser)
    authorized.verifier = "x" * 50
    assert refused(public.exchange, authorized) == "invalid_grant"
