"""Step-up for sensitive admin changes (issue 14): asked when the check is stale, then back.

Each sensitive write is allowed with a factor checked within the client's
`step_up_minutes` and refused (nothing changes) when older: the page asks for the code
(or, for who has no second factor, the password), keeps what was typed (never a password),
and comes back to the page the admin was on. Other pages are not affected.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from django.test import Client as HttpClient

from deskgate.accounts.models import AuditAction, AuditEvent, Client, MfaMethod, User
from deskgate.apitokens.models import ApiToken
from deskgate.signin import factors
from tests.authenticator import enrol
from tests.mailbox import last_code
from tests.pages import controls, page_text

STALE = timedelta(minutes=16)
ASKED = "Check your sign-in first"


@pytest.fixture
def boss(user_factory) -> User:
    """An admin who signs in with an Email code (so the step-up asks a code)."""
    return user_factory("admin", "email", username="bea.boss", full_name="Bea Boss")


@pytest.fixture
def target(user_factory) -> User:
    """An agent with an authenticator app, whose settings the admin changes."""
    agent = user_factory("agent", "email", username="tom.target", full_name="Tom Target")
    enrol(agent)
    return agent


def _user_form(http: HttpClient, user: User, **changes: str) -> dict[str, Any]:
    values = controls(http.get(f"/users/{user.pk}/")).values
    return {**values, **changes}


# name -> (path, POST data, "did it happen?"), the sensitive writes of the admin pages.
Case = tuple[str, Callable[[HttpClient, User], dict[str, Any]], Callable[[User], bool]]


def _cases(target: User) -> dict[str, Case]:
    return {
        "user_mfa": (
            f"/users/{target.pk}/",
            lambda http, u: _user_form(http, u, mfa_method="sms"),
            lambda u: User.objects.get(pk=u.pk).mfa_method == MfaMethod.SMS,
        ),
        "user_email": (
            f"/users/{target.pk}/",
            lambda http, u: _user_form(http, u, email="someone.else@example.com"),
            lambda u: User.objects.get(pk=u.pk).email == "someone.else@example.com",
        ),
        "bulk": (
            "/users/bulk/",
            # With the confirmation page's key: the run itself, not its preview.
            lambda http, u: {"method": "sms", "scope": "selected", "users": [u.pk], "key": uuid4()},
            lambda u: User.objects.get(pk=u.pk).mfa_method == MfaMethod.SMS,
        ),
        "api_token": (
            "/settings/api-tokens/",
            lambda http, u: {"name": "Entra", "scope": "scim", "expires_days": "90"},
            lambda u: ApiToken.objects.filter(name="Entra").exists(),
        ),
        "reset_app": (
            f"/users/{target.pk}/reset-authenticator/",
            lambda http, u: {},
            lambda u: not factors.has_app(u),
        ),
        "client_settings": (
            "/settings/",
            lambda http, u: {"password_reset_enabled": "on", "sms_countries": "FI SE"},
            lambda u: Client.objects.get(pk=u.client_id).password_reset_enabled,
        ),
    }


CASES = ["user_mfa", "user_email", "bulk", "api_token", "reset_app", "client_settings"]


@pytest.mark.parametrize("case", CASES)
def test_a_fresh_factor_lets_the_change_through(boss, target, signed_in, case) -> None:
    path, data, happened = _cases(target)[case]
    http = signed_in(boss)
    response = http.post(path, data(http, target))
    assert ASKED not in page_text(response)
    assert response.status_code in (200, 302)
    assert happened(target)
    assert not AuditEvent.objects.filter(action=AuditAction.STEP_UP_PASSED).exists()


@pytest.mark.parametrize("case", CASES)
def test_a_stale_factor_is_asked_for_then_the_change_goes_through(
    boss, target, signed_in, clock, case
) -> None:
    path, data, happened = _cases(target)[case]
    http = signed_in(boss)
    clock(STALE)
    form = data(http, target)
    refused = http.post(path, form)
    assert refused.status_code == 403
    assert ASKED in page_text(refused) and "in the last 15 minutes" in page_text(refused)
    assert not happened(target)
    then = controls(refused).values["then"]
    # The check: the code step (a fresh Email code), then the page the admin was on.
    started = http.post("/step-up/", {"then": then, "purpose": controls(refused).values["purpose"]})
    assert started["Location"] == "/signin/code/"
    checked = http.post("/signin/code/", {"action": "verify", "code": last_code(boss)})
    assert checked["Location"] == "/step-up/done/"
    back = http.get("/step-up/done/")
    assert back["Location"] == then
    expected = {"bulk": "/users/", "reset_app": f"/users/{target.pk}/"}.get(case, path)
    assert then == expected
    passed = AuditEvent.objects.filter(action=AuditAction.STEP_UP_PASSED)
    assert passed.count() == 1 and passed.get().subject_id == boss.pk
    assert http.get("/step-up/done/")["Location"] == "/"  # audited once, not again
    again = http.post(path, form)
    assert ASKED not in page_text(again)
    assert happened(target)


def test_bulk_and_reset_come_back_to_the_page_the_admin_was_on(
    boss, target, signed_in, clock
) -> None:
    http = signed_in(boss)
    clock(STALE)
    bulk = http.post("/users/bulk/", {"method": "sms", "scope": "selected", "users": [target.pk]})
    assert controls(bulk).values["then"] == "/users/"
    reset = http.post(f"/users/{target.pk}/reset-authenticator/")
    assert controls(reset).values["then"] == f"/users/{target.pk}/"


def test_what_was_typed_is_back_on_the_form_but_not_the_password(
    boss, target, signed_in, clock
) -> None:
    http = signed_in(boss)
    clock(STALE)
    form = _user_form(
        http, target, full_name="Tom Renamed", work_phone="+358 40 7654321", password="Secret-42x"
    )
    refused = http.post(f"/users/{target.pk}/", form)
    assert refused.status_code == 403
    assert "Secret-42x" not in str(dict(http.session.items()))
    http.post("/step-up/", {"then": f"/users/{target.pk}/", "purpose": "user_sign_in_fields"})
    http.post("/signin/code/", {"action": "verify", "code": last_code(boss)})
    page = http.get(http.get("/step-up/done/")["Location"])
    shown = controls(page).values
    assert shown["full_name"] == "Tom Renamed" and shown["work_phone"] == "+358 40 7654321"
    assert shown["password"] == ""
    assert "Tom Renamed" not in User.objects.get(pk=target.pk).full_name  # not saved yet
    # A second visit shows the user as saved: the draft is used once.
    assert controls(http.get(f"/users/{target.pk}/")).values["full_name"] == target.full_name


def test_going_back_without_the_check_shows_the_user_as_saved(
    boss, target, signed_in, clock
) -> None:
    http = signed_in(boss)
    clock(STALE)
    refused = http.post(f"/users/{target.pk}/", _user_form(http, target, email="x@example.com"))
    assert refused.status_code == 403
    page = http.get(f"/users/{target.pk}/")  # "Back without changing anything"
    assert controls(page).values["email"] == target.email


def test_other_changes_and_pages_are_not_affected(boss, target, signed_in, clock) -> None:
    http = signed_in(boss)
    clock(STALE)
    for path in ("/users/", f"/users/{target.pk}/", "/settings/", "/settings/sso/", "/audit/"):
        assert ASKED not in page_text(http.get(path)), path
    assert ASKED not in page_text(http.get("/settings/api-tokens/"))
    # The user page's other fields save without a step-up.
    renamed = http.post(f"/users/{target.pk}/", _user_form(http, target, full_name="Tom Other"))
    assert renamed.status_code == 302
    assert User.objects.get(pk=target.pk).full_name == "Tom Other"
    unlocked = http.post(f"/users/{target.pk}/unlock/")
    assert unlocked.status_code == 302


@pytest.mark.parametrize(
    ("minutes", "after", "asked"), [(5, 6, True), (5, 4, False), (60, 30, False)]
)
def test_the_window_is_the_clients_setting(
    boss, target, signed_in, clock, minutes, after, asked
) -> None:
    # The settings form's field for it is another part of issue 14; the model field is set
    # here as an operator would, the guard only reads it.
    Client.objects.filter(pk=boss.client_id).update(step_up_minutes=minutes)
    http = signed_in(boss)
    clock(timedelta(minutes=after))
    response = http.post(
        "/users/bulk/",
        {"method": "sms", "scope": "selected", "users": [target.pk], "key": uuid4()},
    )
    assert (ASKED in page_text(response)) is asked
    assert (User.objects.get(pk=target.pk).mfa_method == MfaMethod.SMS) is not asked


def test_an_admin_without_a_second_factor_gives_the_password_again(
    user_factory, legacy_tenant, signed_in, clock
) -> None:
    admin = user_factory("admin", client=legacy_tenant, username="old.admin")
    agent = user_factory("agent", client=legacy_tenant)
    http = signed_in(admin)
    clock(STALE)
    form = _user_form(http, agent, email="new.address@example.com")
    refused = http.post(f"/users/{agent.pk}/", form)
    assert "checks your password again" in page_text(refused)
    started = http.post(
        "/step-up/", {"then": f"/users/{agent.pk}/", "purpose": "user_sign_in_fields"}
    )
    assert started["Location"] == "/signin/"
    assert http.get("/signin/").status_code == 200  # the password page, for this user only
    signed = http.post("/signin/", {"username": admin.username, "password": "wrong-password"})
    assert signed.status_code == 200
    signed = http.post("/signin/", {"username": admin.username, "password": _password()})
    assert signed["Location"] == "/step-up/done/"
    assert http.get("/step-up/done/")["Location"] == f"/users/{agent.pk}/"
    event = AuditEvent.objects.get(action=AuditAction.STEP_UP_PASSED)
    assert "password" in event.summary
    saved = http.post(f"/users/{agent.pk}/", form)
    assert saved.status_code == 302
    assert User.objects.get(pk=agent.pk).email == "new.address@example.com"


def _password() -> str:
    from tests.conftest import PASSWORD

    return PASSWORD


@pytest.mark.parametrize(
    "then",
    [
        "https://evil.example/",
        "//evil.example/users/",
        "/\\evil.example/",
        "http:/users/",
        "/signin/sign-out/",
        "/outbox/",
        "",
        "users/",
    ],
)
def test_the_return_target_cannot_leave_the_admin_pages(boss, signed_in, clock, then) -> None:
    http = signed_in(boss)
    clock(STALE)
    http.post("/step-up/", {"then": then, "purpose": "bulk_mfa"})
    http.post("/signin/code/", {"action": "verify", "code": last_code(boss)})
    assert http.get("/step-up/done/")["Location"] == "/"


def test_a_session_with_no_step_up_asked_is_sent_home(boss, signed_in) -> None:
    http = signed_in(boss)
    assert http.get("/step-up/done/")["Location"] == "/"
    assert not AuditEvent.objects.filter(action=AuditAction.STEP_UP_PASSED).exists()
