"""The authenticator app (TOTP) and recovery codes at sign-in (issue 14, first slice).

Drift, replay, the R7 tries and lock shared with codes, the admin's unlock and reset,
recovery codes used once and voided by a new set, the amr of each factor, and no SMS sent
to a user who has an app.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client as HttpClient

from deskgate.accounts import actions
from deskgate.accounts.audit import Actor
from deskgate.accounts.models import AuditAction, AuditEvent, UserSession
from deskgate.delivery.models import OutboxMessage
from deskgate.signin import factors, pipeline, totp
from deskgate.signin.factors import FactorCheck
from deskgate.signin.models import AuthenticatorApp, RecoveryCode, SignInGuard, SignInVia
from tests.authenticator import app_code, enrol
from tests.conftest import sign_in
from tests.mailbox import codes_sent_to, last_code

BY = Actor(ip="127.0.0.1")


def start(user):
    return pipeline.create_pending(user, via=SignInVia.PASSWORD, ip="127.0.0.1")


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


@pytest.mark.parametrize(
    ("steps", "accepted"), [(-2, False), (-1, True), (0, True), (1, True), (2, False)]
)
def test_drift_of_one_step_either_side_is_accepted(user_factory, clock, steps, accepted) -> None:
    user = user_factory("agent", "email")
    secret, _ = enrol(user)
    clock(timedelta(minutes=5))  # past the step the confirming code used
    answer = factors.verify_app(start(user).pk, app_code(secret, steps), by=BY)
    assert (answer.reason == FactorCheck.OK) is accepted


def test_a_code_works_once_and_an_older_step_never(user_factory, clock) -> None:
    user = user_factory("agent", "email")
    secret, _ = enrol(user)
    clock(timedelta(minutes=5))
    code = app_code(secret)
    assert factors.verify_app(start(user).pk, code, by=BY).reason == FactorCheck.OK
    # The same code within its 30 s, in a new sign-in: refused, and counted.
    second = start(user)
    answer = factors.verify_app(second.pk, code, by=BY)
    assert answer.reason == FactorCheck.USED and answer.tries_left == 4
    # The previous step's code is within the drift, but older than the one used.
    assert factors.verify_app(second.pk, app_code(secret, -1), by=BY).reason == FactorCheck.USED
    clock(timedelta(seconds=30))
    assert factors.verify_app(second.pk, app_code(secret), by=BY).reason == FactorCheck.OK


def test_the_confirming_code_cannot_sign_in(user_factory) -> None:
    user = user_factory("agent", "email")
    enrolment = factors.start_enrolment(user)
    code = app_code(enrolment.secret)
    factors.confirm_enrolment(user, code, by=BY)
    assert factors.verify_app(start(user).pk, code, by=BY).reason == FactorCheck.USED


def test_five_wrong_codes_per_attempt_then_ten_lock_and_an_admin_unlocks(
    user_factory, admin_user, clock
) -> None:
    user = user_factory("agent", "email")
    secret, _ = enrol(user)
    clock(timedelta(minutes=5))
    bad = wrong(app_code(secret))
    first = start(user)
    tries = [factors.verify_app(first.pk, bad, by=BY) for _ in range(6)]
    assert [a.tries_left for a in tries[:5]] == [4, 3, 2, 1, 0]
    assert tries[5].reason == FactorCheck.TOO_MANY
    second = start(user)
    answers = [factors.verify_app(second.pk, bad, by=BY).reason for _ in range(5)]
    assert answers == [FactorCheck.WRONG] * 4 + [FactorCheck.LOCKED]
    # Locked: the right code answers the same as a wrong one.
    third = start(user)
    assert factors.verify_app(third.pk, app_code(secret), by=BY).reason == FactorCheck.LOCKED
    assert AuditEvent.objects.filter(subject=user, action=AuditAction.USER_LOCKED).count() == 1
    assert actions.unlock_user(user, by=Actor(user=admin_user, ip="127.0.0.1"))
    assert factors.verify_app(third.pk, app_code(secret), by=BY).reason == FactorCheck.OK
    assert SignInGuard.objects.get(user=user).code_failures == 0


def test_wrong_app_codes_and_wrong_email_codes_share_one_count(user_factory, clock) -> None:
    from deskgate.signin import challenge

    user = user_factory("agent", "email")
    secret, _ = enrol(user)
    clock(timedelta(minutes=5))
    pending = start(user)
    for _ in range(5):
        factors.verify_app(pending.pk, wrong(app_code(secret)), by=BY)
    challenge.issue(pending.pk, by=BY)
    sent = last_code(user)
    bad = wrong(sent)
    answers = [challenge.verify(pending.pk, bad, by=BY).reason for _ in range(5)]
    # Five wrong app codes and five wrong Email codes: ten consecutive failures lock.
    assert answers == [challenge.Check.WRONG] * 4 + [challenge.Check.LOCKED]


def test_recovery_code_works_once_is_audited_and_notified(
    user_factory, django_capture_on_commit_callbacks
) -> None:
    user = user_factory("agent", "sms", email="rita@example.com")
    _, codes = enrol(user)
    mail.outbox.clear()
    first = start(user)
    with django_capture_on_commit_callbacks(execute=True):
        answer = factors.use_recovery_code(first.pk, codes[0].upper(), by=BY)
    assert answer.reason == FactorCheck.OK
    again = factors.use_recovery_code(start(user).pk, codes[0], by=BY)
    assert again.reason == FactorCheck.USED
    used = AuditEvent.objects.get(subject=user, action=AuditAction.RECOVERY_CODE_USED)
    assert used.detail["left"] == 9
    notice = [m for m in mail.outbox if m.to == ["rita@example.com"]]
    assert len(notice) == 1 and "recovery code was used" in str(notice[0].body)
    assert codes[0] not in str(notice[0].body)


def test_new_recovery_codes_void_the_old_set(user_factory) -> None:
    user = user_factory("agent", "email")
    _, old = enrol(user)
    new = factors.regenerate_recovery_codes(user, by=Actor(user=user, ip="127.0.0.1"))
    assert len(new) == 10 and not set(new) & set(old)
    assert factors.use_recovery_code(start(user).pk, old[1], by=BY).reason == FactorCheck.USED
    assert factors.use_recovery_code(start(user).pk, new[1], by=BY).reason == FactorCheck.OK
    assert factors.recovery_codes_left(user) == 9


def test_secrets_and_codes_are_stored_sealed_and_hashed(user_factory) -> None:
    user = user_factory("agent", "email")
    secret, codes = enrol(user)
    app = AuthenticatorApp.objects.get(user=user)
    assert secret not in app.sealed_secret and totp.unseal(app.sealed_secret) == secret
    stored = set(RecoveryCode.objects.filter(user=user).values_list("code_hash", flat=True))
    assert len(stored) == 10
    assert not {c.replace("-", "") for c in codes} & stored


# -- the code page -------------------------------------------------------------------------


def test_the_code_step_asks_for_the_app_and_sends_no_sms(user_factory, clock) -> None:
    user = user_factory("agent", "sms")
    secret, _ = enrol(user)
    clock(timedelta(minutes=5))
    before = OutboxMessage.objects.count()
    http = HttpClient()
    assert sign_in(http, user)["Location"] == "/signin/code/"
    page = http.get("/signin/code/")
    assert b"Code from your authenticator app" in page.content
    assert b"Send a code by SMS instead" in page.content
    assert b"Use a recovery code" in page.content
    assert codes_sent_to(user) == 0 and OutboxMessage.objects.count() == before
    done = http.post(
        "/signin/code/", {"action": "verify_app", "with": "app", "app_code": app_code(secret)}
    )
    assert done.status_code == 302 and done["Location"] == "/"
    session = UserSession.objects.get(user=user)
    assert session.amr == ["pwd", "otp", "mfa"]


def test_an_sms_user_may_ask_for_an_sms_instead(user_factory) -> None:
    user = user_factory("agent", "sms")
    enrol(user)
    http = HttpClient()
    sign_in(http, user)
    sent = http.post("/signin/code/", {"action": "resend"})
    assert sent["Location"] == "/signin/code/?with=code"
    assert codes_sent_to(user) == 1
    assert b"We sent a code by SMS" in http.get(sent["Location"]).content


def test_mfa_off_with_an_app_offers_no_email_or_sms(user_factory) -> None:
    user = user_factory("agent", "email")
    enrol(user)
    actions.change_mfa_method(user, "off", by=Actor(ip="127.0.0.1"))
    http = HttpClient()
    assert sign_in(http, user)["Location"] == "/signin/code/"  # the app is still owed
    page = http.get("/signin/code/")
    assert b"instead" not in page.content
    http.post("/signin/code/", {"action": "resend"})
    assert codes_sent_to(user) == 0


def test_a_recovery_code_signs_in_with_otp_and_mfa(user_factory) -> None:
    user = user_factory("agent", "email")
    _, codes = enrol(user)
    http = HttpClient()
    sign_in(http, user)
    done = http.post(
        "/signin/code/",
        {"action": "verify_recovery", "with": "recovery", "recovery_code": codes[3]},
    )
    assert done["Location"] == "/"
    assert UserSession.objects.get(user=user).amr == ["pwd", "otp", "mfa"]


def test_an_app_sign_in_does_not_prove_the_email(user_factory, clock) -> None:
    user = user_factory("agent", "email")
    secret, _ = enrol(user)
    clock(timedelta(minutes=5))
    http = HttpClient()
    sign_in(http, user)
    done = http.post(
        "/signin/code/", {"action": "verify_app", "with": "app", "app_code": app_code(secret)}
    )
    assert done["Location"] == "/"
    user.refresh_from_db()
    # An Email code typed back proves the address; the app's code says nothing of it.
    assert user.email_proven == ""


def test_legacy_client_never_asks_even_with_an_app(user_factory, legacy_tenant) -> None:
    user = user_factory("agent", client=legacy_tenant)
    enrol(user)  # as if set up before: R1 still wins at sign-in
    http = HttpClient()
    assert sign_in(http, user)["Location"] == "/"
    assert UserSession.objects.get(user=user).amr == ["pwd"]


def test_audit_and_logs_hold_no_secret_or_code(user_factory, clock, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    user = user_factory("agent", "email")
    secret, codes = enrol(user)
    clock(timedelta(minutes=5))
    code = app_code(secret)
    factors.verify_app(start(user).pk, wrong(code), by=BY)
    factors.verify_app(start(user).pk, code, by=BY)
    factors.use_recovery_code(start(user).pk, codes[0], by=BY)
    factors.regenerate_recovery_codes(user, by=Actor(user=user, ip="127.0.0.1"))
    trail = " ".join(
        f"{e.summary} {e.detail}" for e in AuditEvent.objects.filter(subject=user)
    ).lower()
    logged = caplog.text.lower()
    bare = [c.replace("-", "") for c in codes]
    for needle in [secret.lower(), code, wrong(code), *codes, *bare]:
        assert needle not in trail and needle not in logged
    actions_seen = set(AuditEvent.objects.filter(subject=user).values_list("action", flat=True))
    assert {
        AuditAction.AUTHENTICATOR_ENROLLED,
        AuditAction.RECOVERY_CODES_CREATED,
        AuditAction.RECOVERY_CODE_USED,
        AuditAction.SIGNIN_CODE_FAILED,
    } <= actions_seen


# -- the admin's side ----------------------------------------------------------------------


def test_admin_sees_and_resets_the_app_and_the_user_is_told(
    user_factory, admin_http, django_capture_on_commit_callbacks
) -> None:
    user = user_factory("agent", "email", email="ada@example.com")
    enrol(user)
    page = admin_http.get(f"/users/{user.pk}/")
    assert b"Authenticator app: set up on" in page.content
    assert b"Reset authenticator app" in page.content
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        reset = admin_http.post(f"/users/{user.pk}/reset-authenticator/")
    assert reset.status_code == 302
    assert not factors.has_app(user) and factors.recovery_codes_left(user) == 0
    event = AuditEvent.objects.get(subject=user, action=AuditAction.AUTHENTICATOR_REMOVED)
    assert event.detail["reset"] is True and event.actor_id is not None
    assert any("reset by" in str(m.body) for m in mail.outbox if m.to == ["ada@example.com"])


def test_a_manager_cannot_reset_an_admins_app(user_factory, signed_in) -> None:
    manager = user_factory("manager")
    other_admin = user_factory("admin", "email")
    enrol(other_admin)
    http = signed_in(manager)
    response = http.post(f"/users/{other_admin.pk}/reset-authenticator/")
    assert response.status_code == 403
    assert factors.has_app(other_admin)


def test_another_clients_admin_gets_404(user_factory, tenant_factory, signed_in) -> None:
    other = tenant_factory("Other")
    outsider = user_factory("admin", client=other)
    user = user_factory("agent", "email")
    enrol(user)
    assert signed_in(outsider).post(f"/users/{user.pk}/reset-authenticator/").status_code == 404
    assert factors.has_app(user)
