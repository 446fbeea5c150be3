"""Authorization codes: single use, 60 seconds, and a replay revokes what the code gave.

RFC 6749 section 4.1.2: "If an authorization code is used more than once, the
authorization server MUST deny the request and SHOULD revoke (when possible) all tokens
previously issued based on that authorization code."
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from authlib.integrations.base_client.errors import OAuthError
from oauth2_provider.models import AccessToken

from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import AuditEvent, User
from tests.provider.conftest import App


def refused(call, *args, **kwargs) -> str:
    """The OAuth error code of a call the provider must refuse."""
    with pytest.raises(OAuthError) as caught:
        call(*args, **kwargs)
    return str(caught.value.error)


def test_a_replayed_code_is_refused_and_revokes_the_first_exchange(
    app: App, browser, agent: User
) -> None:
    authorized = app.authorize(browser)
    first = app.exchange(authorized)
    assert app.userinfo(first["access_token"]).status_code == 200

    assert refused(app.exchange, authorized) == "invalid_grant"

    assert app.userinfo(first["access_token"]).status_code == 401
    assert refused(app.refresh, first["refresh_token"]) == "invalid_grant"
    event = AuditEvent.objects.get(action="oidc.code_replayed")
    assert event.subject == agent and event.client == agent.client
    assert event.detail["app"] == "Agent desktop" and event.detail["revoked"] == 1


def test_a_code_of_another_app_is_refused(app: App, register, browser) -> None:
    other = register("Wallboard")
    authorized = app.authorize(browser)
    assert refused(other.exchange, authorized) == "invalid_grant"
    # The code was not spent by the wrong app: its own app still gets tokens once.
    assert app.exchange(authorized)["access_token"]


def test_a_code_lives_sixty_seconds(app: App, browser, clock) -> None:
    fresh = app.authorize(browser)
    stale = app.authorize(browser)
    clock(timedelta(seconds=59))
    assert app.exchange(fresh)["access_token"]
    clock(timedelta(seconds=2))
    assert refused(app.exchange, stale) == "invalid_grant"


@pytest.mark.parametrize(
    "change",
    [
        lambda user: actions.set_user_active(user, False, by=OPERATOR),
        lambda user: actions.set_password(user, "violet kettle under moonlight", by=OPERATOR),
    ],
    ids=["deactivated", "new-password"],
)
def test_a_code_issued_before_an_account_change_gives_nothing(
    app: App, browser, agent: User, change
) -> None:
    authorized = app.authorize(browser)
    change(agent)  # an admin acts within the code's minute
    assert refused(app.exchange, authorized) == "invalid_grant"
    assert not AccessToken.objects.filter(user=agent).exists()
