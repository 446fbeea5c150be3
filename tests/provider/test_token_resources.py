"""A code exchange that names resources (RFC 8707) the provider refuses: an error for the
app, and the code is spent all the same.

The token endpoint claims the code before it checks the resources (views.Token,
validator.validate_code), and the claim stands when the answer is an error: no tokens are
written, and a second exchange of the code is a replay. These pin that answer, whatever
savepoints the token endpoint's writes take or skip.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import urlencode

from django.test import Client as HttpClient
from oauth2_provider.models import AccessToken, IDToken, RefreshToken

from deskgate.provider.models import Authorization
from tests.provider.conftest import App, Authorized


def exchange(app: App, authorized: Authorized, **extra: str) -> tuple[int, dict[str, str]]:
    """The app's POST /o/token/ with these extra body parameters: (status, answer)."""
    body = {
        "grant_type": "authorization_code",
        "code": authorized.code,
        "redirect_uri": app.redirect_uri,
        "code_verifier": authorized.verifier,
        **extra,
    }
    pair = f"{app.client_id}:{app.client_secret}".encode()
    response = HttpClient().post(
        "/o/token/",
        urlencode(body),
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=f"Basic {base64.b64encode(pair).decode()}",
    )
    return response.status_code, json.loads(response.content)


def test_a_resource_that_is_no_uri_is_refused_and_the_code_is_spent(app: App, browser) -> None:
    authorized = app.authorize(browser)

    status, answer = exchange(app, authorized, resource="not-an-absolute-uri")

    assert (status, answer["error"]) == (400, "invalid_target")
    assert Authorization.objects.get().exchanged_at is not None  # the claim stands
    assert not AccessToken.objects.exists() and not RefreshToken.objects.exists()
    status, answer = exchange(app, authorized)
    assert (status, answer["error"]) == (400, "invalid_grant")
    assert not AccessToken.objects.exists() and not RefreshToken.objects.exists()


def test_a_resource_beyond_the_granted_ones_is_refused_and_the_code_is_spent(
    app: App, browser
) -> None:
    authorized = app.authorize(browser, resource="https://api.example.com/")

    status, answer = exchange(app, authorized, resource="https://other.example.com/")

    assert (status, answer["error"]) == (400, "invalid_target")
    assert Authorization.objects.get().exchanged_at is not None
    assert not AccessToken.objects.exists() and not RefreshToken.objects.exists()
    status, answer = exchange(app, authorized, resource="https://api.example.com/")
    assert (status, answer["error"]) == (400, "invalid_grant")


def test_a_granted_resource_goes_on_the_tokens(app: App, browser) -> None:
    authorized = app.authorize(browser, resource="https://api.example.com/")

    status, answer = exchange(app, authorized)

    assert status == 200, answer
    assert AccessToken.objects.get().resource == ["https://api.example.com/"]
    assert RefreshToken.objects.get().resource == ["https://api.example.com/"]
    assert IDToken.objects.count() == 1
