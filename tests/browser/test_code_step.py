"""The code step in a real browser (issue 3, R1, R7): codes read from a real SMTP server and
from Kannel's fake SMSC, a wrong code, an expired one, Resend code, Remember device."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import AuditEvent, Client, User
from deskgate.signin.models import RememberedDevice
from tests.browser.steps import enter_code, expect_code_step
from tests.conftest import PASSWORD
from tests.harness.kannel import Kannel
from tests.harness.smtp import SmtpServer
from tests.mailbox import code_in

pytestmark = pytest.mark.browser

COUNTDOWN = re.compile(r"^You can ask for a new code in ([1-9]\d*) s\.$")
Screenshot = Callable[[], None]


@pytest.fixture
def visits(page: Page) -> list[str]:
    """The paths of the pages the tab loads, in order (redirects included)."""
    paths: list[str] = []
    page.on(
        "request",
        lambda r: paths.append(urlsplit(r.url).path) if r.is_navigation_request() else None,
    )
    return paths


def enter_password(page: Page, user: User) -> None:
    page.goto("/")
    page.get_by_label("User name").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def code_error(page: Page) -> Any:
    """The message under the Code field."""
    return page.get_by_role("alert").filter(has_text=re.compile(r"\bcode\b"))


def expect_signed_in(page: Page, user: User) -> None:
    """On the agent's own account page, with a session."""
    expect(page).to_have_url(re.compile(r"/account/$"))
    expect(page.get_by_role("heading", name=user.full_name)).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def expect_resend_waits(page: Page) -> None:
    """Right after a send: Resend code is disabled and a countdown says for how long."""
    expect(page.get_by_role("button", name="Resend code")).to_be_disabled()
    countdown = page.get_by_text(COUNTDOWN)
    expect(countdown).to_be_visible()
    match = COUNTDOWN.match(countdown.inner_text())
    assert match and 1 <= int(match.group(1)) <= 30, countdown.inner_text()


def codes_sent(user: User) -> int:
    return AuditEvent.objects.filter(action="code.sent", subject=user).count()


def test_email_code_from_the_smtp_server_signs_the_agent_in(
    page: Page, user_factory: Callable[..., User], mail: SmtpServer, screenshot: Screenshot
) -> None:
    agent = user_factory(
        "agent", "email", username="aino.agent", full_name="Aino Agent", email="aino@example.com"
    )

    enter_password(page, agent)
    expect_code_step(page, "email", "a\u2022\u2022\u2022\u2022@example.com")
    # The page says where the code went once, not again in a banner.
    expect(page.get_by_role("status")).to_have_count(0)
    expect(page.get_by_label("Code", exact=True)).to_be_focused()
    expect(page.get_by_label("Remember device for 30 days")).not_to_be_checked()
    expect(page.get_by_role("button", name="Back to sign-in")).to_be_visible()
    expect_resend_waits(page)
    expect(page.get_by_text("aino@example.com")).to_have_count(0)  # only the masked form
    screenshot()

    message = mail.wait_for("aino@example.com")
    code = code_in(message.body)
    assert code not in page.content()  # the code never reaches a page
    enter_code(page, code)

    expect_signed_in(page, agent)
    expect(
        page.get_by_text("Email: codes go to a\u2022\u2022\u2022\u2022@example.com")
    ).to_be_visible()
    assert len(mail.messages) == 1


def test_sms_code_from_kannel_signs_the_agent_in(
    page: Page, user_factory: Callable[..., User], sms: Kannel, screenshot: Screenshot
) -> None:
    agent = user_factory(
        "agent", "sms", username="sami.sms", full_name="Sami Sms", work_phone="+358401234567"
    )
    masked = agent.masked_mfa_destination()
    assert masked.startswith("+358 ") and masked.endswith("67") and "1234" not in masked

    enter_password(page, agent)
    expect_code_step(page, "SMS", masked)
    expect(page.get_by_text("+358401234567")).to_have_count(0)
    screenshot()

    message = sms.wait_for(to="+358401234567")
    assert "Deskgate sign-in code" in message.text
    enter_code(page, code_in(message.text))

    expect_signed_in(page, agent)
    assert [m.to for m in sms.messages] == ["+358401234567"]


def test_a_wrong_code_keeps_the_step_then_the_right_code_works(
    page: Page, user_factory: Callable[..., User], mail: SmtpServer, screenshot: Screenshot
) -> None:
    agent = user_factory("agent", "email", full_name="Wanda Wrong")
    enter_password(page, agent)
    expect_code_step(page, "email", agent.masked_mfa_destination())
    code = code_in(mail.wait_for(agent.email).body)
    wrong = "000000" if code != "000000" else "111111"

    enter_code(page, wrong)
    expect(code_error(page)).to_have_text("That code is not right. 4 tries left for this code.")
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/signin/code/$"))
    expect(page.get_by_label("Code", exact=True)).to_have_value(wrong)
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    screenshot()

    enter_code(page, code)
    expect_signed_in(page, agent)
    assert len(mail.messages) == 1  # a wrong code sends nothing


def test_a_wrong_code_shows_its_message_once_and_no_empty_alert(
    page: Page, user_factory: Callable[..., User], mail: SmtpServer
) -> None:
    agent = user_factory("agent", "email")
    enter_password(page, agent)
    code = code_in(mail.wait_for(agent.email).body)
    enter_code(page, "000000" if code != "000000" else "111111")
    expect(code_error(page)).to_be_visible()
    expect(page.get_by_label("Code", exact=True)).to_have_attribute("aria-invalid", "true")
    for alert in page.get_by_role("alert").all():
        assert alert.inner_text().strip(), "an empty alert is on the page"


def test_an_expired_code_then_resend_voids_the_old_code(
    page: Page,
    user_factory: Callable[..., User],
    mail: SmtpServer,
    clock: Callable[[timedelta], Any],
    screenshot: Screenshot,
) -> None:
    agent = user_factory("agent", "email", full_name="Eino Expired")
    masked = agent.masked_mfa_destination()
    enter_password(page, agent)
    expect_code_step(page, "email", masked)
    expect_resend_waits(page)
    first_mail = mail.wait_for(agent.email)
    first = code_in(first_mail.body)

    # Past the 30 s cooldown the page offers Resend code at once, with no countdown.
    clock(timedelta(seconds=31))
    page.reload()
    expect(page.get_by_role("button", name="Resend code")).to_be_enabled()
    expect(page.get_by_text(COUNTDOWN)).to_have_count(0)

    # Past the 10 minutes the code has expired.
    clock(timedelta(minutes=10))
    enter_code(page, first)
    expect(code_error(page)).to_have_text(
        "This code has expired: codes are valid for 10 minutes. Ask for a new one with Resend code."
    )
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()

    page.get_by_role("button", name="Resend code").click()
    expect(page.get_by_role("status")).to_have_text(
        f"We sent a new code to {masked}. The previous code no longer works."
    )
    expect_resend_waits(page)
    screenshot()
    second = code_in(mail.wait_for(lambda m: m is not first_mail).body)
    assert len(mail.messages) == 2 and codes_sent(agent) == 2

    if second != first:  # one time in a million the new code repeats the digits
        enter_code(page, first)
        expect(code_error(page)).to_have_text(
            "That code was replaced by a newer one. Use the code in the latest message."
        )
        expect(page.get_by_role("button", name="Sign out")).to_have_count(0)

    enter_code(page, second)
    expect_signed_in(page, agent)


def test_remember_device_skips_the_step_until_the_method_changes(
    page: Page,
    user_factory: Callable[..., User],
    mail: SmtpServer,
    sms: Kannel,
    visits: list[str],
    screenshot: Screenshot,
) -> None:
    agent = user_factory("agent", "email", full_name="Rita Remember")
    enter_password(page, agent)
    expect_code_step(page, "email", agent.masked_mfa_destination())
    enter_code(page, code_in(mail.wait_for(agent.email).body), remember=True)
    expect_signed_in(page, agent)
    expect(page.get_by_role("heading", name="Remembered devices")).to_be_visible()
    expect(page.get_by_role("button", name="Forget all remembered devices")).to_be_visible()
    device_cookie = [c for c in page.context.cookies() if c["name"] == "deskgate_device"]
    assert len(device_cookie) == 1 and device_cookie[0]["httpOnly"]

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("You are signed out.")

    # The same browser: straight to the account page, no code step, nothing sent.
    visits.clear()
    enter_password(page, agent)
    expect_signed_in(page, agent)
    assert "/signin/code/" not in visits, visits
    assert len(mail.messages) == 1
    assert codes_sent(agent) == 1

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("You are signed out.")

    # An admin changes the method: the remembered device no longer counts.
    actions.change_mfa_method(agent, "sms", by=OPERATOR)
    assert not RememberedDevice.objects.filter(user=agent).exists()
    agent.refresh_from_db()
    enter_password(page, agent)
    expect_code_step(page, "SMS", agent.masked_mfa_destination())
    screenshot()
    message = sms.wait_for(to=agent.work_phone)
    enter_code(page, code_in(message.text))
    expect_signed_in(page, agent)
    # No new email code; the one new email is the notice of the change, to the old address.
    assert len(mail.messages) == 2
    assert "sign-in code" not in mail.messages[1].body
    assert "changed by operator" in mail.messages[1].body


@pytest.mark.parametrize("case", ["11.x", "mfa-off"])
def test_no_code_step_when_mfa_does_not_apply(
    page: Page,
    tenant_factory: Callable[..., Client],
    user_factory: Callable[..., User],
    mail: SmtpServer,
    visits: list[str],
    case: str,
) -> None:
    if case == "11.x":
        legacy = tenant_factory(release="11.8")
        user = user_factory("agent", client=legacy, full_name="Olli Old")
        # Even a method left stored on the user (an 11.x client cannot enable one) does
        # not make an 11.x sign-in ask for a code: the release decides (R1).
        User.objects.filter(pk=user.pk).update(mfa_method="email")
        user.refresh_from_db()
        assert not user.mfa_applies
    else:
        user = user_factory("agent", "off", full_name="Otto Off")

    enter_password(page, user)
    expect_signed_in(page, user)
    assert "/signin/code/" not in visits, visits
    assert mail.messages == []
    assert codes_sent(user) == 0


def test_a_code_typed_with_a_space_is_the_code_and_letters_cost_no_try(
    page: Page, user_factory: Callable[..., User], mail: SmtpServer
) -> None:
    """Issue 9, item 4: the Code field's pattern (run by Chromium itself) takes `977 743`
    and `977-743` and flags `12ab`; the server refuses `12ab` without counting a try."""
    agent = user_factory("agent", "email", full_name="Fiona Format")
    enter_password(page, agent)
    code = code_in(mail.wait_for(agent.email).body)
    field = page.get_by_label("Code", exact=True)
    for typed, valid in [
        (f"{code[:3]} {code[3:]}", True),
        (f"{code[:3]}-{code[3:]}", True),
        ("".join(chr(0x0660 + int(d)) for d in code), True),
        ("12ab", False),
        ("12345", False),
    ]:
        field.fill(typed)
        assert field.evaluate("el => el.checkValidity()") is valid, typed

    enter_code(page, "12ab")  # the form says novalidate: the server answers
    expect(code_error(page)).to_have_text("A code has 6 digits.")
    expect(field).to_have_value("12ab")
    enter_code(page, f"{code[:3]} {code[3:]}")
    expect_signed_in(page, agent)
    assert AuditEvent.objects.filter(action="signin.code_failed").count() == 0
