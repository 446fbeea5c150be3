"""Leaving and privacy (issue 16): a deleted person's name leaves the audit trail, which keeps
their events under a pseudonym; events older than the client's retention are purged."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.utils import timezone

from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR, Actor
from deskgate.accounts.models import AuditEvent, Client, User
from tests.accounts.test_cli import run_cli


@pytest.mark.django_db
def test_a_deleted_person_is_a_pseudonym_in_the_trail(tenant, user_factory, admin_user) -> None:
    ada = user_factory("agent", "email", username="ada.agent", full_name="Ada Lovelace")
    actions.change_mfa_method(ada, "off", by=Actor(user=admin_user))
    actions.sign_out_everywhere(ada, by=Actor(user=admin_user))
    kept = AuditEvent.objects.filter(subject=ada).count()
    subject = ada.subject.hex[:8]
    actions.delete_user(ada, by=Actor(user=admin_user))
    assert not User.objects.filter(username="ada.agent").exists()
    mentions = AuditEvent.objects.filter(
        Q(summary__icontains="ada")
        | Q(subject_label__icontains="ada")
        | Q(actor_label__icontains="ada")
    )
    assert not mentions.exists()
    renamed = AuditEvent.objects.filter(subject_label=f"deleted user {subject}")
    assert renamed.count() == kept  # every event stays, under the pseudonym
    deleted = AuditEvent.objects.get(action="user.deleted")
    assert deleted.detail["pseudonym"] == f"deleted user {subject}"
    assert deleted.actor_label == admin_user.label


@pytest.mark.django_db
def test_events_older_than_the_retention_are_purged(tenant, tenant_factory, user_factory) -> None:
    other = tenant_factory("Eastwind")
    admin = user_factory("admin", username="boss")
    actions.set_audit_retention(tenant, 30, by=Actor(user=admin))
    now = timezone.now()
    for client in (tenant, other):
        for age in (10, 45, 400):
            AuditEvent.objects.create(
                client=client,
                at=now - timedelta(days=age),
                action="signin.success",
                summary=f"{age}",
            )
    results = dict(actions.purge_audit(by=OPERATOR))
    assert results["Northwind"] == 2 and results["Eastwind"] == 1  # 30 days, and the default 365
    events = AuditEvent.objects.filter(action="signin.success")
    left = set(events.values_list("client__name", "summary"))
    assert left == {("Northwind", "10"), ("Eastwind", "10"), ("Eastwind", "45")}
    purged = AuditEvent.objects.get(action="audit.purged", client=tenant)
    assert {"removed": 2, "days": 30}.items() <= purged.detail.items()


@pytest.mark.django_db
def test_the_retention_is_checked_and_only_admins_set_it(tenant, user_factory) -> None:
    admin = user_factory("admin", username="boss")
    manager = user_factory("manager", username="mgr", email="mgr@example.com")
    with pytest.raises(ValidationError, match="from 30 to 3650"):
        actions.set_audit_retention(tenant, 7, by=Actor(user=admin))
    with pytest.raises(PermissionDenied):
        actions.set_audit_retention(tenant, 90, by=Actor(user=manager))
    assert Client.objects.get(pk=tenant.pk).audit_retention_days == 365


@pytest.mark.django_db(transaction=True)
def test_purge_audit_command(capsys, tenant) -> None:
    AuditEvent.objects.create(
        client=tenant, at=timezone.now() - timedelta(days=366), action="signin.success", summary="x"
    )
    run = run_cli(capsys, "purge-audit", "--client", "Northwind")
    assert run.code == 0 and run.lines == ["Northwind: 1 event removed."]
    assert run_cli(capsys, "purge-audit").code == 0
