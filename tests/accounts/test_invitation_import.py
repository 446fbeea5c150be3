"""Invitations from a CSV import (issue 16): the action's `invite`, and `deskgate
import-users --invite`: each new active user with an Email gets one; the others are listed
with the reason, and the import stands."""

from __future__ import annotations

import pytest
from django.core import mail

from deskgate.accounts.actions import imports, invitations
from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import AuditAction, AuditEvent, Invitation, User
from tests.accounts.test_cli import run_cli
from tests.accounts.test_invitations import token_sent_to

HEADER = "username,full_name,level,email,work_phone,mfa,employment\n"


def test_new_users_with_an_email_are_invited(tenant, user_factory):
    old = user_factory("agent", "off", username="old.timer", email="old@example.com")
    text = (
        HEADER
        + "old.timer,Old Timer,agent,old@example.com,,off,\n"  # changed, not new: not invited
        + "aino,Aino Agent,agent,aino@example.com,,email,\n"
        + "paavo,Paavo Phone,agent,,+358401234567,sms,\n"  # no Email: not invited
        + "ilona,Ilona Inactive,agent,ilona@example.com,,off,inactive\n"  # inactive: not
    )
    result = imports.import_users(
        tenant, imports.read_csv(text.encode()), by=OPERATOR, dry_run=False, invite=True
    )
    assert result.applied and result.invited == 1 and result.not_invited == []
    aino = User.objects.get(username="aino")
    assert [m.to for m in mail.outbox] == [[aino.email]]
    found, state = invitations.look_up(token_sent_to(aino))
    assert state == invitations.LinkState.LIVE and found is not None and found.user == aino
    assert AuditEvent.objects.filter(action=AuditAction.USER_INVITED).count() == 1
    assert not Invitation.objects.filter(user=old).exists()


def test_without_invite_no_mail_goes(tenant):
    text = HEADER + "aino,Aino Agent,agent,aino@example.com,,email,\n"
    imports.import_users(tenant, imports.read_csv(text.encode()), by=OPERATOR, dry_run=False)
    assert mail.outbox == [] and not Invitation.objects.exists()


def test_a_dry_run_or_a_refused_file_invites_no_one(tenant):
    text = HEADER + "aino,Aino Agent,agent,aino@example.com,,email,\nx,X,agent,,,sms,\n"
    result = imports.import_users(
        tenant, imports.read_csv(text.encode()), by=OPERATOR, dry_run=False, invite=True
    )
    assert not result.applied and mail.outbox == []
    ok = HEADER + "aino,Aino Agent,agent,aino@example.com,,email,\n"
    imports.import_users(
        tenant, imports.read_csv(ok.encode()), by=OPERATOR, dry_run=True, invite=True
    )
    assert mail.outbox == [] and not Invitation.objects.exists()


def test_the_send_cap_lists_who_got_none(tenant, settings):
    settings.DESKGATE_SEND_CAPS = {**settings.DESKGATE_SEND_CAPS, "client": 1}
    text = (
        HEADER
        + "aino,Aino Agent,agent,aino@example.com,,email,\n"
        + "eero,Eero Agent,agent,eero@example.com,,email,\n"
    )
    result = imports.import_users(
        tenant, imports.read_csv(text.encode()), by=OPERATOR, dry_run=False, invite=True
    )
    assert result.applied and result.invited == 1
    assert [name for name, _why in result.not_invited] == ["eero"]
    assert "limit of messages per hour" in result.not_invited[0][1]
    assert User.objects.filter(username="eero").exists()  # the import stands


@pytest.mark.django_db(transaction=True)
def test_the_command_line_invites_with_invite(capsys, tmp_path, tenant):
    path = tmp_path / "users.csv"
    path.write_text(HEADER + "aino,Aino Agent,agent,aino@example.com,,email,\n", encoding="utf-8")
    done = run_cli(capsys, "import-users", "--client", "Northwind", "--file", str(path), "--invite")
    assert done.code == 0 and "Invitations sent: 1." in done.out
    aino = User.objects.get(username="aino")
    assert Invitation.objects.filter(user=aino).count() == 1
    assert token_sent_to(aino) not in done.out + done.err


@pytest.mark.django_db(transaction=True)
def test_create_user_invite_asks_no_password(capsys, tenant, monkeypatch):
    monkeypatch.delenv("DESKGATE_PASSWORD", raising=False)
    done = run_cli(
        capsys, "create-user", "--client", "Northwind", "--username", "aino",
        "--full-name", "Aino Agent", "--level", "agent", "--email", "aino@example.com",
        "--invite",
    )  # fmt: skip
    assert done.code == 0 and "Invitation sent to a" in done.out, done.err
    aino = User.objects.get(username="aino")
    assert not aino.has_usable_password() and Invitation.objects.filter(user=aino).exists()
    no_mail = run_cli(
        capsys, "create-user", "--client", "Northwind", "--username", "eero",
        "--full-name", "Eero Agent", "--level", "agent", "--invite",
    )  # fmt: skip
    assert no_mail.code != 0 and "give --email" in no_mail.err
    assert not User.objects.filter(username="eero").exists()
