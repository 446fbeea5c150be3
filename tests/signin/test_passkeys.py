"""Passkeys and security keys (WebAuthn) end to end with a software key (tests/softkey.py):
py_webauthn's real verification runs on real attestation and assertion objects.

Registration from the account page, the code step, passwordless, origin and RP ID binding,
the sign counter, the challenge's single use and expiry, another user's key, removal, the
admin's reset and its rights, 11.x clients, and user verification required of admins.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client as HttpClient

from deskgate.accounts import actions
from deskgate.accounts.audit import Actor
from deskgate.accounts.models import AuditAction, AuditEvent, Client, UserSession
from deskgate.signin import factors, passkeys
from deskgate.signin.factors import FactorCheck
from deskgate.signin.models import (
    Passkey,
    PasskeyChallenge,
    PendingSignIn,
    SignInGuard,
    SignInVia,
)
from tests.conftest import sign_in
from tests.mailbox import codes_sent_to
from tests.softkey import (
    SoftKey,
    add_on_page,
    enrol_key,
    sign_in_passwordless,
    signed_in_with_key,
    use_at_code_step,
)

BY = Actor(ip="127.0.0.1")
EVIL = "https://deskgate.example.evil"


def allow_passwordless(user) -> None:
    Client.objects.filter(pk=user.client_id).update(passwordless_enabled=True)


def refusals(user) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(subject=user, action=AuditAction.PASSKEY_REFUSED))


# -- registration --------------------------------------------------------------------------


def test_register_from_the_account_page_shows_recovery_codes_once(
    user_factory, signed_in, django_capture_on_commit_callbacks
) -> None:
    user = user_factory("agent", "email", email="kim@example.com")
    http = signed_in(user)
    page = http.get("/account/passkeys/add/")
    assert b"Name of the key" in page.content and b"Security key 1" in page.content
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        shown = add_on_page(http, SoftKey(), "Work laptop")
    assert shown.status_code == 200, shown.content[:800]
    assert b"Your passkey is added" in shown.content
    assert len(re.findall(rb"<li><code>", shown.content)) == 10
    key = Passkey.objects.get(user=user)
    assert key.name == "Work laptop" and key.user_verified and not key.backed_up
    assert key.transports == "usb"
    event = AuditEvent.objects.get(subject=user, action=AuditAction.PASSKEY_ADDED)
    assert "Work laptop" in event.summary
    assert any("Work laptop" in str(m.body) for m in mail.outbox if m.to == ["kim@example.com"])
    assert factors.has_strong_factor(user) and factors.recovery_codes_left(user) == 10
    # A second key: no new recovery codes; the first key is excluded from the options.
    options = http.post("/account/passkeys/options/").json()["publicKey"]
    excluded = [c["id"] for c in options["excludeCredentials"]]
    assert len(excluded) == 1
    second = SoftKey(synced=True)
    options["excludeCredentials"] = []
    done = http.post("/account/passkeys/add/", {"credential": second.create(options), "name": ""})
    assert done.status_code == 302 and done["Location"] == "/account/"
    assert list(Passkey.objects.filter(user=user).values_list("name", flat=True)) == [
        "Work laptop",
        "Security key 2",
    ]
    assert factors.recovery_codes_left(user) == 10
    account = http.get("/account/").content
    assert b"Work laptop" in account and b"Security key 2" in account


def test_the_account_page_renames_a_key(user_factory) -> None:
    user = user_factory("agent", "email")
    http = signed_in_with_key(user, enrol_key(user, name="Old name"))
    key = Passkey.objects.get(user=user)
    http.post(f"/account/passkeys/{key.pk}/rename/", {"name": "  Yubikey  blue "})
    key.refresh_from_db()
    assert key.name == "Yubikey blue"
    refused = http.post(f"/account/passkeys/{key.pk}/rename/", {"name": "x" * 61}, follow=True)
    assert b"at most 60 characters" in refused.content
    key.refresh_from_db()
    assert key.name == "Yubikey blue"


def test_admins_keys_must_verify_the_user(user_factory, signed_in) -> None:
    admin = user_factory("admin", "email")
    http = signed_in(admin)
    options = http.post("/account/passkeys/options/").json()["publicKey"]
    assert options["authenticatorSelection"]["userVerification"] == "required"
    refused = http.post(
        "/account/passkeys/add/", {"credential": SoftKey(uv=False).create(options), "name": "k"}
    )
    assert b"must check your PIN or fingerprint" in refused.content
    assert not Passkey.objects.filter(user=admin).exists()
    assert add_on_page(http, SoftKey(uv=True), "k").status_code == 200
    assert Passkey.objects.filter(user=admin).count() == 1


def test_an_agent_may_register_a_key_without_user_verification(user_factory, signed_in) -> None:
    user = user_factory("agent", "sms")
    http = signed_in(user)
    options = http.post("/account/passkeys/options/").json()["publicKey"]
    assert options["authenticatorSelection"]["userVerification"] == "preferred"
    assert options["authenticatorSelection"]["residentKey"] == "preferred"
    add_on_page(http, SoftKey(uv=False), "Key")
    assert not Passkey.objects.get(user=user).user_verified


def test_an_11x_client_cannot_register(user_factory, legacy_tenant, signed_in) -> None:
    user = user_factory("agent", client=legacy_tenant)
    http = signed_in(user)
    page = http.get("/account/passkeys/add/")
    assert b"release 11.8 has no MFA" in page.content
    assert http.post("/account/passkeys/options/").status_code == 403
    with pytest.raises(Exception, match="release 11.8"):
        passkeys.registration_options(user)
    assert not PasskeyChallenge.objects.exists()


def test_registration_on_another_origin_or_rp_id_is_refused(user_factory, signed_in) -> None:
    user = user_factory("agent", "email")
    http = signed_in(user)
    for kw in ({"origin": EVIL}, {"rp_id": "example.evil"}):
        response = add_on_page(http, SoftKey(), "k", **kw)
        assert b"could not be accepted" in response.content
    assert not Passkey.objects.filter(user=user).exists()


# -- the second factor ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "amr"),
    [
        (SoftKey, ["pwd", "hwk", "user", "mfa"]),
        (lambda: SoftKey(uv=False), ["pwd", "hwk", "mfa"]),
        (lambda: SoftKey(synced=True, counts=False), ["pwd", "swk", "user", "mfa"]),
    ],
)
def test_a_key_is_the_second_factor_after_the_password(user_factory, key, amr) -> None:
    user = user_factory("agent", "sms")
    soft = enrol_key(user, key())
    before = codes_sent_to(user)
    http = HttpClient()
    assert sign_in(http, user)["Location"] == "/signin/code/"
    page = http.get("/signin/code/")
    assert b"Use a passkey or security key" in page.content
    assert b"Send a code by SMS instead" in page.content
    assert codes_sent_to(user) == before  # no SMS paid for a user with a key
    done = use_at_code_step(http, soft)
    assert done.status_code == 302 and done["Location"] == "/", done
    assert UserSession.objects.get(user=user).amr == amr
    assert Passkey.objects.get(user=user).last_used_at is not None


def test_an_admins_key_must_verify_the_user_at_sign_in_too(user_factory) -> None:
    user = user_factory("admin", "email")
    soft = enrol_key(user)  # registered with user verification, as admins must
    http = HttpClient()
    assert sign_in(http, user)["Location"] == "/signin/code/"
    options = http.post("/signin/passkey/options/").json()["publicKey"]
    assert options["userVerification"] == "required"
    answer = soft.get(options, uv=False)  # a touch without the PIN
    refused = http.post(
        "/signin/code/", {"action": "verify_passkey", "with": "passkey", "credential": answer}
    )
    assert refused.status_code != 302 or refused["Location"] != "/"
    assert not UserSession.objects.filter(user=user).exists()
    assert use_at_code_step(http, soft)["Location"] == "/"  # with the PIN


def test_a_user_with_mfa_off_and_a_key_owes_the_key(user_factory) -> None:
    user = user_factory("agent", "email")
    soft = enrol_key(user)
    actions.change_mfa_method(user, "off", by=BY)
    http = HttpClient()
    assert sign_in(http, user)["Location"] == "/signin/code/"
    assert use_at_code_step(http, soft)["Location"] == "/"


def test_another_users_key_is_refused_and_counted(user_factory) -> None:
    owner = user_factory("agent", "email")
    victim = user_factory("agent", "email")
    owners_key = enrol_key(owner)
    enrol_key(victim)
    http = HttpClient()
    sign_in(http, victim)
    response = use_at_code_step(http, owners_key)
    assert response["Location"] == "/signin/code/?with=passkey"
    page = http.get(response["Location"])
    assert b"could not sign you in" in page.content and b"4 tries left" in page.content
    assert not UserSession.objects.filter(user=victim).exists()
    assert PendingSignIn.objects.get(user=victim).factor_attempts == 1


@pytest.mark.parametrize("kw", [{"origin": EVIL}, {"rp_id": "deskgate.example.evil"}])
def test_wrong_origin_or_rp_id_is_refused_and_counts_like_a_wrong_code(user_factory, kw) -> None:
    user = user_factory("agent", "email")
    soft = enrol_key(user)
    http = HttpClient()
    sign_in(http, user)
    response = use_at_code_step(http, soft, **kw)
    assert response["Location"] == "/signin/code/?with=passkey"
    assert not UserSession.objects.filter(user=user).exists()
    assert SignInGuard.objects.get(user=user).code_failures == 1


def test_a_counter_that_goes_back_is_refused_and_audited(user_factory) -> None:
    user = user_factory("agent", "email")
    soft = enrol_key(user, name="Desk key")
    http = HttpClient()
    sign_in(http, user)
    assert use_at_code_step(http, soft)["Location"] == "/"
    assert Passkey.objects.get(user=user).sign_count == 1
    clone = HttpClient()
    sign_in(clone, user)
    response = use_at_code_step(clone, soft, count=1)  # the same count again: a clone
    assert response["Location"] == "/signin/code/?with=passkey"
    assert UserSession.objects.filter(user=user).count() == 1
    [event] = refusals(user)
    assert "Desk key" in event.summary and "cloned" in event.summary
    assert Passkey.objects.get(user=user).sign_count == 1


def test_five_failures_end_the_attempt_and_share_r7s_count(user_factory) -> None:
    user = user_factory("agent", "email")
    soft = enrol_key(user)
    http = HttpClient()
    sign_in(http, user)
    for _ in range(5):
        use_at_code_step(http, soft, origin=EVIL)
    last = use_at_code_step(http, soft)  # the right key, but this attempt's tries are spent
    assert last["Location"] == "/signin/code/?with=passkey"
    assert b"last try for this sign-in" in http.get(last["Location"]).content
    assert SignInGuard.objects.get(user=user).code_failures == 5


def test_a_challenge_works_once_and_expires(user_factory, clock) -> None:
    user = user_factory("agent", "email")
    soft = enrol_key(user)
    pending = pipeline_pending(user)
    token, options = passkeys.signin_options(user)
    answer = soft.get(json.loads(options))
    ok = passkeys.verify_second_factor(pending.pk, user, answer, token=token, by=BY)
    assert ok.reason == FactorCheck.OK
    again = pipeline_pending(user)
    replay = passkeys.verify_second_factor(again.pk, user, answer, token=token, by=BY)
    assert replay.reason == FactorCheck.WRONG
    token, options = passkeys.signin_options(user)
    late = soft.get(json.loads(options))
    clock(timedelta(minutes=5, seconds=1))
    expired = passkeys.verify_second_factor(again.pk, user, late, token=token, by=BY)
    assert expired.reason == FactorCheck.WRONG
    # The browser cannot name a challenge of its own: another session's token is refused.
    other_token, _ = passkeys.signin_options(user)
    forged = passkeys.verify_second_factor(again.pk, user, late, token=other_token, by=BY)
    assert forged.reason == FactorCheck.WRONG


def pipeline_pending(user):
    from deskgate.signin import pipeline

    return pipeline.create_pending(user, via=SignInVia.PASSWORD, ip="127.0.0.1")


# -- passwordless --------------------------------------------------------------------------


def test_passwordless_signs_in_with_both_factors_when_the_client_allows(user_factory) -> None:
    user = user_factory("agent", "email")
    soft = enrol_key(user)
    allow_passwordless(user)
    http = HttpClient()
    assert b"Or sign in with a passkey" in http.get("/signin/").content
    done = sign_in_passwordless(http, soft)
    assert done.status_code == 302 and done["Location"] == "/"
    assert UserSession.objects.get(user=user).amr == ["hwk", "user", "mfa"]
    assert AuditEvent.objects.filter(subject=user, action=AuditAction.SIGNIN_SUCCESS).exists()


def test_passwordless_is_refused_when_the_client_does_not_allow_it(user_factory) -> None:
    user = user_factory("agent", "email")
    soft = enrol_key(user)
    http = HttpClient()
    refused = sign_in_passwordless(http, soft)
    assert refused["Location"] == "/signin/"
    assert b"could not sign you in" in http.get("/signin/").content
    assert not UserSession.objects.filter(user=user).exists()
    assert "does not allow" in refusals(user)[0].summary


def test_passwordless_needs_user_verification(user_factory) -> None:
    user = user_factory("agent", "email")
    soft = enrol_key(user, SoftKey(uv=False))
    allow_passwordless(user)
    http = HttpClient()
    assert sign_in_passwordless(http, soft)["Location"] == "/signin/"
    assert not UserSession.objects.filter(user=user).exists()
    assert len(refusals(user)) == 1


@pytest.mark.parametrize("state", ["deactivated", "locked", "legacy"])
def test_passwordless_refuses_deactivated_locked_and_11x(user_factory, clock, state) -> None:
    user = user_factory("agent", "email")
    soft = enrol_key(user)
    allow_passwordless(user)
    if state == "deactivated":
        actions.set_user_active(user, False, by=BY)
    elif state == "locked":
        guard = SignInGuard.objects.locked_for(user)
        guard.locked_until = clock(timedelta(0)) + timedelta(minutes=15)
        guard.save()
    else:
        Client.objects.filter(pk=user.client_id).update(release="11.8")
    http = HttpClient()
    assert sign_in_passwordless(http, soft)["Location"] == "/signin/"
    assert not UserSession.objects.filter(user=user).exists()
    assert len(refusals(user)) == 1


def test_passwordless_with_an_unknown_key_is_refused_plainly(user_factory) -> None:
    user = user_factory("agent", "email")
    allow_passwordless(user)
    http = HttpClient()
    stranger = SoftKey()
    assert sign_in_passwordless(http, stranger)["Location"] == "/signin/"
    assert not UserSession.objects.exists()


# -- removal and the admin's reset ---------------------------------------------------------


def test_the_user_removes_a_key(user_factory, django_capture_on_commit_callbacks) -> None:
    user = user_factory("agent", "email", email="lee@example.com")
    enrol_key(user, name="Old key")
    http = signed_in_with_key(user, enrol_key(user, name="New key"))
    old = Passkey.objects.get(user=user, name="Old key")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        done = http.post(f"/account/passkeys/{old.pk}/remove/")
    assert done["Location"] == "/account/"
    assert list(Passkey.objects.filter(user=user).values_list("name", flat=True)) == ["New key"]
    event = AuditEvent.objects.get(subject=user, action=AuditAction.PASSKEY_REMOVED)
    assert "Old key" in event.summary and event.detail["reset"] is False
    assert any("Old key" in str(m.body) for m in mail.outbox)
    assert factors.recovery_codes_left(user) == 10  # a key is left: the codes stay
    last = Passkey.objects.get(user=user)
    http.post(f"/account/passkeys/{last.pk}/remove/")
    assert factors.recovery_codes_left(user) == 0 and not factors.has_strong_factor(user)


def test_admin_sees_and_resets_passkeys_and_the_user_is_told(
    user_factory, admin_http, django_capture_on_commit_callbacks
) -> None:
    user = user_factory("agent", "email", email="ada@example.com")
    enrol_key(user, name="Blue key")
    page = admin_http.get(f"/users/{user.pk}/")
    assert b"Blue key" in page.content and b"Reset passkeys" in page.content
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        reset = admin_http.post(f"/users/{user.pk}/reset-passkeys/")
    assert reset.status_code == 302
    assert not Passkey.objects.filter(user=user).exists()
    event = AuditEvent.objects.get(subject=user, action=AuditAction.PASSKEY_REMOVED)
    assert event.detail["reset"] is True and "Blue key" in event.summary
    assert any("reset by" in str(m.body) for m in mail.outbox if m.to == ["ada@example.com"])


def test_an_agent_cannot_reset_passkeys(user_factory, signed_in) -> None:
    agent = user_factory("agent", "email")
    user = user_factory("agent", "email")
    enrol_key(user)
    response = signed_in(agent).post(f"/users/{user.pk}/reset-passkeys/")
    assert response.status_code == 403
    assert Passkey.objects.filter(user=user).exists()


def test_a_manager_cannot_reset_an_admins_passkeys(user_factory, signed_in) -> None:
    manager = user_factory("manager")
    admin = user_factory("admin", "email")
    enrol_key(admin)
    assert signed_in(manager).post(f"/users/{admin.pk}/reset-passkeys/").status_code == 403
    assert Passkey.objects.filter(user=admin).exists()


def test_another_clients_admin_gets_404(user_factory, tenant_factory, signed_in) -> None:
    outsider = user_factory("admin", client=tenant_factory("Other"))
    user = user_factory("agent", "email")
    enrol_key(user)
    assert signed_in(outsider).post(f"/users/{user.pk}/reset-passkeys/").status_code == 404
    assert Passkey.objects.filter(user=user).exists()


def test_start_up_warns_when_passkeys_cannot_work_on_an_ip_address(settings) -> None:
    from deskgate.signin.checks import passkeys_can_work

    settings.DESKGATE_BASE_URL = "http://127.0.0.1:8000"
    assert [w.id for w in passkeys_can_work(None)] == ["deskgate.W101"]
    settings.DESKGATE_BASE_URL = "http://localhost:8000"
    assert passkeys_can_work(None) == []
