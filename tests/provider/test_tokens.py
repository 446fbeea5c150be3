"""Access tokens: ten minutes, visible to resource servers (introspection), revocable."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.provider.conftest import App
from tests.provider.test_codes import refused


@pytest.fixture
def resource_server(register) -> App:
    """An API that checks the tokens apps send it: registered like an app, it
    introspects with its own client credentials (RFC 7662 section 2.1)."""
    return register("Reporting API")


def introspect(server: App, token: str, hint: str = "access_token") -> dict[str, Any]:
    response = server.session().introspect_token(
        server.endpoint("introspection_endpoint"), token=token, token_type_hint=hint
    )
    assert response.status_code == 200, (response.status_code, response.text[:300])
    return dict(response.json())


def test_an_access_token_lives_ten_minutes(app: App, browser, clock, resource_server) -> None:
    token = app.sign_in(browser)
    assert token["expires_in"] == 600
    clock(timedelta(seconds=599))
    assert app.userinfo(token["access_token"]).status_code == 200
    assert introspect(resource_server, token["access_token"])["active"] is True
    clock(timedelta(seconds=2))
    assert app.userinfo(token["access_token"]).status_code == 401
    assert introspect(resource_server, token["access_token"])["active"] is False


def test_introspection_tells_a_resource_server_about_a_live_token(
    app: App, browser, agent, resource_server
) -> None:
    token = app.sign_in(browser)
    answer = introspect(resource_server, token["access_token"])
    assert answer["active"] is True
    assert answer["client_id"] == app.client_id
    assert answer["username"] == agent.username
    assert set(answer["scope"].split()) >= {"openid", "profile", "email", "deskgate"}
    assert answer["exp"] > 0


def test_introspection_needs_a_resource_servers_credentials(app: App, browser) -> None:
    token = app.sign_in(browser)
    anonymous = app.session(client_secret=None, token_endpoint_auth_method="none")
    response = anonymous.introspect_token(
        app.endpoint("introspection_endpoint"), token=token["access_token"]
    )
    assert response.status_code in {401, 403}
    assert "active" not in response.text
    wrong = app.session(client_secret="not-the-secret")
    response = wrong.introspect_token(
        app.endpoint("introspection_endpoint"), token=token["access_token"]
    )
    assert response.status_code in {401, 403}


def test_a_revoked_access_token_stops_working(app: App, browser, resource_server) -> None:
    token = app.sign_in(browser)
    assert introspect(resource_server, token["access_token"])["active"] is True
    response = app.session().revoke_token(
        app.endpoint("revocation_endpoint"),
        token=token["access_token"],
        token_type_hint="access_token",
    )
    assert response.status_code == 200
    assert introspect(resource_server, token["access_token"])["active"] is False
    assert app.userinfo(token["access_token"]).status_code == 401


def test_a_revoked_refresh_token_cannot_refresh(app: App, browser) -> None:
    token = app.sign_in(browser)
    response = app.session().revoke_token(
        app.endpoint("revocation_endpoint"),
        token=token["refresh_token"],
        token_type_hint="refresh_token",
    )
    assert response.status_code == 200
    assert refused(app.refresh, token["refresh_token"]) == "invalid_grant"


def test_an_app_cannot_revoke_another_apps_token(app: App, register, browser) -> None:
    token = app.sign_in(browser)
    other = register("Wallboard")
    other.session().revoke_token(
        other.endpoint("revocation_endpoint"),
        token=token["access_token"],
        token_type_hint="access_token",
    )
    assert app.userinfo(token["access_token"]).status_code == 200
