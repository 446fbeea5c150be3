"""26. MFA coverage and the audit trail's filters and CSVs (issue 15): an admin of one
client never sees another client's users or events, whatever they type into a filter or
a URL; agents and team leaders reach neither page, managers not the coverage (it lists
admins and links to the settings); no download carries a full phone number.
"""

from __future__ import annotations

import pytest

from deskgate.accounts.models import User
from tests.security.conftest import comparable, full_sign_in, visible_text

pytestmark = pytest.mark.django_db(transaction=True)

FOREIGN_PHONE = "+358409876543"


@pytest.fixture
def two_clients(browser, user_factory, tenant_factory):
    other = tenant_factory("Contoso")
    admin = user_factory("admin", "email", username="north.admin", full_name="North Admin")
    user_factory("agent", "sms", username="own.agent", full_name="Own Agent")
    foreign = user_factory(
        "agent",
        "sms",
        client=other,
        username="contoso.agent",
        full_name="Contoso Secretagent",
        email="secretagent@contoso.example",
        work_phone=FOREIGN_PHONE,
    )
    foreign_admin = user_factory("admin", "off", client=other, username="contoso.admin")
    full_sign_in(browser(), foreign_admin)  # events of the other client: a sign-in
    return full_sign_in(browser(), admin), foreign


SECRETS = ("Secretagent", "secretagent@contoso", "contoso.agent", "contoso.admin", "Contoso")


def test_no_filter_reaches_another_clients_events(two_clients) -> None:
    a, foreign = two_clients
    probes = [
        {"q": "Contoso"},
        {"q": "contoso.agent"},
        {"subject": "Secretagent"},
        {"actor": "contoso"},
        {"action": "user.created"},
        {"action": "signin.success", "since": "2000-01-01"},
    ]
    for path in ("/audit/", "/audit.csv"):
        for params in probes:
            response = a.get(path, params=params)
            assert response.status_code == 200, (path, params)
            typed = [v for v in params.values() if v not in ("user.created", "signin.success")]
            body = comparable(response, *typed)
            for secret in SECRETS:
                assert secret not in body, (path, params, secret)
    own = a.get("/audit.csv", params={"action": "user.created"}).text
    assert "Own Agent (own.agent)" in own  # the filters work: the absence above means something
    # Another client's user id answers as a missing one, on the page and the download.
    missing = User.objects.latest("pk").pk + 1000
    for path in ("/audit/", "/audit.csv"):
        answers = [
            (r.status_code, comparable(r, str(uid)))
            for uid in (foreign.pk, missing)
            for r in [a.get(path, params={"user": uid})]
        ]
        assert answers[0] == answers[1] and answers[0][0] == 404, path


def test_coverage_counts_and_lists_only_the_own_client(two_clients) -> None:
    a, _foreign = two_clients
    page = a.get("/users/coverage/")
    assert page.status_code == 200
    assert "2 of 2 active users have a second factor" in visible_text(page)
    download = a.get("/users/coverage.csv")
    assert download.status_code == 200
    for body in (page.text, download.content.decode()):
        for secret in (*SECRETS, FOREIGN_PHONE, FOREIGN_PHONE[1:]):
            assert secret not in body, secret
    assert download.content.decode().count("\n") == 3  # the header and two users


@pytest.mark.parametrize(
    ("level", "coverage", "audit"),
    [("agent", 403, 403), ("team_leader", 403, 403), ("manager", 403, 200)],
)
def test_who_reaches_the_pages(browser, user_factory, level, coverage, audit) -> None:
    user_factory("admin", "off", username="the.admin", full_name="The Admin")
    person = full_sign_in(browser(), user_factory(level, "off"))
    for path, expected in (
        ("/users/coverage/", coverage),
        ("/users/coverage.csv", coverage),
        ("/audit/", audit),
        ("/audit.csv", audit),
    ):
        response = person.get(path)
        assert response.status_code == expected, (level, path)
        if expected == 403:
            assert "The Admin" not in response.text
    signed_out = browser()
    for path in ("/users/coverage/", "/users/coverage.csv", "/audit.csv"):
        response = signed_out.get(path)
        assert response.status_code == 302 and "/signin/" in response.headers["Location"]
