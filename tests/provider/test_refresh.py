"""Refresh tokens rotate on every use; a used one coming back revokes its whole family."""

from __future__ import annotations

from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import User
from tests.conftest import signed_in_client
from tests.provider.conftest import App
from tests.provider.test_codes import refused


def test_each_refresh_gives_a_new_refresh_token_and_the_old_one_is_refused(
    app: App, browser
) -> None:
    first = app.sign_in(browser)
    second = app.refresh(first["refresh_token"])
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["expires_in"] == 600
    third = app.refresh(second["refresh_token"])
    assert third["refresh_token"] not in {first["refresh_token"], second["refresh_token"]}
    assert app.userinfo(third["access_token"]).status_code == 200


def test_a_reused_refresh_token_revokes_the_whole_family(app: App, browser) -> None:
    first = app.sign_in(browser)
    second = app.refresh(first["refresh_token"])
    newest = app.refresh(second["refresh_token"])

    # Someone replays the first refresh token (stolen, or a retry of an old copy).
    assert refused(app.refresh, first["refresh_token"]) == "invalid_grant"

    assert refused(app.refresh, newest["refresh_token"]) == "invalid_grant"
    assert app.userinfo(newest["access_token"]).status_code == 401


def test_another_sign_in_is_another_family(app: App, browser, agent: User) -> None:
    mine = app.sign_in(browser)
    other = app.sign_in(signed_in_client(agent))  # the same person on a second desk
    app.refresh(mine["refresh_token"])
    assert refused(app.refresh, mine["refresh_token"]) == "invalid_grant"
    # Only the reused family is gone.
    assert app.refresh(other["refresh_token"])["access_token"]


def test_a_refresh_keeps_what_the_sign_in_checked(app: App, user_factory) -> None:
    user = user_factory("agent", "email")
    browser = signed_in_client(user)  # password and an Email code
    authorized = app.authorize(browser)
    first = app.exchange(authorized)
    signed_in = app.verify(first["id_token"], nonce=authorized.nonce)
    assert signed_in["amr"] == ["pwd", "otp", "mfa"]

    refreshed = app.verify(app.refresh(first["refresh_token"])["id_token"])

    for name in ("sub", "amr", "acr", "auth_time", "sid"):
        assert refreshed[name] == signed_in[name], name
    assert refreshed["acr"] == "urn:deskgate:acr:mfa"
    assert refreshed["iat"] >= signed_in["iat"]


def test_a_refresh_for_an_inactive_user_is_refused(app: App, browser, agent: User) -> None:
    token = app.sign_in(browser)
    actions.set_user_active(agent, False, by=OPERATOR)
    assert refused(app.refresh, token["refresh_token"]) == "invalid_grant"
    assert app.userinfo(token["access_token"]).status_code == 401
