"""27. The CSV import door (Users > Import, `deskgate import-users`): tenant isolation, rights,
a race with a page edit, and leaks.

- Tenant isolation: another client's admin cannot import into this client; a user name of
  another client is refused, never changed; the download holds only the admin's own users.
- Rights: agents neither import nor download; a manager's file may create or change only
  the levels below their own, and changes no MFA settings (the permission table, README
  "Who may do what"; the whole table is tests/security/test_27_help_desk.py, including
  `test_an_import_by_a_manager_changes_no_mfa`).
- Race: an import and a page edit giving one address to two users: one wins, no address is
  shared (R4).
- Leaks: no full phone number from an imported file reaches the logs, the audit trail, or
  the rendered results of the page or the command line (refused rows included).

The door's other behaviour (dry run, apply, spreadsheet files) is tests/accounts/test_imports.py
and tests/web/test_import_page.py.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from functools import partial

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client as HttpClient

from deskgate.accounts import actions
from deskgate.accounts.actions import imports
from deskgate.accounts.actions.imports import Outcome
from deskgate.accounts.audit import OPERATOR, Actor
from deskgate.accounts.models import AuditEvent, Client, User
from tests.accounts.conftest import shared_recipients
from tests.accounts.test_cli import run_cli
from tests.accounts.test_concurrency import race
from tests.conftest import signed_in_client
from tests.pages import content, page_text, snapshot

HEADER = "username,full_name,level,email,work_phone,mfa,employment\n"


def rows(text: str) -> list[imports.ImportRow]:
    return imports.read_csv((HEADER + text).encode())


def run(client: Client, text: str, *, dry_run: bool = False, by: Actor = OPERATOR):
    return imports.import_users(client, rows(text), by=by, dry_run=dry_run, source="agents.csv")


def upload(text: str, name: str = "agents.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")


# --- tenant isolation ------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_admin_of_another_client_cannot_import(tenant, tenant_factory, user_factory) -> None:
    other = tenant_factory("Eastwind")
    outsider = user_factory("admin", client=other, username="east.admin")
    before = snapshot()
    with pytest.raises(PermissionDenied, match="own company"):
        run(tenant, "x,X Person,agent,,,,\n", by=Actor(user=outsider))
    assert snapshot() == before


@pytest.mark.django_db
def test_another_clients_user_name_is_refused_not_changed(
    admin_http, user_factory, tenant_factory
) -> None:
    other = tenant_factory("Eastwind")
    user_factory("agent", client=other, username="otto.outsider", full_name="Otto Outsider")
    response = admin_http.post(
        "/users/import/", {"file": upload(HEADER + "otto.outsider,Hijacked,agent,,,,\n")}
    )
    assert "already taken" in page_text(response)
    assert User.objects.get(username="otto.outsider").full_name == "Otto Outsider"


@pytest.mark.django_db
def test_the_download_holds_only_the_admins_own_users(
    admin_http, user_factory, tenant_factory
) -> None:
    import csv
    import io

    other = tenant_factory("Eastwind")
    user_factory("agent", "sms", username="aki", full_name="=cmd()", work_phone="+358401234567")
    user_factory("agent", client=other, username="otto.outsider")
    response = admin_http.get("/users/export.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    found = list(csv.reader(io.StringIO(body)))
    assert found[0] == [
        "username",
        "full_name",
        "level",
        "email",
        "work_phone",
        "mfa",
        "employment",
    ]
    names = {r[0] for r in found[1:]}
    assert "aki" in names and "otto.outsider" not in names
    assert [
        "aki",
        "'=cmd()",
        "agent",
        "aki@example.com",
        "'+358401234567",
        "sms",
        "active",
    ] in found


# --- rights ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_agents_cannot_import_or_download(user_factory) -> None:
    agent = signed_in_client(user_factory("agent", "off", username="plain.agent"))
    before = snapshot()
    assert agent.get("/users/import/").status_code in (403, 404)
    posted = agent.post(
        "/users/import/", {"apply": "1", "content": HEADER + "z,Z,admin,z@x.example,,,\n"}
    )
    assert posted.status_code in (403, 404)
    assert agent.get("/users/export.csv").status_code in (403, 404)
    assert snapshot() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("line", "says"),
    [
        (
            "new.admin,New Admin,admin,na@example.com,,,",
            "Only an admin can create or change an admin.",
        ),
        ("new.boss,New Boss,manager,nb@example.com,,,", "levels below their own"),
        ("mia,Mia Promoted,manager,mia@example.com,,,", "levels below their own"),
    ],
    ids=["admin", "manager", "promotion"],
)
def test_a_manager_imports_only_levels_below_their_own(
    tenant, user_factory, line: str, says: str
) -> None:
    manager = user_factory("manager", username="mgr", email="mgr@example.com")
    user_factory("agent", username="mia", email="mia@example.com")
    before = snapshot()
    result = run(tenant, line + "\n", by=Actor(user=manager))
    assert result.rows[0].outcome == Outcome.REFUSE
    assert any(says in d for d in result.rows[0].details), result.rows[0].details
    assert snapshot() == before
    fine = run(tenant, "new.agent,New Agent,agent,new@example.com,,,\n", by=Actor(user=manager))
    assert fine.applied


# --- a race with the page --------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_import_and_a_page_edit_racing_for_one_address(tenant, user_factory, admin_user) -> None:
    """The import gives a new user Email MFA at an address while an admin gives it to an
    existing user on the page: one of them wins, the other gets R4's words."""
    for n in range(4):
        address = f"race{n}@example.com"
        vera = user_factory("agent", "off", email=f"vera{n}@example.com")
        data = actions.UserInput.of(vera)
        data.email, data.mfa_method = address, "email"
        file = rows(f"imp{n},Imported {n},agent,{address},,email,\n")
        outcomes = race(
            partial(actions.update_user, vera, data, by=Actor(user=admin_user)),
            partial(imports.import_users, tenant, file, by=OPERATOR, dry_run=False),
        )
        imported = User.objects.filter(username=f"imp{n}").exists()
        edited = User.objects.get(pk=vera.pk).email == address
        assert imported != edited, (n, outcomes)
        if not edited:
            assert isinstance(outcomes[0], ValidationError)
        assert shared_recipients(tenant) == []


# --- leaks -----------------------------------------------------------------------------------

# The numbers of the files below, by their significant digits (after +358 or the leading 0).
NUMBERS = ["401112233", "409998877", "401234500", "91234567"]


def full_numbers_in(text: str) -> list[str]:
    """The numbers above, written any way (+358 40 111 2233, 040-111 2233, 0401112233)."""
    found = []
    for digits in NUMBERS:
        pattern = r"[\s\-.()]*".join(digits)
        if re.search(pattern, text):
            found.append(digits)
    return found


def results_of(response) -> str:
    """What the import page renders about the rows: its status and the results table (the
    hidden copy of the file itself, posted back by Apply, is the admin's own upload)."""
    html = content(response)
    html = re.sub(r"<textarea[^>]*>.*?</textarea>", "", html, flags=re.S)
    return html


@pytest.mark.django_db(transaction=True)
def test_no_full_number_from_a_file_reaches_logs_trail_or_results(
    tenant,
    user_factory,
    admin_user,
    capsys,
    tmp_path,
    caplog: pytest.LogCaptureFixture,
    signed_in: Callable[[User], HttpClient],
) -> None:
    caplog.set_level(logging.DEBUG)
    user_factory("agent", "sms", username="aki", full_name="Aki Agent", work_phone="+358401234500")
    http = signed_in(admin_user)
    shown: list[str] = []

    # Refused rows: a landline for SMS (R3) and a number another user's codes go to (R4).
    refused = (
        "bad.phone,Bad Phone,agent,bad@example.com,09 123 4567,sms,\n"
        "clash,Clash Person,agent,clash@example.com,+358 40 123 4500,sms,\n"
    )
    response = http.post("/users/import/", {"file": upload(HEADER + refused)})
    assert "2 refused" in page_text(response)
    shown.append(results_of(response))

    # A clean file: a new SMS user (national form), and a changed number of an SMS user.
    clean = (
        "new.sms,New Sms,agent,new.sms@example.com,040 111 2233,sms,\n"
        "aki,Aki Agent,agent,aki@example.com,+358 40 999 8877,,\n"
    )
    checked = http.post("/users/import/", {"file": upload(HEADER + clean)})
    assert "1 to create, 1 to change" in page_text(checked)
    shown.append(results_of(checked))
    applied = http.post(
        "/users/import/", {"apply": "1", "filename": "agents.csv", "content": HEADER + clean}
    )
    assert applied.status_code == 200
    shown.append(results_of(applied))
    assert User.objects.get(username="new.sms").work_phone == "+358401112233"
    assert User.objects.get(username="aki").work_phone == "+358409998877"

    # The command line prints its per-row results too.
    path = tmp_path / "agents.csv"
    path.write_text(HEADER + refused, encoding="utf-8")
    printed = run_cli(capsys, "import-users", "--client", tenant.name, "--file", str(path))
    assert printed.code != 0
    shown += [printed.out, printed.err]

    trail = [
        " ".join([e.summary, e.actor_label, e.subject_label, json.dumps(e.detail)])
        for e in AuditEvent.objects.all()
    ]
    assert any(e.action == "user.imported" for e in AuditEvent.objects.all())
    logs = [r.getMessage() for r in caplog.records] + [caplog.text]
    sent = [f"{m.subject} {m.body}" for m in mail.outbox]
    for where, texts in (("results", shown), ("audit", trail), ("logs", logs), ("mail", sent)):
        leaked = {d for text in texts for d in full_numbers_in(text)}
        assert not leaked, f"full numbers {leaked} in the {where}"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            "work_phone: +358 9 1234567 is not a mobile",
            "work_phone: +358 •• ••• •67 is not a mobile",
        ),
        (
            "+358 40 1234500 is also the Work phone of Aki",
            "+358 •• ••• ••00 is also the Work phone of Aki",
        ),
        ("work_phone: 09 123 4567 is not valid", "work_phone: •••••••67 is not valid"),
        ("x is already on line 3 of this file.", "x is already on line 3 of this file."),
        ("user1234567@example.com: 5,000 rows", "user1234567@example.com: 5,000 rows"),
    ],
)
def test_a_rows_words_keep_only_the_last_two_digits(text: str, shown: str) -> None:
    from deskgate.accounts import contact

    assert contact.mask_numbers_in(text) == shown
