"""Users > Import and the CSV download: the dry run on the page changes nothing and says per
row what would happen; Apply (after a fresh sign-in check) writes the whole file; the
download keeps the list's filters, in the columns Import reads back. Tenant isolation, rights
and leaks of this door: tests/security/test_27_import.py."""

from __future__ import annotations

import csv
import io
import re

from django.core.files.uploadedfile import SimpleUploadedFile

from deskgate.accounts.models import AuditEvent, User
from tests.pages import content, page_text, snapshot

HEADER = "username,full_name,level,email,work_phone,mfa,employment\n"


def upload(text: str | bytes, name: str = "agents.csv") -> SimpleUploadedFile:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return SimpleUploadedFile(name, data, content_type="text/csv")


def test_the_page_offers_a_file_and_the_download(admin_http) -> None:
    response = admin_http.get("/users/import/")
    assert response.status_code == 200
    text = page_text(response)
    assert "Import users from a CSV file" in text and "Download the user list as CSV" in text
    assert 'type="file"' in content(response)


def test_checking_a_file_changes_nothing_and_offers_apply(admin_http, user_factory) -> None:
    user_factory("agent", "off", username="aki", full_name="Aki Agent", email="aki@example.com")
    before = snapshot()
    response = admin_http.post(
        "/users/import/",
        {"file": upload(HEADER + "aki,Aki Virtanen,agent,aki@example.com,,,\n"
                        "new.one,New One,agent,new@example.com,,email,\n")},
    )  # fmt: skip
    assert response.status_code == 200
    text = page_text(response)
    assert "Checked agents.csv: 1 to create, 1 to change, 0 unchanged, 0 refused." in text
    assert "Will be created" in text and "Will change" in text
    assert "Apply all 2 rows" in text
    assert snapshot() == before


def test_apply_writes_the_whole_file(admin_http) -> None:
    row = "new.one,New One,agent,new@example.com,,email,\n"
    response = admin_http.post(
        "/users/import/", {"apply": "1", "filename": "agents.csv", "content": HEADER + row}
    )
    assert response.status_code == 200
    assert "Imported agents.csv: 1 to create" in page_text(response)
    assert User.objects.get(username="new.one").mfa_method == "email"
    assert AuditEvent.objects.filter(action="user.imported").count() == 1


def test_a_refused_row_shows_why_and_no_apply(admin_http, user_factory) -> None:
    user_factory("agent", "email", username="holder", email="shared@example.com")
    before = snapshot()
    response = admin_http.post(
        "/users/import/", {"file": upload(HEADER + "x,X Person,agent,shared@example.com,,email,\n")}
    )
    text = page_text(response)
    assert "1 refused" in text and "Nothing was imported." in text
    assert "holder" in text  # R4 names the other holder
    assert "Apply" not in text
    assert snapshot() == before


def test_files_that_cannot_be_read_say_why_and_change_nothing(admin_http) -> None:
    before = snapshot()
    bad = admin_http.post("/users/import/", {"file": upload("name;email\nx;y\n")})
    assert bad.status_code == 400 and "missing: username" in page_text(bad)
    latin = admin_http.post(
        "/users/import/", {"file": upload(HEADER.encode() + "Åsa".encode("latin-1"))}
    )
    assert latin.status_code == 400 and "not UTF-8" in page_text(latin)
    none = admin_http.post("/users/import/", {})
    assert none.status_code == 400 and "Choose a CSV file" in page_text(none)
    assert snapshot() == before


def test_the_download_keeps_the_lists_filters(admin_http, user_factory) -> None:
    user_factory("manager", username="mia.manager", email="mia@example.com")
    user_factory("agent", username="aki.agent")
    listed = admin_http.get("/users/?level=manager")
    assert re.search(r'href="/users/export.csv\?[^"]*level=manager', content(listed))
    response = admin_http.get("/users/export.csv?level=manager&status=all")
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    names = {r[0] for r in csv.reader(io.StringIO(body))}
    assert "mia.manager" in names and "aki.agent" not in names
