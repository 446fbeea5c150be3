"""Enrolment of an authenticator app cannot be reached on the password alone (issue 14).

Setting the app up, removing it and making new recovery codes need a second factor
checked by this session within 15 minutes; a session signed in with the password alone (MFA
Off, or a remembered device), an old one, or an 11.x client gets no secret, no QR code and
no change. Recovery codes are shown once, in a no-store response, and kept nowhere else.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client as HttpClient

from deskgate.signin import factors
from deskgate.signin.models import AuthenticatorApp
from tests.authenticator import app_code, enrol
from tests.conftest import sign_in
from tests.mailbox import last_code

SETUP = "/account/authenticator/"
SECRET_SHOWN = re.compile(rb'id="totp-secret"')


def _secret_on(page) -> str:
    match = re.search(r'id="totp-secret"[^>]*>([A-Z2-7 ]+)<', page.content.decode())
    assert match, page.content[:2000]
    return match.group(1).replace(" ", "")


def _refused(http: HttpClient, user) -> None:
    page = http.get(SETUP)
    assert page.status_code == 200
    assert not SECRET_SHOWN.search(page.content) and b"<svg" not in page.content
    posted = http.post(SETUP, {"code": "123456"})
    assert not SECRET_SHOWN.search(posted.content)
    assert not AuthenticatorApp.objects.filter(user=user).exists()


def test_mfa_off_password_only_session_cannot_enrol(user_factory, signed_in) -> None:
    user = user_factory("agent", "off")
    http = signed_in(user)
    _refused(http, user)
    assert b"Ask your admin to set your MFA to Email or SMS first" in http.get(SETUP).content
    # Nor through the step-up: there is no factor to step up with.
    http.post("/account/authenticator/prove/", {"then": "setup"})
    _refused(http, user)


def test_legacy_client_cannot_enrol(user_factory, legacy_tenant, signed_in) -> None:
    user = user_factory("agent", client=legacy_tenant)
    http = signed_in(user)
    _refused(http, user)
    assert b"release 11.8 has no MFA" in http.get(SETUP).content


def test_a_sign_in_older_than_15_minutes_must_check_the_code_again(
    user_factory, signed_in, clock
) -> None:
    user = user_factory("agent", "email")
    http = signed_in(user)
    clock(timedelta(minutes=16))
    _refused(http, user)
    assert b"did not check one in the last 15 minutes" in http.get(SETUP).content
    # The step-up: the code step again, then back to the set-up with the QR code.
    response = http.post("/account/authenticator/prove/", {"then": "setup"})
    assert response["Location"] == "/signin/code/"
    done = http.post("/signin/code/", {"action": "verify", "code": last_code(user)})
    assert done["Location"] == SETUP
    page = http.get(SETUP)
    assert SECRET_SHOWN.search(page.content) and b"<svg" in page.content


def test_a_remembered_device_is_no_second_factor_for_enrolment(user_factory) -> None:
    user = user_factory("agent", "email")
    http = HttpClient()
    sign_in(http, user)
    http.post("/signin/code/", {"action": "verify", "code": last_code(user), "remember": "on"})
    http.post("/signin/sign-out/")
    assert sign_in(http, user)["Location"] == "/"  # the device skipped the code: pwd only
    _refused(http, user)


def test_enrol_then_recovery_codes_are_shown_once_with_no_store(
    user_factory, signed_in, clock
) -> None:
    user = user_factory("agent", "email")
    http = signed_in(user)
    secret = _secret_on(http.get(SETUP))
    shown = http.post(SETUP, {"code": app_code(secret)})
    assert shown.status_code == 200 and "no-store" in shown["Cache-Control"]
    codes = re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", shown.content.decode())
    assert len(codes) == 10 and factors.has_app(user)
    session = http.session
    stored = repr(dict(session.items()))
    assert not any(c in stored or c.replace("-", "") in stored for c in codes)
    assert not any(c in shown.get("Location", "") for c in codes)
    account = http.get("/account/").content.decode()
    assert not any(c in account for c in codes) and secret not in account
    assert "10 recovery codes left" in account
    # After the 15 minutes, removing the app and new codes need the second factor again.
    clock(timedelta(minutes=16))
    assert b"Sign in again with your app" in http.post("/account/authenticator/remove/").content
    assert b"Sign in again" in http.post("/account/recovery-codes/").content
    assert factors.has_app(user) and factors.recovery_codes_left(user) == 10


def test_remove_and_new_codes_within_15_minutes(user_factory, signed_in) -> None:
    user = user_factory("agent", "email")
    http = signed_in(user)
    enrol(user)
    fresh = http.post("/account/recovery-codes/")
    assert fresh.status_code == 200 and "no-store" in fresh["Cache-Control"]
    assert b"Your earlier recovery codes no longer work" in fresh.content
    assert http.post("/account/authenticator/remove/")["Location"] == "/account/"
    assert not factors.has_app(user) and factors.recovery_codes_left(user) == 0


@pytest.mark.parametrize("path", [SETUP, "/account/authenticator/remove/"])
def test_not_signed_in_goes_to_sign_in(db, path) -> None:
    response = HttpClient().post(path)
    assert response.status_code == 302 and "/signin/" in response["Location"]
