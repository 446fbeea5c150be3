"""Alerts: repeated locks, send caps and SSO refusals reach the client's admins in one email.

The conditions are made the way they happen (wrong passwords, wrong codes, a capped code);
the SSO refusals are recorded as the SSO callback records them and then noted.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from deskgate.accounts import actions, alerts, audit
from deskgate.accounts.audit import OPERATOR, Actor
from deskgate.accounts.models import Alert, AlertKind, AuditAction, AuditEvent, Client, User
from deskgate.signin import challenge, credentials, pipeline
from deskgate.signin.challenge import Check, Issue
from deskgate.signin.models import SignInVia
from deskgate.sso import flows
from deskgate.sso.models import ProviderConfig
from tests.harness.net import free_port
from tests.mailbox import last_code

BY = Actor(ip="127.0.0.1")


@pytest.fixture(autouse=True)
def _quick_locks(settings: Any) -> None:
    # Two wrong passwords (or codes) lock, for a second: a test can lock a user many times.
    settings.DESKGATE_PASSWORD_LOCK = {"after": 2, "steps": [1]}
    settings.DESKGATE_CODE = {**settings.DESKGATE_CODE, "lock_after": 2, "lock_steps": [1]}


def lock_by_password(user: User, clock: Callable[[timedelta], Any]) -> None:
    for _ in range(2):
        credentials.sign_in_with_password(user.username, "wrong password", by=BY)
    clock(timedelta(seconds=2))  # the lock has ended


@pytest.fixture
def send(django_capture_on_commit_callbacks: Any) -> Callable[[], dict[str, int]]:
    """alerts.send_due, with the emails it queues for after its commit sent."""

    def run() -> dict[str, int]:
        with django_capture_on_commit_callbacks(execute=True):
            return alerts.send_due()

    return run


def alert_mail() -> list[Any]:
    return [m for m in mail.outbox if m.subject.startswith("Deskgate alerts")]


def test_a_second_lock_within_a_day_alerts_and_three_locks_make_one_email(
    admin_user: User,
    user_factory: Callable[..., User],
    clock: Callable[[timedelta], Any],
    send: Callable[[], dict[str, int]],
) -> None:
    vera = user_factory("agent", username="vera.agent", full_name="Vera Agent")
    otto = user_factory("agent", username="otto.agent", full_name="Otto Agent")
    lock_by_password(vera, clock)
    assert not Alert.objects.exists()  # one lock is no alert
    lock_by_password(vera, clock)
    lock_by_password(vera, clock)
    lock_by_password(otto, clock)
    assert AuditEvent.objects.filter(action=AuditAction.USER_PASSWORD_LOCKED).count() == 4
    assert list(Alert.objects.values_list("kind", "count").order_by("pk")) == [
        (AlertKind.REPEAT_LOCK, 2),
        (AlertKind.REPEAT_LOCK, 3),
    ]
    mail.outbox.clear()
    assert send() == {"Northwind": 2}
    (email,) = alert_mail()
    assert email.to == [admin_user.email]
    assert email.subject == "Deskgate alerts for Northwind"
    assert "Vera Agent (vera.agent) was locked 3 times within 24 hours." in email.body
    assert "Otto" not in email.body  # locked once
    assert not Alert.objects.filter(handled_at=None).exists()
    assert send() == {}  # nothing twice
    event = AuditEvent.objects.get(action=AuditAction.ALERTS_MAILED)
    assert event.detail["alerts"] == 2 and event.detail["admins"] == 1
    told = AuditEvent.objects.get(action=AuditAction.USER_NOTIFIED, subject=admin_user)
    assert told.summary.endswith("of alerts at their company")


def test_locks_a_day_apart_do_not_alert(
    user_factory: Callable[..., User], clock: Callable[[timedelta], Any]
) -> None:
    vera = user_factory("agent")
    lock_by_password(vera, clock)
    clock(alerts.LOCK_DAY)
    lock_by_password(vera, clock)
    assert not Alert.objects.exists()


def test_a_second_lock_by_wrong_codes_alerts(
    admin_user: User, user_factory: Callable[..., User], clock: Callable[[timedelta], Any]
) -> None:
    vera = user_factory("agent", "email")
    for _ in range(2):
        pending = pipeline.create_pending(vera, via=SignInVia.PASSWORD, ip="127.0.0.1")
        assert challenge.issue(pending.pk, by=BY).reason == Issue.SENT
        wrong = f"{(int(last_code(vera)) + 1) % 10**6:06d}"
        answers = [challenge.verify(pending.pk, wrong, by=BY).reason for _ in range(2)]
        assert answers[-1] == Check.LOCKED
        clock(timedelta(seconds=40))
    (alert,) = Alert.objects.all()
    assert (alert.kind, alert.subject, alert.count) == (AlertKind.REPEAT_LOCK, vera, 2)


def test_a_capped_code_alerts_once_per_hour_and_the_email_leaks_nothing(
    settings: Any,
    admin_user: User,
    user_factory: Callable[..., User],
    clock: Callable[[timedelta], Any],
    send: Callable[[], dict[str, int]],
) -> None:
    settings.DESKGATE_SEND_CAPS = {"user": 1, "client": 100, "platform": 1000}
    # Five past a clock hour: the sends below (a minute and a half) stay within one hour.
    clock(timedelta(minutes=65 - clock(timedelta()).minute))
    vera = user_factory("agent", "sms", username="vera.agent", work_phone="+358401110005")
    pending = pipeline.create_pending(vera, via=SignInVia.PASSWORD, ip="127.0.0.1")
    assert challenge.issue(pending.pk, by=BY).reason == Issue.SENT
    code = last_code(vera)
    for _ in range(3):
        clock(timedelta(seconds=31))  # past the resend cooldown
        assert challenge.issue(pending.pk, by=BY).reason == Issue.CAPPED
    (alert,) = Alert.objects.all()
    assert (alert.kind, alert.scope, alert.subject) == (AlertKind.SEND_CAP, "user", vera)
    mail.outbox.clear()
    send()
    (email,) = alert_mail()
    assert "The hourly limit of messages to" in email.body and "vera.agent" in email.body
    for secret in (code, "+358401110005", "401110005", vera.email):
        assert secret not in email.body and secret not in email.subject


def test_many_sso_refusals_in_five_minutes_alert(
    admin_user: User,
    tenant: Client,
    clock: Callable[[timedelta], Any],
    send: Callable[[], dict[str, int]],
) -> None:
    def refuse() -> None:
        # As the SSO callback does: the audit event, then the note.
        audit.record(
            AuditAction.SIGNIN_SSO_REFUSED,
            client=tenant,
            by=BY,
            summary="SSO sign-in refused: no_account",
            reason="no_account",
        )
        alerts.sso_refused(tenant)

    for _ in range(alerts.SSO_REFUSALS - 1):
        refuse()
    assert not Alert.objects.exists()
    clock(alerts.SSO_PERIOD)  # the first nine are too old now
    refuse()
    assert not Alert.objects.exists()
    for _ in range(alerts.SSO_REFUSALS - 1):
        refuse()
    refuse()  # an 11th in the same window: the same alert
    (alert,) = Alert.objects.all()
    assert (alert.kind, alert.count) == (AlertKind.SSO_REFUSALS, alerts.SSO_REFUSALS)
    mail.outbox.clear()
    send()
    (email,) = alert_mail()
    assert "SSO refused 10 sign-ins within 5 minutes" in email.body


def test_one_email_per_window_then_the_rest_together(
    admin_user: User,
    user_factory: Callable[..., User],
    clock: Callable[[timedelta], Any],
    send: Callable[[], dict[str, int]],
) -> None:
    vera, otto = user_factory("agent"), user_factory("agent")
    for _ in range(2):
        lock_by_password(vera, clock)
    mail.outbox.clear()
    assert send() == {"Northwind": 1}
    for _ in range(2):
        lock_by_password(otto, clock)
    lock_by_password(vera, clock)
    assert send() == {}  # the window since the last email is not over
    clock(alerts.WINDOW)
    assert send() == {"Northwind": 2}
    assert len(alert_mail()) == 2


def test_alerts_off_record_nothing_and_drop_what_waits(
    admin_user: User,
    tenant: Client,
    user_factory: Callable[..., User],
    clock: Callable[[timedelta], Any],
    send: Callable[[], dict[str, int]],
) -> None:
    vera = user_factory("agent")
    for _ in range(2):
        lock_by_password(vera, clock)
    assert Alert.objects.count() == 1
    by = Actor(user=admin_user)
    actions.update_client_settings(
        tenant,
        by=by,
        password_reset_enabled=False,
        remember_device_enabled=True,
        alert_emails=False,
    )
    event = AuditEvent.objects.filter(action=AuditAction.CLIENT_SETTINGS_CHANGED).latest("pk")
    assert event.detail["alert_emails"] is False and "alert emails to admins: off" in event.summary
    vera.refresh_from_db()
    lock_by_password(vera, clock)
    assert Alert.objects.count() == 1  # nothing new while off
    mail.outbox.clear()
    assert send() == {}
    assert not alert_mail()
    assert not Alert.objects.filter(handled_at=None).exists()  # dropped, not kept for later


def test_each_admin_gets_it_in_their_language_and_other_clients_get_nothing(
    admin_user: User,
    tenant: Client,
    tenant_factory: Callable[..., Client],
    user_factory: Callable[..., User],
    clock: Callable[[timedelta], Any],
    send: Callable[[], dict[str, int]],
) -> None:
    finn = user_factory("admin", username="finn.admin")
    actions.change_own_preferences(finn, language="fi", time_zone="", by=Actor(user=finn))
    user_factory("admin", username="inactive.admin", active=False)
    other = tenant_factory("Contoso")
    user_factory("admin", client=other, username="carl.contoso")
    vera = user_factory("agent")
    for _ in range(2):
        lock_by_password(vera, clock)
    mail.outbox.clear()
    send()
    by_address = {m.to[0]: m for m in mail.outbox}
    assert set(by_address) == {admin_user.email, finn.email}
    assert by_address[finn.email].subject == "Deskgate-hälytykset: Northwind"


def test_the_command_sends_what_is_due(
    admin_user: User, user_factory: Callable[..., User], clock: Callable[[timedelta], Any], capsys
) -> None:
    vera = user_factory("agent")
    for _ in range(2):
        lock_by_password(vera, clock)
    call_command("send_alerts")
    assert capsys.readouterr().out == "Northwind: 1 alert emailed.\n"
    call_command("send_alerts")
    assert capsys.readouterr().out == "Alerts: nothing to send now.\n"


def test_a_deleted_users_alert_names_no_one(
    admin_user: User,
    user_factory: Callable[..., User],
    clock: Callable[[timedelta], Any],
    send: Callable[[], dict[str, int]],
) -> None:
    vera = user_factory("agent", username="vera.agent", full_name="Vera Agent")
    for _ in range(2):
        lock_by_password(vera, clock)
    actions.delete_user(vera, by=OPERATOR)
    mail.outbox.clear()
    send()
    (email,) = alert_mail()
    assert "Vera" not in email.body and "a deleted user was locked 2 times" in email.body


def test_a_full_company_hour_does_not_hold_back_the_alert_that_tells_of_it(
    settings: Any,
    admin_user: User,
    user_factory: Callable[..., User],
    send: Callable[[], dict[str, int]],
) -> None:
    settings.DESKGATE_SEND_CAPS = {"user": 10, "client": 1, "platform": 1000}
    first, second = user_factory("agent", "email"), user_factory("agent", "email")
    for user, answer in ((first, Issue.SENT), (second, Issue.CAPPED)):
        pending = pipeline.create_pending(user, via=SignInVia.PASSWORD, ip="127.0.0.1")
        assert challenge.issue(pending.pk, by=BY).reason == answer
    (alert,) = Alert.objects.all()
    assert (alert.scope, alert.subject) == ("client", None)
    mail.outbox.clear()
    send()
    (email,) = alert_mail()
    assert "Your company's hourly limit of messages was reached" in email.body
    assert not AuditEvent.objects.filter(action=AuditAction.USER_NOTICE_CAPPED).exists()


def test_sso_refusals_through_the_callback_alert_at_the_tenth(
    admin_user: User, tenant: Client, client: Any
) -> None:
    ProviderConfig.objects.create(
        client=tenant, issuer="http://127.0.0.1:9", oidc_client_id="x", secret_encrypted="x"
    )
    for n in range(1, alerts.SSO_REFUSALS + 1):
        session = client.session
        session[flows.SESSION_KEY] = {
            "client": tenant.pk,
            "state": f"s{n}",
            "nonce": "n",
            "verifier": "v",
            "started": timezone.now().timestamp(),
        }
        session.save()
        # The provider answers with an error: refused, audited on the client's trail.
        response = client.get("/signin/sso/callback/", {"state": f"s{n}", "error": "denied"})
        assert response.status_code == 302
        assert Alert.objects.exists() == (n == alerts.SSO_REFUSALS)
    assert AuditEvent.objects.filter(action=AuditAction.SIGNIN_SSO_REFUSED).count() == 10


def test_the_sign_in_path_pays_for_alerts_only_when_a_lock_happens(
    user_factory: Callable[..., User], clock: Callable[[timedelta], Any]
) -> None:
    vera = user_factory("agent")

    def alert_queries() -> list[str]:
        with CaptureQueriesContext(connection) as seen:
            credentials.sign_in_with_password(vera.username, "wrong password", by=BY)
        table, trail = Alert._meta.db_table, AuditEvent._meta.db_table
        return [
            q["sql"].split()[0]
            for q in seen.captured_queries
            if table in q["sql"] or (trail in q["sql"] and "COUNT(" in q["sql"])
        ]

    assert alert_queries() == []  # a wrong password that does not lock
    assert alert_queries() == ["SELECT"]  # the first lock: the day's locks counted
    clock(timedelta(seconds=2))
    assert alert_queries() == []
    assert alert_queries() == ["SELECT", "INSERT"]  # the second: one row


def test_a_mail_server_that_is_down_keeps_the_alerts_for_the_next_window(
    settings: Any,
    admin_user: User,
    user_factory: Callable[..., User],
    clock: Callable[[timedelta], Any],
    send: Callable[[], dict[str, int]],
) -> None:
    vera = user_factory("agent")
    for _ in range(2):
        lock_by_password(vera, clock)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    assert send() == {}
    failed = AuditEvent.objects.get(action=AuditAction.USER_NOTICE_FAILED, subject=admin_user)
    assert "the mail server did not accept the message" in failed.detail["error"]
    assert Alert.objects.filter(handled_at=None).count() == 1  # kept
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert send() == {}  # not before the window is over
    clock(alerts.WINDOW)
    mail.outbox.clear()
    assert send() == {"Northwind": 1}
    assert len(alert_mail()) == 1
