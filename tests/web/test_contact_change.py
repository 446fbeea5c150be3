"""A user changes their own Email or Work phone: password first, then a code sent to the
new destination; only then does MFA use it (issue 5, item 10)."""

from __future__ import annotations

import re

from django.core import mail
from django.test import Client as HttpClient

from deskgate.accounts.models import AuditEvent, User
from deskgate.delivery.models import OutboxMessage
from tests.conftest import PASSWORD, sign_in


def signed_in(user: User) -> HttpClient:
    http = HttpClient()
    assert sign_in(http, user)["Location"] == "/"
    return http


def code_in(text: object) -> str:  # a mail's body: str, or a lazy string
    match = re.search(r"\b(\d{6})\b", str(text))
    assert match, text
    return match.group(1)


def test_new_email_is_used_only_after_its_code(
    user_factory, django_capture_on_commit_callbacks
) -> None:
    user = user_factory("agent", "off", email="old@example.com")
    http = signed_in(user)
    response = http.post(
        "/account/contact/",
        {"field": "email", "value": "New@Example.com", "current_password": PASSWORD},
    )
    assert response["Location"] == "/account/contact/confirm/"
    user.refresh_from_db()
    assert user.email == "old@example.com"  # not yet
    sent = [m for m in mail.outbox if "New@example.com" in m.to]
    assert len(sent) == 1
    bad = http.post(
        "/account/contact/confirm/",
        {"code": "000000" if code_in(sent[0].body) != "000000" else "111111"},
    )
    assert "That code is not right. 4 tries left." in bad.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        ok = http.post("/account/contact/confirm/", {"code": code_in(sent[0].body)})
    assert ok["Location"] == "/account/"
    user.refresh_from_db()
    assert user.email == "New@example.com"
    event = AuditEvent.objects.get(action="user.contact_changed", subject=user)
    assert event.actor_id == user.pk
    # The old address is told, independently of the change.
    notice = [m for m in mail.outbox if "old@example.com" in m.to]
    assert notice and "changed by you" in notice[0].body


def test_wrong_password_changes_nothing_and_sends_nothing(user_factory) -> None:
    user = user_factory("agent", "sms", work_phone="+358401110001")
    http = signed_in_code(user)
    response = http.post(
        "/account/contact/",
        {"field": "work_phone", "value": "040 222 3333", "current_password": "not my password"},
    )
    assert "That is not your current password." in response.content.decode()
    assert 'value="040 222 3333"' in response.content.decode()  # what was typed stays
    assert not OutboxMessage.objects.filter(to="+358402223333").exists()


def signed_in_code(user: User) -> HttpClient:
    from tests.signin.conftest import last_code

    http = HttpClient()
    sign_in(http, user)
    http.post("/signin/code/", {"action": "verify", "code": last_code(user)})
    assert http.session.get("_auth_user_id") == str(user.pk)
    return http


def test_the_rules_hold_for_a_users_own_change(user_factory) -> None:
    user_factory("agent", "email", email="taken@example.com")
    user = user_factory("agent", "off", email="mine@example.com")
    http = signed_in(user)
    user.mfa_method = "off"
    response = http.post(
        "/account/contact/",
        {"field": "email", "value": "taken@example.com", "current_password": PASSWORD},
    )
    assert "receives the Email MFA codes of" in response.content.decode()
    assert not any("taken@example.com" in m.to for m in mail.outbox)


def test_a_new_sms_number_is_confirmed_by_sms(user_factory) -> None:
    user = user_factory("agent", "sms", work_phone="+358401110009")
    http = signed_in_code(user)
    http.post(
        "/account/contact/",
        {"field": "work_phone", "value": "+358 40 222 4444", "current_password": PASSWORD},
    )
    sms = OutboxMessage.objects.filter(channel="sms", to="+358402224444").get()
    assert http.post("/account/contact/confirm/", {"code": code_in(sms.body)}).status_code == 302
    user.refresh_from_db()
    assert user.work_phone == "+358402224444"
