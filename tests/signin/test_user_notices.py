"""Smaller things people notice (issue 15): the password policy before the first try,
who to ask when self-service reset is off, and remembered devices named from the browser."""

from __future__ import annotations

import pytest
from django.test import Client as HttpClient

from deskgate.signin.models import RememberedDevice
from deskgate.signin.useragent import device_name
from tests.conftest import sign_in, signed_in_client
from tests.mailbox import last_code

pytestmark = pytest.mark.django_db

CHROMIUM_LINUX = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"


@pytest.mark.parametrize(
    ("user_agent", "name"),
    [
        (CHROMIUM_LINUX, "Chrome on Linux"),
        (IPHONE, "Mobile Safari on iOS"),
        (FIREFOX_WINDOWS, "Firefox on Windows"),
        ("python-requests/2.32", "Python Requests"),
        ("", "A browser"),
        ("\x00garbage", "A browser"),
    ],
)
def test_a_device_is_named_from_its_user_agent(user_agent: str, name: str) -> None:
    assert device_name(user_agent) == name


def test_remembered_devices_are_listed_by_name(user_factory, admin_user) -> None:
    aino = user_factory("agent", "email", username="aino.agent")
    http = HttpClient(HTTP_USER_AGENT=CHROMIUM_LINUX)
    sign_in(http, aino)
    response = http.post(
        "/signin/code/", {"action": "verify", "code": last_code(aino), "remember": "on"}
    )
    assert response.status_code == 302
    assert RememberedDevice.objects.get(user=aino).label == CHROMIUM_LINUX
    account = http.get("/account/").content.decode()
    assert "Chrome on Linux" in account and "AppleWebKit" not in account
    user_page = signed_in_client(admin_user).get(f"/users/{aino.pk}/").content.decode()
    assert "Chrome on Linux" in user_page and "AppleWebKit" not in user_page


@pytest.mark.parametrize(("mfa", "minimum"), [("email", 8), ("off", 15)])
def test_change_password_shows_the_policy_before_the_first_try(
    user_factory, mfa: str, minimum: int
) -> None:
    user = user_factory("agent", mfa)
    page = signed_in_client(user).get("/signin/password/").content.decode()
    assert f"At least {minimum} characters" in page
    assert "Not a commonly used password." in page
    assert "Not your user name, your name, your company&#x27;s name" in page
    assert '<a href="/account/">Back to your account</a>' in page
    assert 'role="alert"' not in page  # no failure shown yet


def test_the_reset_page_says_who_to_ask(client, tenant) -> None:
    assert not tenant.password_reset_enabled
    assert 'href="/signin/reset/"' in client.get("/signin/").content.decode()
    page = client.get("/signin/reset/").content.decode()
    assert "No self-service reset at your company? Your Deskgate admin" in page
    sent = client.post("/signin/reset/", {"email": "someone@example.com"}).content.decode()
    assert "Your company may not allow self-service reset" in sent
