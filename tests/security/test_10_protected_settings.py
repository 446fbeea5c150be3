"""10. Changing protected settings: an admin's change of a user's MFA method or
destination is audited and told at the OLD destination (after the change commits: the
live server's transactions commit for real); a user's own new Email or Work phone needs
the password again and a code sent to the new destination before MFA uses it.

Moodle simple2fa CVE-2022-28601 (the number changed while 2FA was pending), ZITADEL
#9248, better-auth CVE-2026-134322, NIST SP 800-63B-4 (notice through an independent
channel).
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from deskgate.accounts.models import AuditEvent, User
from deskgate.delivery.models import OutboxMessage
from deskgate.signin.models import ContactChange
from tests.conftest import PASSWORD
from tests.mailbox import codes_to, last_code, messages_to, other_code
from tests.security.conftest import (
    full_sign_in,
    parallel,
    visible_text,
)

pytestmark = pytest.mark.django_db(transaction=True)

NOTICE = "was changed by"


def form_of(user: User, **changes: str) -> dict[str, str]:
    return {
        "username": user.username,
        "full_name": user.full_name,
        "level": user.level,
        "employment": "active",
        "email": user.email,
        "work_phone": user.work_phone,
        "mfa_method": user.mfa_method,
        "password": "",
    } | changes


def notices_to(destination: str) -> list[str]:
    return [m for m in messages_to(destination) if NOTICE in m]


def test_admin_changing_the_method_is_audited_and_told_at_the_old_destination(
    browser, user_factory, admin_user
) -> None:
    agent = user_factory("agent", "email", email="agent.old@example.com")
    a = full_sign_in(browser(), admin_user)
    response = a.post(f"/users/{agent.pk}/", form_of(agent, mfa_method="sms"))
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="user.mfa_changed", subject=agent)
    assert event.actor_id == admin_user.pk and event.ip == "127.0.0.1"
    assert event.detail["before"] == "email" and event.detail["after"] == "sms"
    assert "\u2022" in event.detail["destination"]  # masked
    assert len(notices_to("agent.old@example.com")) == 1
    assert AuditEvent.objects.filter(action="user.notified", subject=agent).exists()


def test_admin_changing_the_destination_tells_the_old_one_not_only_the_new(
    browser, user_factory, admin_user
) -> None:
    agent = user_factory("agent", "email", email="agent.old@example.com")
    a = full_sign_in(browser(), admin_user)
    a.post(f"/users/{agent.pk}/", form_of(agent, email="agent.new@example.com"))
    agent.refresh_from_db()
    assert agent.email == "agent.new@example.com"
    assert len(notices_to("agent.old@example.com")) == 1
    assert notices_to("agent.new@example.com") == []
    event = AuditEvent.objects.get(action="user.contact_changed", subject=agent)
    assert event.detail["email"] == {
        "before": "a\u2022\u2022\u2022\u2022@example.com",
        "after": "a\u2022\u2022\u2022\u2022@example.com",
    }


def test_admin_changing_the_number_of_an_sms_user_without_email_texts_the_old_number(
    browser, user_factory, admin_user
) -> None:
    agent = user_factory("agent", "sms", email="", work_phone="+358401230001")
    a = full_sign_in(browser(), admin_user)
    a.post(f"/users/{agent.pk}/", form_of(agent, work_phone="+358401230002"))
    assert len(notices_to("+358401230001")) == 1
    assert notices_to("+358401230002") == []
    event = AuditEvent.objects.get(action="user.contact_changed", subject=agent)
    assert "+358401230001" not in str(event.detail) and "\u2022" in str(event.detail)


def test_admin_change_voids_the_code_in_flight_and_remembered_devices(
    browser, user_factory, admin_user
) -> None:
    agent = user_factory("agent", "email", email="agent.old@example.com")
    remembered = browser()
    remembered.sign_in(agent.username)
    remembered.submit_code(last_code(agent), remember="on")
    remembered.sign_out()
    pending = browser()
    pending.sign_in(agent.username)
    code = last_code(agent)  # on its way to the old address
    a = full_sign_in(browser(), admin_user)
    a.post(f"/users/{agent.pk}/", form_of(agent, email="agent.new@example.com"))
    response = pending.submit_code(code, csrf=pending.csrf_token("/signin/"))
    assert response.headers.get("Location") == "/signin/" and pending.whoami() is None
    # The remembered device no longer skips the code; the code goes to the new address.
    assert remembered.sign_in(agent.username).headers["Location"] == "/signin/code/"
    assert len(codes_to("agent.new@example.com")) == 1


def test_own_email_change_needs_the_password_and_a_code_at_the_new_address(
    browser, user_factory, clock
) -> None:
    user = user_factory("agent", "email", email="own.old@example.com")
    b = full_sign_in(browser(), user)
    change = {"field": "email", "value": "own.new@example.com"}
    # A stolen session without the password: refused, nothing sent.
    refused = b.post("/account/contact/", change | {"current_password": "not my password"})
    assert "That is not your current password." in visible_text(refused)
    assert messages_to("own.new@example.com") == [] and not ContactChange.objects.exists()

    response = b.post("/account/contact/", change | {"current_password": PASSWORD})
    assert response.headers["Location"] == "/account/contact/confirm/"
    confirmation = codes_to("own.new@example.com")[-1]
    # Until confirmed, MFA still uses the old address.
    other = browser()
    other.sign_in(user.username)
    assert len(codes_to("own.old@example.com")) == 2
    user.refresh_from_db()
    assert user.email == "own.old@example.com"
    # Five wrong codes spend the confirmation; the right one is refused after that.
    for _ in range(5):
        b.post("/account/contact/confirm/", {"code": other_code(confirmation)})
    spent = b.post("/account/contact/confirm/", {"code": confirmation})
    assert "That was the last try for this code." in visible_text(spent)
    user.refresh_from_db()
    assert user.email == "own.old@example.com"
    # Again, and too late: a confirmation code lasts 10 minutes.
    b.post("/account/contact/", change | {"current_password": PASSWORD})
    late = codes_to("own.new@example.com")[-1]
    clock(timedelta(minutes=10, seconds=1))
    b.post("/account/contact/confirm/", {"code": late}, form="/account/")
    user.refresh_from_db()
    assert user.email == "own.old@example.com"
    # Again, in time: now the address changes, the old one is told, MFA uses the new one.
    b.post("/account/contact/", change | {"current_password": PASSWORD})
    response = b.post("/account/contact/confirm/", {"code": codes_to("own.new@example.com")[-1]})
    assert response.headers["Location"] == "/account/"
    user.refresh_from_db()
    assert user.email == "own.new@example.com"
    assert len(notices_to("own.old@example.com")) == 1
    assert AuditEvent.objects.filter(action="user.contact_changed", actor=user).count() == 1
    sent_before = len(codes_to("own.new@example.com"))
    browser().sign_in(user.username)
    assert len(codes_to("own.new@example.com")) == sent_before + 1


def test_own_phone_change_code_goes_to_the_new_number_only(browser, user_factory) -> None:
    user = user_factory("agent", "sms", work_phone="+358401230011")
    b = full_sign_in(browser(), user)
    b.post(
        "/account/contact/",
        {"field": "work_phone", "value": "+358 40 123 0012", "current_password": PASSWORD},
    )
    assert len(codes_to("+358401230012")) == 1
    assert len(OutboxMessage.objects.filter(to="+358401230011")) == 1  # the sign-in code only
    b.post("/account/contact/confirm/", {"code": codes_to("+358401230012")[-1]})
    user.refresh_from_db()
    assert user.work_phone == "+358401230012"
    assert len(notices_to(user.email)) == 1  # told at the Email, independent of the phone


def test_parallel_wrong_confirmation_codes_get_five_tries(browser, user_factory) -> None:
    user = user_factory("agent", "off", email="race.old@example.com")
    b = full_sign_in(browser(), user)
    b.post(
        "/account/contact/",
        {"field": "email", "value": "race.new@example.com", "current_password": PASSWORD},
    )
    code = codes_to("race.new@example.com")[-1]
    csrf = b.csrf_token("/account/contact/confirm/")
    tabs = [b.clone() for _ in range(40)]
    pages = parallel(
        40,
        lambda i: visible_text(
            tabs[i].post("/account/contact/confirm/", {"code": other_code(code)}, csrf=csrf)
        ),
    )
    counts = Counter(
        "not right" if "That code is not right" in p else "spent" if "last try" in p else "other"
        for p in pages
    )
    assert counts == {"not right": 5, "spent": 35}, counts
    assert ContactChange.objects.get(user=user).attempts == 5
    b.post("/account/contact/confirm/", {"code": code})
    user.refresh_from_db()
    assert user.email == "race.old@example.com"
