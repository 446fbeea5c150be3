"""Queries for one app sign-in: a bound, so the provider's cost cannot creep up unnoticed.

Measured on a second authorization of the same app by the same browser, as an agent's
desktop signs in again during a shift. The budgets are today's counts (SQLite and
PostgreSQL alike); the test wraps each request in a transaction, so the token
endpoint's transaction shows as SAVEPOINT statements here. The authorization endpoint
validates the request once and checks the person and the app once; the token endpoint
reads the grant once for all of DOT's questions (the validator caches it per request),
which took it from 26 statements to 20.

Issue 17 took them to 8, 13 and 1 (from 13, 20 and 2): the authorization reads the app once
(oauthlib's second validation and DOT's `get` reuse it), takes the signed-in user as the
authentication middleware read them, and asks whether the app is open to the user's client
in one fixed statement; the token endpoint claims the code with one UPDATE ... RETURNING
that also names the token family, links the ID token it has just saved without reading it
back, and reads the user's client with the grant; UserInfo reads the client with the token.
Then 13 to 9: the token endpoint saves the ID token and the access and refresh tokens in
its own transaction without a savepoint each (DOT's two SAVEPOINT/RELEASE pairs); then 8:
the grant's read brings its app, which the client's authentication takes. Then 6 for the
authorization (issue 17, session 12): the app's read says whether it lists the clients it
is open to (an app open to all asks no more; this one), and the user's read brings the
session's record (`sessions.current`).
"""

from __future__ import annotations

from tests.provider.conftest import App, Authorized

AUTHORIZE_BUDGET = 6
TOKEN_BUDGET = 8
USERINFO_BUDGET = 1


def test_an_app_sign_in_stays_within_its_query_budget(
    app: App, browser, django_assert_max_num_queries
) -> None:
    app.sign_in(browser)  # the app has its discovery document and JWKS; the session is warm
    url, verifier, state, nonce = app.authorization_url()
    session = app.session(state=state)
    token_endpoint = app.endpoint("token_endpoint")

    with django_assert_max_num_queries(AUTHORIZE_BUDGET):
        response = browser.get(url)
    authorized = Authorized(response["Location"], verifier, state, nonce)
    with django_assert_max_num_queries(TOKEN_BUDGET):
        token = session.fetch_token(
            token_endpoint, authorization_response=authorized.location, code_verifier=verifier
        )
    with django_assert_max_num_queries(USERINFO_BUDGET):
        assert app.userinfo(token["access_token"]).status_code == 200
