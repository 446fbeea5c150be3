"""The code step through HTTP, as a browser drives it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client as HttpClient

from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import AuditEvent
from deskgate.signin.models import PendingSignIn, RememberedDevice
from tests.conftest import sign_in
from tests.mailbox import codes_sent_to, last_code


def enter(http: HttpClient, code: str, remember: bool = False):
    data = {"action": "verify", "code": code}
    if remember:
        data["remember"] = "on"
    return http.post("/signin/code/", data)


@pytest.mark.parametrize("method", ["email", "sms"])
def test_password_then_code_then_session(user_factory, method: str) -> None:
    user = user_factory("agent", method)
    http = HttpClient()
    response = sign_in(http, user)
    assert response.status_code == 302 and response["Location"] == "/signin/code/"
    page = http.get("/signin/code/")
    text = page.content.decode()
    assert user.masked_mfa_destination() in text
    assert "Resend code" in text and "Remember device for 30 days" in text
    assert last_code(user) not in text  # the code never reaches a page
    assert "_auth_user_id" not in http.session
    response = enter(http, last_code(user))
    assert response.status_code == 302
    assert http.session["_auth_user_id"] == str(user.pk)
    assert http.get("/account/").status_code == 200
    assert AuditEvent.objects.filter(action="signin.success", subject=user).exists()


def test_wrong_code_message_keeps_the_step(user_factory) -> None:
    user = user_factory("agent", "email")
    http = HttpClient()
    sign_in(http, user)
    code = last_code(user)
    bad = "000000" if code != "000000" else "111111"
    response = enter(http, bad)
    assert response.status_code == 200
    assert "That code is not right. 4 tries left for this code." in response.content.decode()
    assert f'value="{bad}"' in response.content.decode()  # what was typed stays
    assert enter(http, code).status_code == 302


@pytest.mark.parametrize(
    ("release", "method"), [("11.8", "off"), ("25.4", "off")], ids=["11.x", "mfa-off"]
)
def test_no_code_step_when_mfa_does_not_apply(user_factory, tenant_factory, release, method):
    client = tenant_factory(release=release)
    user = user_factory("agent", method, client=client)
    http = HttpClient()
    response = sign_in(http, user)
    assert response["Location"] == "/"
    assert codes_sent_to(user) == 0
    assert http.session["_auth_user_id"] == str(user.pk)


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/account/",
        "/users/",
        "/templates/",
        "/audit/",
        "/signin/password/",
        "/signin/new-password/",
        "/settings/",
    ],
)
def test_no_page_opens_with_only_the_password(user_factory, path: str) -> None:
    user = user_factory("admin", "email")
    http = HttpClient()
    sign_in(http, user)
    response = http.get(path)
    assert response.status_code in (302, 403)
    if response.status_code == 302:
        assert response["Location"].startswith(("/signin/", "/signin/code/"))
    assert "_auth_user_id" not in http.session


def test_the_pending_sign_in_expires(user_factory, clock) -> None:
    user = user_factory("agent", "email")
    http = HttpClient()
    sign_in(http, user)
    code = last_code(user)
    clock(timedelta(minutes=16))
    response = enter(http, code)
    assert response.status_code == 302 and response["Location"] == "/signin/"
    assert "_auth_user_id" not in http.session


def test_the_code_step_ignores_who_the_request_names(user_factory) -> None:
    victim = user_factory("agent", "email")
    attacker = user_factory("agent", "email")
    http = HttpClient()
    sign_in(http, attacker)
    code = last_code(attacker)
    http.post(
        "/signin/code/",
        {
            "action": "verify",
            "code": code,
            "username": victim.username,
            "user": victim.pk,
            "user_id": victim.pk,
        },
    )
    assert http.session["_auth_user_id"] == str(attacker.pk)


def test_resend_shows_the_new_code_notice(user_factory, clock) -> None:
    user = user_factory("agent", "email")
    http = HttpClient()
    sign_in(http, user)
    first = http.post("/signin/code/", {"action": "resend"}, follow=True).content.decode()
    assert "Wait" in first and "seconds before asking for a new code" in first
    clock(timedelta(seconds=31))
    page = http.post("/signin/code/", {"action": "resend"}, follow=True).content.decode()
    assert "The previous code no longer works." in page
    assert codes_sent_to(user) == 2


def test_remember_device_skips_the_step_until_the_method_changes(user_factory) -> None:
    user = user_factory("agent", "email")
    http = HttpClient()
    sign_in(http, user)
    response = enter(http, last_code(user), remember=True)
    cookie = response.cookies["deskgate_device"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    http.post("/signin/sign-out/")
    assert sign_in(http, user)["Location"] == "/"  # no code this time
    assert codes_sent_to(user) == 1
    http.post("/signin/sign-out/")
    actions.change_mfa_method(user, "sms", by=OPERATOR)
    assert not RememberedDevice.objects.filter(user=user).exists()
    assert sign_in(http, user)["Location"] == "/signin/code/"


def test_a_remembered_device_is_not_another_users(user_factory) -> None:
    a = user_factory("agent", "email")
    b = user_factory("agent", "email")
    http = HttpClient()
    sign_in(http, a)
    enter(http, last_code(a), remember=True)
    http.post("/signin/sign-out/")
    assert sign_in(http, b)["Location"] == "/signin/code/"


def test_the_client_can_turn_remembering_off(user_factory, tenant) -> None:
    user = user_factory("agent", "email")
    tenant.remember_device_enabled = False
    tenant.save()
    http = HttpClient()
    sign_in(http, user)
    assert "Remember device" not in http.get("/signin/code/").content.decode()
    response = enter(http, last_code(user), remember=True)
    assert "deskgate_device" not in response.cookies


def test_password_change_voids_remembered_devices(user_factory) -> None:
    user = user_factory("agent", "email")
    http = HttpClient()
    sign_in(http, user)
    enter(http, last_code(user), remember=True)
    actions.set_password(user, "a brand new long passphrase", by=OPERATOR)
    assert not RememberedDevice.objects.filter(user=user).exists()


def test_admin_unlocks_and_revokes_from_the_users_page(user_factory, admin_http) -> None:
    user = user_factory("agent", "email")
    http = HttpClient()
    sign_in(http, user)
    enter(http, last_code(user), remember=True)
    page = admin_http.get(f"/users/{user.pk}/").content.decode()
    assert "1 remembered device" in page
    admin_http.post(f"/users/{user.pk}/revoke-devices/")
    assert not RememberedDevice.objects.filter(user=user).exists()
    assert AuditEvent.objects.filter(action="devices.revoked", subject=user).exists()


def test_changing_the_destination_voids_a_pending_code(user_factory) -> None:
    user = user_factory("agent", "email")
    http = HttpClient()
    sign_in(http, user)
    code = last_code(user)
    data = actions.UserInput.of(user)
    data.email = "new.address@example.com"
    actions.update_user(user, data, by=OPERATOR)
    assert not PendingSignIn.objects.filter(user=user).exists()
    response = enter(http, code)
    assert response["Location"] == "/signin/"
    assert "_auth_user_id" not in http.session
