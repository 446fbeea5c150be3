"""Users > Import in a real browser: a file with a refused row is checked, says why and
imports nothing; the corrected file is checked again, then applied whole (issue 16)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import FilePayload, Locator, Page, expect

from deskgate.accounts.models import AuditEvent, User

pytestmark = pytest.mark.browser

HEADER = "username,full_name,level,email,work_phone,mfa,employment\n"


def choose_file(page: Page, text: str) -> None:
    page.get_by_label("CSV file", exact=True).set_input_files(
        files=[FilePayload(name="agents.csv", mimeType="text/csv", buffer=text.encode())]
    )
    page.get_by_role("button", name="Check the file").click()


def test_the_dry_run_refuses_a_shared_address_then_the_corrected_file_is_applied(
    page: Page,
    sign_in_as: Callable[[User], None],
    admin_user: User,
    user_factory: Callable[..., User],
) -> None:
    user_factory("agent", "off", username="aki", full_name="Aki Agent", email="aki@example.com")
    sign_in_as(admin_user)
    page.goto("/users/import/")
    expect(page.get_by_role("heading", name="Import users from a CSV file")).to_be_visible()

    # R4 between rows of the same file: the second row wants the first row's address.
    choose_file(
        page,
        HEADER + "bo.berg,Bo Berg,agent,bo@example.com,,email,\n"
        "cai.chen,Cai Chen,agent,bo@example.com,,email,\n"
        "aki,Aki Virtanen,agent,aki@example.com,,,\n",
    )
    rows = page.get_by_role("region", name="Rows of the file")

    def row(username: str) -> Locator:
        return rows.get_by_role("row").filter(
            has=page.get_by_role("cell", name=username, exact=True)
        )

    expect(page.get_by_text("Nothing was imported.")).to_be_visible()
    expect(row("cai.chen")).to_contain_text("Refused")
    expect(row("bo.berg")).to_contain_text("Will be created")
    expect(row("aki")).to_contain_text("Will change")
    expect(page.get_by_role("button", name="Apply", exact=False)).to_have_count(0)
    assert not User.objects.filter(username__in=["bo.berg", "cai.chen"]).exists()
    assert User.objects.get(username="aki").full_name == "Aki Agent"

    choose_file(
        page,
        HEADER + "bo.berg,Bo Berg,agent,bo@example.com,,email,\n"
        "cai.chen,Cai Chen,agent,cai@example.com,,email,\n"
        "aki,Aki Virtanen,agent,aki@example.com,,,\n",
    )
    expect(page.get_by_text("Checked agents.csv: 2 to create, 1 to change")).to_be_visible()
    expect(page.get_by_text("Nothing has changed yet.")).to_be_visible()
    assert not User.objects.filter(username="bo.berg").exists()
    page.get_by_role("button", name="Apply all 3 rows").click()

    expect(page.get_by_text("Imported agents.csv: 2 to create, 1 to change")).to_be_visible()
    assert User.objects.get(username="cai.chen").email == "cai@example.com"
    assert User.objects.get(username="aki").full_name == "Aki Virtanen"
    assert AuditEvent.objects.filter(action="user.imported").count() == 1
