"""Importing users from CSV (issue 16): the dry run says per row what would happen and
changes nothing; the real run applies every row or none; R1-R5, R10 and the last admin hold
exactly as on the form, R4 also between rows of one file and against a page edit racing it."""

from __future__ import annotations

import csv
import io

import pytest

from deskgate.accounts.actions import imports
from deskgate.accounts.actions.imports import Outcome
from deskgate.accounts.audit import OPERATOR, Actor
from deskgate.accounts.models import AuditEvent, Client, User
from tests.accounts.conftest import database_state
from tests.accounts.test_cli import run_cli

HEADER = "username,full_name,level,email,work_phone,mfa,employment\n"


def rows(text: str) -> list[imports.ImportRow]:
    return imports.read_csv((HEADER + text).encode())


def run(client: Client, text: str, *, dry_run: bool = False, by: Actor = OPERATOR):
    return imports.import_users(client, rows(text), by=by, dry_run=dry_run, source="agents.csv")


@pytest.mark.django_db
def test_the_dry_run_says_per_row_and_changes_nothing(tenant, user_factory) -> None:
    boss = user_factory("admin", username="boss", full_name="Boss Person", email="boss@example.com")
    user_factory("agent", "off", username="aki", full_name="Aki Agent", email="aki@example.com")
    before = database_state()
    result = run(
        tenant,
        "aki,Aki Virtanen,agent,aki@example.com,,,\n"
        "new.one,New One,agent,new@example.com,040 111 2233,sms,active\n"
        f"boss,Boss Person,admin,boss@example.com,{boss.work_phone},,\n"
        "bad,Bad Row,agent,,,sms,\n",
        dry_run=True,
    )
    assert database_state() == before
    assert not result.applied
    outcomes = [(r.line, r.username, r.outcome) for r in result.rows]
    assert outcomes == [
        (2, "aki", Outcome.CHANGE),
        (3, "new.one", Outcome.CREATE),
        (4, "boss", Outcome.UNCHANGED),
        (5, "bad", Outcome.REFUSE),
    ]
    assert result.rows[0].details == ["full_name", "work_phone"]  # an empty cell clears
    assert any(d.startswith("work_phone:") for d in result.rows[3].details)  # R3, in words
    assert result.summary == "1 to create, 1 to change, 1 unchanged, 1 refused."


@pytest.mark.django_db
def test_a_clean_file_is_applied_and_audited(tenant, user_factory) -> None:
    user_factory("agent", "off", username="aki", email="aki@example.com")
    result = run(
        tenant,
        "AKI,Aki Virtanen,Agent,aki@example.com,,Email,\n"
        "tl.one,Team Lead,team_leader,tl@example.com,+358401112233,SMS,Inactive\n",
    )
    assert result.applied and not result.refused
    aki = User.objects.get(username="aki")
    assert (aki.full_name, aki.mfa_method) == ("Aki Virtanen", "email")
    tl = User.objects.get(username="tl.one")
    assert (tl.level, tl.mfa_method, tl.is_active, tl.client_id) == (
        "team_leader",
        "sms",
        False,
        tenant.pk,
    )
    assert not tl.has_usable_password()  # no password is ever in a file
    event = AuditEvent.objects.get(action="user.imported")
    assert {"created": 1, "changed": 1, "file": "agents.csv"}.items() <= event.detail.items()
    assert AuditEvent.objects.filter(action="user.created", subject=tl).exists()
    assert AuditEvent.objects.filter(action="user.mfa_changed", subject=aki).exists()


@pytest.mark.django_db
def test_one_refused_row_applies_nothing(tenant, user_factory) -> None:
    user_factory("agent", username="aki")
    before = database_state()
    result = run(tenant, "fine,Fine Person,agent,fine@example.com,,,\nx,X,chief,,,,\n")
    assert not result.applied
    assert [r.outcome for r in result.rows] == [Outcome.CREATE, Outcome.REFUSE]
    assert "level: chief is not a level" in result.rows[1].details[0]
    assert database_state() == before


@pytest.mark.django_db
def test_r4_holds_between_rows_of_one_file(tenant) -> None:
    result = run(
        tenant,
        "one,One Person,agent,shared@example.com,,email,\n"
        "two,Two Person,agent,SHARED@example.com,,email,\n",
        dry_run=True,
    )
    assert [r.outcome for r in result.rows] == [Outcome.CREATE, Outcome.REFUSE]
    assert "One Person (one)" in " ".join(result.rows[1].details)  # names the holder


@pytest.mark.django_db
def test_the_same_user_twice_and_the_last_admin(tenant, user_factory) -> None:
    user_factory("admin", username="boss", email="boss@example.com")
    result = run(
        tenant,
        "boss,Boss,admin,boss@example.com,,,inactive\n"
        "dup,Dup One,agent,,,,\n"
        "DUP,Dup Two,agent,,,,\n",
        dry_run=True,
    )
    assert [r.outcome for r in result.rows] == [Outcome.REFUSE, Outcome.CREATE, Outcome.REFUSE]
    assert "no active admin left" in result.rows[0].details[0]
    assert "already on line 3" in result.rows[2].details[0]


@pytest.mark.django_db
def test_an_11x_client_gets_no_mfa_from_a_file(legacy_tenant) -> None:
    # Rights, tenant isolation, the race with a page edit and leaks:
    # tests/security/test_27_import.py.
    legacy = run(legacy_tenant, "old,Old Timer,agent,old@example.com,,email,\n", dry_run=True)
    assert "25.x" in " ".join(legacy.rows[0].details)  # R1


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "The file is empty"),
        (b"name,email\nx,y\n", "missing: username"),
        (HEADER.encode() + "a,Åsa,agent,,,,\n".encode("latin-1"), "not UTF-8"),
        (HEADER.encode(), "no users below"),
    ],
)
def test_files_that_cannot_be_read_say_why(data: bytes, says: str) -> None:
    with pytest.raises(imports.FileError, match=says):
        imports.read_csv(data)


def test_spreadsheet_exports_are_read() -> None:
    text = "\ufeffUsername;Full name;Level;Email;Work phone;MFA;Employment\r\n"
    text += "aino;Aino Ääkkönen;Agent;aino@example.com;'+358401234567;sms;Active\r\n;;;;;;\r\n"
    [row] = imports.read_csv(text.encode("utf-8"))
    assert (row.username, row.full_name, row.work_phone, row.line) == (
        "aino", "Aino Ääkkönen", "+358401234567", 2,
    )  # fmt: skip


@pytest.mark.django_db
def test_an_export_reads_back_unchanged(tenant, user_factory) -> None:
    user_factory(
        "agent", "sms", username="aki", full_name="=HYPERLINK(1)", work_phone="+358401234567"
    )
    user_factory("manager", "email", username="mia", email="mia@example.com", active=False)
    out = io.StringIO()
    csv.writer(out).writerows(imports.export_rows(User.objects.filter(client=tenant)))
    exported = out.getvalue()
    assert "'=HYPERLINK(1)" in exported and "'+358401234567" in exported  # no formulas
    result = imports.import_users(
        tenant, imports.read_csv(exported.encode()), by=OPERATOR, dry_run=True
    )
    assert [r.outcome for r in result.rows] == [Outcome.UNCHANGED, Outcome.UNCHANGED]


@pytest.mark.django_db(transaction=True)
def test_the_command_line_dry_run_and_apply(capsys, tmp_path, tenant) -> None:
    path = tmp_path / "users.csv"
    path.write_text(HEADER + "aino,Aino Agent,agent,aino@example.com,,email,\n", encoding="utf-8")
    dry = run_cli(capsys, "import-users", "--client", "Northwind", "--file", str(path), "--dry-run")
    assert dry.code == 0 and "line 2: aino: create" in dry.out and "Dry run" in dry.out
    assert not User.objects.filter(username="aino").exists()
    done = run_cli(capsys, "import-users", "--client", "Northwind", "--file", str(path))
    assert done.code == 0 and User.objects.filter(username="aino").exists()
    path.write_text(HEADER + "x,X,agent,,,sms,\n", encoding="utf-8")
    refused = run_cli(capsys, "import-users", "--client", "Northwind", "--file", str(path))
    assert refused.code != 0 and "line 2: x: refuse: work_phone:" in refused.out
    assert "nothing was imported" in refused.err
    exported = run_cli(capsys, "export-users", "--client", "Northwind")
    assert exported.lines[0] == "username,full_name,level,email,work_phone,mfa,employment"
    assert exported.lines[1].startswith("aino,Aino Agent,agent,aino@example.com")
