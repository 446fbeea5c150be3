"""The factor policy and the enrolment link (issue 14, SECURITY.md section 18).

- A strong factor is never set up on the password alone: not at the enrolment step of a
  sign-in that proved nothing else, not through the link's page without the password.
- The policy is changed only by the client's admins: not by a manager or an agent, not by
  another client's admin.
- A sign-in waiting at the enrolment step holds no session: its cookie opens no page, and
  neither the REST API nor SCIM take it.
- The link's token is in no log, no audit event, no page after the first redirect, and is
  stored only as a hash.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.test import Client as HttpClient

from deskgate.accounts.audit import Actor
from deskgate.accounts.models import AuditEvent, Client, User
from deskgate.signin import enrolment
from deskgate.signin.models import AuthenticatorApp, EnrolmentLink, PendingSignIn
from tests.conftest import PASSWORD, sign_in
from tests.pages import snapshot
from tests.security.test_06_leaks import every_log_record  # noqa: F401  # the fixture

ENROL = "/signin/enrol/"
LINK = re.compile(r"https?://\S+(/signin/enrolment-link/)\?t=([A-Za-z0-9_-]+)")
SECRET = re.compile(rb'id="totp-secret"')


def require(client: Client, *levels: str) -> None:
    Client.objects.filter(pk=client.pk).update(strong_factor_levels=" ".join(levels))


def _no_secret(response) -> None:
    assert not SECRET.search(response.content) and b"<svg" not in response.content


def test_password_alone_never_reaches_the_set_up(user_factory, tenant) -> None:
    require(tenant, "admin")
    admin = user_factory("admin", "off")
    http = HttpClient()
    assert sign_in(http, admin)["Location"] == ENROL
    _no_secret(http.get(ENROL))
    for code in ("000000", "123456", "999999"):
        _no_secret(http.post(ENROL, {"action": "confirm", "code": code}))
    _no_secret(http.post(ENROL, {"action": "continue"}))
    assert not AuthenticatorApp.objects.filter(user=admin).exists()
    # Nor the account page's set-up: there is no session to reach it with.
    assert http.get("/account/authenticator/")["Location"].startswith("/signin/")
    assert "_auth_user_id" not in http.session


def test_the_links_page_asks_the_password_before_anything(user_factory) -> None:
    agent = user_factory("agent", "off")
    enrolment.send_link(agent, by=Actor(user=agent))
    path, token = LINK.search(str(mail.outbox[-1].body)).groups()  # type: ignore[union-attr]
    http = HttpClient()
    http.get(path, {"t": token})
    page = http.get(path)
    _no_secret(page)
    # Going on to the enrolment step without the password: no attempt exists.
    assert http.get(ENROL)["Location"] == "/signin/"
    _no_secret(http.post(ENROL, {"action": "confirm", "code": "123456"}))
    assert not PendingSignIn.objects.filter(user=agent).exists()
    assert EnrolmentLink.objects.get(user=agent).used_at is None


@pytest.mark.parametrize("level", ["manager", "team_leader", "agent"])
def test_the_policy_cannot_be_changed_below_admin(
    user_factory: Callable[..., User],
    signed_in: Callable[[User], HttpClient],
    tenant: Client,
    level: str,
) -> None:
    http = signed_in(user_factory(level, username=f"the.{level}"))
    before = snapshot()
    response = http.post(
        "/settings/", {"strong_factor_levels": ["agent"], "new_user_mfa_agent": "sms"}
    )
    assert response.status_code == 403
    assert snapshot() == before


def test_another_clients_admin_changes_only_their_own(
    user_factory: Callable[..., User],
    signed_in: Callable[[User], HttpClient],
    tenant: Client,
    tenant_factory,
) -> None:
    elsewhere = tenant_factory("Elsewhere")
    http = signed_in(user_factory("admin", client=elsewhere, username="eve.elsewhere"))
    response = http.post(
        "/settings/", {"strong_factor_levels": ["agent"], "new_user_mfa_agent": "email"}
    )
    assert response.status_code == 302
    tenant.refresh_from_db()
    elsewhere.refresh_from_db()
    assert (tenant.strong_factor_levels, tenant.new_user_mfa) == ("", {})
    assert elsewhere.strong_factor_levels == "agent"
    # Nor can they send a set-up link to a user of another client: no such user.
    victim = user_factory("agent", "off")
    assert http.post(f"/users/{victim.pk}/enrolment-link/").status_code == 404
    assert not EnrolmentLink.objects.exists()


PAGES = ["/", "/account/", "/users/", "/settings/", "/audit/", "/account/authenticator/"]


def test_the_enrolment_step_holds_no_session(user_factory, tenant) -> None:
    require(tenant, "admin")
    admin = user_factory("admin", "email")
    http = HttpClient()
    sign_in(http, admin)
    from tests.mailbox import last_code

    assert (
        http.post("/signin/code/", {"action": "verify", "code": last_code(admin)})["Location"]
        == ENROL
    )
    assert SECRET.search(http.get(ENROL).content)  # the set-up is here, and only here
    for path in PAGES:
        response = http.get(path)
        assert response.status_code in (302, 403), path
        if response.status_code == 302:
            assert response["Location"].startswith("/signin/"), path
    # The REST API and SCIM take tokens, never this cookie.
    assert http.get("/api/v1/users").status_code == 401
    assert http.get("/scim/v2/Users").status_code == 401
    assert "_auth_user_id" not in http.session


def test_the_links_token_is_in_no_log_audit_or_page(
    user_factory,
    admin_http,
    every_log_record,  # noqa: F811  # the fixture imported above
) -> None:
    agent = user_factory("agent", "off")
    admin_http.post(f"/users/{agent.pk}/enrolment-link/")
    path, token = LINK.search(str(mail.outbox[-1].body)).groups()  # type: ignore[union-attr]
    http = HttpClient()
    first = http.get(path, {"t": token})
    # The request line as the development server would log it: the filter drops the query.
    logging.getLogger("django.server").info(
        '"%s" %s %s', f"GET {path}?t={token} HTTP/1.1", "302", "0"
    )
    assert urlsplit(first["Location"]).query == ""
    page = http.get(path)
    assert token not in page.content.decode()
    done = http.post(path, {"password": PASSWORD})
    assert done["Location"] == ENROL
    assert token not in http.get(ENROL).content.decode()
    assert all(token not in text for _, text in every_log_record)
    assert any(name == "django.server" for name, _ in every_log_record)
    trail = str(list(AuditEvent.objects.values_list("summary", "detail")))
    assert token not in trail
    assert not EnrolmentLink.objects.filter(token_hash__contains=token).exists()
    # Nor the session: the token left it once spent.
    assert token not in str(dict(http.session))
