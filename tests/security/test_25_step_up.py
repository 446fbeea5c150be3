"""25. Step-up: a stale session cannot make a sensitive change, however it posts (issue 14).

A tab opened while the admin's check was fresh, or a stolen session cookie of an admin
who signed in an hour ago, posts straight to each sensitive endpoint: nothing changes, the
answer is the step-up page. Every admin page is walked from the URL configuration, so an
admin page that is neither guarded nor listed here as not sensitive (with the reason) fails
a test. Rights and tenant isolation come before the step-up and are unchanged by it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from deskgate.accounts.models import AuditAction, AuditEvent, User
from deskgate.apitokens.models import ApiToken
from deskgate.signin.models import AuthenticatorApp, Passkey, RecoveryCode
from deskgate.sso.models import ProviderConfig, SsoDomain
from tests.authenticator import enrol
from tests.pages import snapshot
from tests.security.conftest import Browser, full_sign_in, visible_text
from tests.softkey import enrol_key

pytestmark = pytest.mark.django_db(transaction=True)

STALE = timedelta(minutes=16)
ASKED = "Check your sign-in first"

# Every sensitive endpoint: URL name -> (path for the target user, what a stale tab posts).
SENSITIVE: dict[str, tuple[Callable[[User], str], Callable[[User], dict[str, Any]]]] = {
    "user_edit": (
        lambda u: f"/users/{u.pk}/",
        lambda u: {
            "username": u.username,
            "full_name": u.full_name,
            "level": u.level,
            "employment": "active",
            "email": "attacker@evil.example",
            "work_phone": "+358409999999",
            "mfa_method": "off",
            "password": "attacker chose this 42",
        },
    ),
    "user_bulk": (
        lambda u: "/users/bulk/",
        lambda u: {"method": "off", "scope": "selected", "users": [u.pk], "key": str(uuid4())},
    ),
    "user_reset_authenticator": (lambda u: f"/users/{u.pk}/reset-authenticator/", lambda u: {}),
    "user_import": (
        lambda u: "/users/import/",
        lambda u: {
            "apply": "1",
            "filename": "x.csv",
            "content": "username,full_name,level,email,work_phone,mfa,employment\n"
            f"{u.username},{u.full_name},agent,attacker@evil.example,,off,active\n",
        },
    ),
    "user_reset_passkeys": (lambda u: f"/users/{u.pk}/reset-passkeys/", lambda u: {}),
    "api_tokens": (
        lambda u: "/settings/api-tokens/",
        lambda u: {"name": "Exfiltrate", "scope": "write", "expires_days": "never"},
    ),
    "sso_settings": (
        lambda u: "/settings/sso/",
        lambda u: {
            "action": "save",
            "issuer": "https://evil.example",
            "client_id": "x",
            "secret": "y",
            "mandatory": "on",
        },
    ),
    "sso_domains": (
        lambda u: "/settings/sso/domains/",
        lambda u: {"action": "add", "domain": "evil.example"},
    ),
    "user_delete": (lambda u: f"/users/{u.pk}/delete/", lambda u: {}),
    "client_settings": (
        lambda u: "/settings/",
        lambda u: {"password_reset_enabled": "on", "remember_device_enabled": "on"},
    ),
}

# Admin pages that change nothing sensitive, each with the reason.
NOT_SENSITIVE = {
    "user_list": "reads; bulk changes post to user_bulk",
    "user_create": "a new user has no sign-in yet to take over; R4 rules and audit apply",
    "user_unlock": "lifts a lock; the user still needs their own factors",
    "user_revoke_devices": "only makes the next sign-in ask for a code",
    "user_sign_out_everywhere": "ends sessions and forgets devices: takes access away, "
    "never gives it",
    "template_list": "reads message templates",
    "template_create": "message texts, no sign-in factor",
    "template_edit": "message texts, no sign-in factor",
    "audit": "reads",
    "user_export": "reads the admin's own users, as the User list shows them",
    "audit_csv": "reads: the audit page's rows as CSV, masked as on the page",
    "user_coverage": "reads: who has a second factor and why not; fixes link to guarded pages",
    "user_coverage_csv": "reads: the coverage list as CSV, destinations masked",
    "api_token_revoke": "revoking takes access away, never gives it",
    "user_send_invitation": "the link goes to the user's own stored Email (changing it is "
    "guarded, user_edit), only for users who have not chosen a password; the code step still "
    "asks for their MFA destination",
    "user_revoke_invitation": "revoking takes a way in away, never gives one",
    "user_send_enrolment_link": "the link goes to the user's own stored Email and needs "
    "their password; changing that Email is itself guarded (user_edit)",
}


def _walk(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern) and entry.name:
            yield entry.name, entry.callback


def admin_pages() -> dict[str, Any]:
    return {
        name: view
        for name, view in _walk(get_resolver().url_patterns)
        if getattr(view, "admin_guard", None)
    }


def test_every_admin_page_is_guarded_or_listed_as_not_sensitive() -> None:
    pages = admin_pages()
    guarded = {name for name, view in pages.items() if getattr(view, "step_up_purpose", None)}
    assert guarded == set(SENSITIVE), "a sensitive endpoint lost its guard, or one is new"
    unclassified = set(pages) - set(SENSITIVE) - set(NOT_SENSITIVE)
    assert not unclassified, f"classify these admin pages for the step-up: {unclassified}"
    assert not set(NOT_SENSITIVE) - set(pages), "a listed page is gone: update the list"


def _state() -> dict[str, Any]:
    return {
        **snapshot(),
        "tokens": list(ApiToken.objects.order_by("pk").values()),
        "apps": list(AuthenticatorApp.objects.order_by("pk").values()),
        "recovery": RecoveryCode.objects.count(),
        "passkeys": list(Passkey.objects.order_by("pk").values_list("pk", "name")),
        "sso": list(ProviderConfig.objects.order_by("pk").values()),
        "sso_domains": list(SsoDomain.objects.order_by("pk").values()),
    }


@pytest.fixture
def victim(user_factory) -> User:
    user = user_factory(
        "agent", "email", username="victim.agent", full_name="Victim Agent", email="v@n.example"
    )
    enrol(user)
    enrol_key(user, name="Victim's key")
    return user


@pytest.fixture
def admin(user_factory) -> User:
    return user_factory("admin", "email", username="ada.admin", full_name="Ada Admin")


@pytest.mark.parametrize("name", sorted(SENSITIVE))
def test_a_stale_session_posting_directly_changes_nothing(
    browser, admin, victim, clock, name
) -> None:
    path, data = SENSITIVE[name]
    tab = full_sign_in(browser(), admin)
    csrf = tab.csrf_token("/settings/", "/users/")  # read while the check was fresh
    clock(STALE)
    before = _state()
    response = tab.post(path(victim), data(victim), csrf=csrf)
    assert response.status_code == 403
    assert ASKED in visible_text(response)
    assert _state() == before
    # Nothing typed was kept where a URL or the page would show it.
    assert "attacker chose this" not in response.text and "evil.example" not in response.url


@pytest.mark.parametrize("name", sorted(SENSITIVE))
def test_a_stolen_old_session_cannot_skip_the_step_up_page(
    browser, admin, victim, clock, name
) -> None:
    """Posting to /step-up/done/ or back to the page without the code step does nothing."""
    path, data = SENSITIVE[name]
    tab = full_sign_in(browser(), admin)
    clock(STALE)
    before = _state()
    del before["audit"]  # the step-up's code is sent (and audited): the rest stays
    tab.post(path(victim), data(victim), form="/users/")
    tab.post("/step-up/", {"then": "/users/", "purpose": "bulk_mfa"}, form="/users/")
    # The code step is pending; the attacker does not have the code.
    assert tab.get("/step-up/done/").status_code == 302
    response = tab.post(path(victim), data(victim), form="/users/")
    assert response.status_code == 403 and ASKED in visible_text(response)
    after = _state()
    del after["audit"]
    assert after == before
    assert not AuditEvent.objects.filter(action=AuditAction.STEP_UP_PASSED).exists()


def _agent_tab(browser: Callable[[], Browser], user: User) -> Browser:
    return full_sign_in(browser(), user)


@pytest.mark.parametrize("name", sorted(SENSITIVE))
def test_rights_come_first_an_agent_is_refused_not_asked(
    browser, user_factory, victim, clock, name
) -> None:
    agent = user_factory("agent", "email", username="an.agent")
    tab = _agent_tab(browser, agent)
    clock(STALE)
    before = _state()
    path, data = SENSITIVE[name]
    response = tab.post(path(victim), data(victim), form="/account/")
    assert response.status_code in (403, 404)
    assert ASKED not in visible_text(response)
    assert _state() == before


@pytest.mark.parametrize("stale", [True, False])
def test_another_tenants_admin_reaches_nothing_stale_or_fresh(
    browser, tenant_factory, user_factory, victim, clock, stale
) -> None:
    other = tenant_factory("Contoso", "25.4")
    intruder = user_factory("admin", "email", client=other, username="eve.contoso")
    tab = full_sign_in(browser(), intruder)
    if stale:
        clock(STALE)
    before = _state()
    for name in ("user_edit", "user_reset_authenticator"):
        path, data = SENSITIVE[name]
        response = tab.post(path(victim), data(victim), form="/users/")
        assert response.status_code in (403, 404), name
    bulk = tab.post("/users/bulk/", SENSITIVE["user_bulk"][1](victim), form="/users/")
    assert bulk.status_code in (200, 403)
    assert _state()["users"] == before["users"]
    assert _state()["apps"] == before["apps"]


def test_the_api_and_scim_are_not_asked_to_step_up(browser, admin, clock) -> None:
    """Tokens are not sessions: a token made long ago still works for its scope."""
    from deskgate.accounts.audit import Actor
    from deskgate.apitokens import tokens

    issued = tokens.issue(
        admin.client, name="Directory", scope="scim", expires_days=None, by=Actor(user=admin)
    )
    clock(timedelta(hours=3))
    response = browser().get("/scim/v2/Users", headers={"Authorization": f"Bearer {issued.secret}"})
    assert response.status_code == 200
