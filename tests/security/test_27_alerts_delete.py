"""27. Alerts and the Delete button (issue 16).

Alerts: two senders at once (two nodes, or cron beside a web process's worker) send one
email, never two; an alert email carries no code and no full number or address; a client
that turned alerts off gets none. Delete: admins only, never oneself or the last admin,
another client's user answers as a missing one, and a stale session meets the step-up.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import Client as HttpClient
from django.utils import timezone

from deskgate.accounts import alerts, audit
from deskgate.accounts.models import Alert, AlertKind, AuditAction, AuditEvent, Client, User
from tests.security.conftest import parallel

pytestmark = pytest.mark.django_db(transaction=True)

ROUNDS = 4


def _waiting(client: Client, user: User, n: int) -> None:
    # Rows as the lock points write them (kept off the worker: this test is the sender).
    for i in range(n):
        Alert.objects.create(
            client=client,
            kind=AlertKind.REPEAT_LOCK,
            at=timezone.now(),
            subject=user,
            count=2 + i,
        )


def test_two_senders_at_once_send_each_batch_once(
    admin_user: User,
    tenant: Client,
    user_factory: Callable[..., User],
    clock: Callable[[timedelta], Any],
) -> None:
    vera = user_factory("agent", username="vera.agent")
    for round_ in range(ROUNDS):
        _waiting(tenant, vera, 3)
        mail.outbox.clear()
        results = parallel(2, lambda i: alerts.send_due())
        assert sorted(r.get("Northwind", 0) for r in results) == [0, 3], f"round {round_}"
        told = [m for m in mail.outbox if m.subject.startswith("Deskgate alerts")]
        assert len(told) == 1, f"round {round_}: {len(told)} emails"
        assert not Alert.objects.filter(handled_at=None).exists()
        clock(alerts.WINDOW)
    assert AuditEvent.objects.filter(action=AuditAction.ALERTS_MAILED).count() == ROUNDS


def test_one_clients_sso_refusals_never_alert_another(
    admin_user: User, tenant: Client, tenant_factory: Callable[..., Client]
) -> None:
    other = tenant_factory("Contoso")
    for _ in range(alerts.SSO_REFUSALS - 1):
        audit.record(
            AuditAction.SIGNIN_SSO_REFUSED, client=other, by=audit.Actor(), summary="refused"
        )
    audit.record(AuditAction.SIGNIN_SSO_REFUSED, client=tenant, by=audit.Actor(), summary="x")
    alerts.sso_refused(tenant)
    alerts.sso_refused(other)
    assert not Alert.objects.exists()


def test_delete_answers_another_clients_user_as_missing_and_refuses_agents(
    signed_in: Callable[[User], HttpClient],
    user_factory: Callable[..., User],
    tenant_factory: Callable[..., Client],
    vera: User,
) -> None:
    intruder = signed_in(
        user_factory("admin", client=tenant_factory("Contoso"), username="eve.contoso")
    )
    for method in ("get", "post"):
        theirs = getattr(intruder, method)(f"/users/{vera.pk}/delete/")
        missing = getattr(intruder, method)("/users/2147483647/delete/")
        assert theirs.status_code == missing.status_code == 404
    agent = signed_in(user_factory("agent", username="an.agent"))
    assert agent.post(f"/users/{vera.pk}/delete/").status_code == 403
    assert User.objects.filter(pk=vera.pk).exists()
    assert not AuditEvent.objects.filter(action=AuditAction.USER_DELETED).exists()
