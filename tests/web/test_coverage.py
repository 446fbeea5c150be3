"""Users > MFA coverage and its CSV (issue 15): counts per level, who is not protected and
why with the link that fixes it, masked destinations, bounded queries."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client as HttpClient

from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import Client, User
from tests.authenticator import enrol
from tests.conftest import VERA_PHONE
from tests.pages import content, page_text


def download(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(body.removeprefix("\ufeff"))))


def streamed(response: Any) -> str:
    """The body of a streamed download, read to its end."""
    return b"".join(response.streaming_content).decode("utf-8")


def unprotected_rows(response: Any) -> list[list[str]]:
    table = re.search(r'<table class="coverage-users">.*?</table>', content(response), re.S)
    assert table
    return [
        [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", table.group(0), re.S)[1:]
    ]


@pytest.fixture
def people(user_factory: Callable[..., User], vera: User) -> dict[str, User]:
    made = {
        "vera": vera,
        "sami": user_factory("agent", "sms", username="sami.sms", full_name="Sami Sms"),
        "aino": user_factory("agent", "email", username="aino.app", full_name="Aino App"),
        "lasse": user_factory(
            "agent", "sms", username="lasse.line", full_name="=HYPERLINK(evil) Lasse"
        ),
    }
    enrol(made["aino"])
    # A landline saved before the rule (the rules refuse it today): written directly.
    User.objects.filter(pk=made["lasse"].pk).update(work_phone="+35891234567")
    return made


def test_the_page_counts_by_level_and_lists_the_unprotected(
    admin_http: HttpClient, people: dict[str, User]
) -> None:
    response = admin_http.get("/users/coverage/")
    assert response.status_code == 200
    text = page_text(response)
    # Anna Admin has MFA Off too: 2 of 5 are protected.
    assert "2 of 5 active users have a second factor at sign-in." in text
    rows = unprotected_rows(response)
    names = [r[0] for r in rows]
    assert names[0] == "Anna Admin"  # admins first
    assert set(names) == {"Anna Admin", "Vera Agent", "=HYPERLINK(evil) Lasse"}
    lasse = next(r for r in rows if r[0].endswith("Lasse"))
    assert lasse[2:6] == ["Agent", "SMS", "+358 •• ••• •67", "Landline"]
    assert "Enter a mobile Work phone, or choose Email." in lasse[6]
    body = content(response)
    assert f'href="/users/{people["vera"].pk}/">Fix on the user page' in body
    assert VERA_PHONE not in body and "+35891234567" not in body and "91234567" not in body
    # The Users sub-navigation leads here, and marks it.
    assert 'href="/users/coverage/" aria-current="page">MFA coverage' in body


def test_counts_link_to_the_filtered_list(admin_http: HttpClient, people: dict[str, User]) -> None:
    body = content(admin_http.get("/users/coverage/"))
    assert 'href="?level=agent&amp;reason=off#unprotected">1</a>' in body
    assert 'href="?level=agent&amp;reason=landline#unprotected">1</a>' in body
    only = admin_http.get("/users/coverage/", {"level": "agent", "reason": "off"})
    assert [r[0] for r in unprotected_rows(only)] == ["Vera Agent"]
    admins = admin_http.get("/users/coverage/", {"level": "admin"})
    assert [r[0] for r in unprotected_rows(admins)] == ["Anna Admin"]
    # Unknown values are no filter at all, never an error.
    everyone = admin_http.get("/users/coverage/", {"level": "boss", "reason": "\x00", "page": "x"})
    assert everyone.status_code == 200 and len(unprotected_rows(everyone)) == 3


def test_release_11_links_to_the_settings(
    user_factory: Callable[..., User], legacy_tenant: Client, signed_in: Callable[..., HttpClient]
) -> None:
    leo = user_factory("admin", client=legacy_tenant, username="leo.admin", full_name="Leo Admin")
    response = signed_in(leo).get("/users/coverage/")
    assert [r[0] for r in unprotected_rows(response)] == ["Leo Admin"]
    assert unprotected_rows(response)[0][5] == "Release 11.x"
    assert 'href="/settings/">Open Settings</a>' in content(response)


def test_the_csv_lists_everyone_masked_and_formula_safe(
    admin_http: HttpClient, people: dict[str, User], settings: Any
) -> None:
    settings.DESKGATE_BASE_URL = "https://deskgate.example"
    rows = download(admin_http.get("/users/coverage.csv"))
    assert [r["protected"] for r in rows] == ["no", "no", "no", "yes", "yes"]
    by_user = {r["username"]: r for r in rows}
    assert by_user["aino.app"] | {} == {
        "username": "aino.app",
        "full_name": "Aino App",
        "level": "Agent",
        "protected": "yes",
        "protected_by": "Authenticator app; Email",
        "reason": "",
        "mfa": "Email",
        "destination": "a••••@example.com",
        "fix": "",
    }
    assert by_user["sami.sms"]["destination"].startswith("'+358 •• ")  # a + starts a formula
    lasse = by_user["lasse.line"]
    assert lasse["full_name"] == "'=HYPERLINK(evil) Lasse"
    assert (lasse["reason"], lasse["fix"]) == (
        "Landline",
        f"https://deskgate.example/users/{people['lasse'].pk}/",
    )
    assert by_user["vera.agent"]["reason"] == "MFA is Off"
    raw = streamed(admin_http.get("/users/coverage.csv"))
    for secret in (VERA_PHONE, VERA_PHONE[1:], "35891234567", people["vera"].email):
        assert secret not in raw


def test_a_shared_address_names_the_other_holder(
    admin_http: HttpClient, user_factory: Callable[..., User]
) -> None:
    kalle = user_factory("agent", "email", username="kalle.agent", full_name="Kalle Agent")
    liisa = user_factory("agent", username="liisa.agent", full_name="Liisa Agent")
    # Shared before R4 held from both sides (an import): written directly.
    User.objects.filter(pk=liisa.pk).update(email=kalle.email)
    rows = {r[0]: r for r in unprotected_rows(admin_http.get("/users/coverage/"))}
    assert rows["Kalle Agent"][5] == "Shared address with Liisa Agent (liisa.agent)"
    assert rows["Liisa Agent"][5] == "MFA is Off"


def test_queries_stay_bounded(
    admin_http: HttpClient,
    user_factory: Callable[..., User],
    django_assert_max_num_queries: Any,
) -> None:
    counts = []
    for n in (3, 40):
        for i in range(n):
            user_factory("agent", ("off", "email", "sms")[i % 3])
        for path in ("/users/coverage/", "/users/coverage.csv"):
            with django_assert_max_num_queries(6) as captured:
                response = admin_http.get(path)
                if path.endswith(".csv"):
                    streamed(response)
            counts.append(len(captured))
    assert counts[:2] == counts[2:]


def test_managers_and_agents_are_refused(
    user_factory: Callable[..., User], signed_in: Callable[..., HttpClient], admin_user: User
) -> None:
    for level in ("manager", "team_leader", "agent"):
        http = signed_in(user_factory(level))
        for path in ("/users/coverage/", "/users/coverage.csv"):
            response = http.get(path)
            assert response.status_code == 403, (level, path)
            assert "Anna Admin" not in response.content.decode()
    # The sub-navigation offers it to admins only.
    manager_list = signed_in(user_factory("manager")).get("/users/")
    assert "MFA coverage" not in page_text(manager_list)


def test_another_clients_users_never_count(
    admin_http: HttpClient, user_factory: Callable[..., User], vera: User
) -> None:
    other = actions.create_client("Contoso", "25.4", by=OPERATOR)
    user_factory("agent", client=other, username="otto.outsider", full_name="Otto Outsider")
    response = admin_http.get("/users/coverage/")
    assert "Otto" not in page_text(response)
    assert "1 of 2 active users" not in page_text(response)
    raw = streamed(admin_http.get("/users/coverage.csv"))
    assert "otto" not in raw.lower()
