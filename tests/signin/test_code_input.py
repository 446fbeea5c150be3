"""How a typed code is read (issue 9, item 4): formatting is not a wrong try.

A code typed or pasted as `977 743` or `977-743` (or in other Unicode digits) is the code;
input that is not six digits once the separators are gone is refused with "A code has 6
digits" and counts no try, on the sign-in code page and on the contact-change confirmation.
"""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client as HttpClient

from deskgate.accounts.audit import Actor
from deskgate.accounts.models import AuditEvent, User
from deskgate.signin import challenge, codes, contact_change
from deskgate.signin.challenge import Check, Issue
from deskgate.signin.models import ContactChange, PendingSignIn, SignInGuard
from tests.conftest import PASSWORD, sign_in
from tests.mailbox import code_in, last_code

BY = Actor(ip="127.0.0.1")
NOT_SIX_DIGITS = "A code has 6 digits."


def fullwidth(code: str) -> str:
    return "".join(chr(0xFF10 + int(d)) for d in code)


def arabic_indic(code: str) -> str:
    return "".join(chr(0x0660 + int(d)) for d in code)


# (shape, id): each spells the code `c` (a = first three digits, b = last three).
FORMATTED = [
    ("{a} {b}", "space"),
    ("{a}-{b}", "dash"),
    (" {a} {b} ", "padded"),
    ("{a}\u00a0{b}", "no-break-space"),
    ("{a}\u2009{b}", "thin-space"),
    ("{a}\u2013{b}", "en-dash"),
    ("{a}.{b}", "dot"),
    ("{c}\n", "newline"),
    ("\t{c}\r\n", "tab-crlf"),
    ("{c}\u200b", "zero-width-space"),
    ("1 2 3", "digit-by-digit"),  # filled in below from the code itself
    ("{fw}", "fullwidth"),
    ("{ar}", "arabic-indic"),
]
MALFORMED = ["12ab", "12345", "1234567", "+{c}", "{c}0", "abcdef", "12 34 5", "-", "{a}/{b}x"]


def spell(shape: str, code: str) -> str:
    if shape == "1 2 3":
        return " ".join(code)
    return shape.format(c=code, a=code[:3], b=code[3:], fw=fullwidth(code), ar=arabic_indic(code))


@pytest.mark.parametrize(("shape", "kind"), FORMATTED, ids=[k for _, k in FORMATTED])
def test_formatting_is_read_away(shape: str, kind: str) -> None:
    assert codes.normalise(spell(shape, "977743")) == "977743", kind


@pytest.mark.parametrize("shape", MALFORMED)
def test_what_is_not_six_digits_is_not_a_code(shape: str) -> None:
    assert codes.normalise(spell(shape, "977743")) is None


# --- the code step's flow ----------------------------------------------------------------


def issued(user_factory, pending_for) -> tuple[User, PendingSignIn, str]:
    user = user_factory("agent", "email")
    pending = pending_for(user)
    assert challenge.issue(pending.pk, by=BY).reason == Issue.SENT
    return user, pending, last_code(user)


def failures(user: User) -> int:
    guard = SignInGuard.objects.filter(user=user).first()
    return guard.code_failures if guard else 0


@pytest.mark.parametrize(("shape", "kind"), FORMATTED, ids=[k for _, k in FORMATTED])
def test_a_formatted_right_code_passes_the_step(user_factory, pending_for, shape, kind) -> None:
    _, pending, code = issued(user_factory, pending_for)
    assert challenge.verify(pending.pk, spell(shape, code), by=BY).reason == Check.OK


def test_malformed_input_counts_no_try(user_factory, pending_for) -> None:
    user, pending, code = issued(user_factory, pending_for)
    for _ in range(3):  # more than the 5 tries per code and the 10 that lock, in total
        for shape in MALFORMED:
            answer = challenge.verify(pending.pk, spell(shape, code), by=BY)
            assert answer.reason == Check.MALFORMED, shape
    assert PendingSignIn.objects.get(pk=pending.pk).code_attempts == 0
    assert failures(user) == 0
    assert not AuditEvent.objects.filter(action="signin.code_failed").exists()
    assert challenge.verify(pending.pk, code, by=BY).reason == Check.OK


def test_a_formatted_wrong_code_is_still_a_wrong_try(user_factory, pending_for) -> None:
    user, pending, code = issued(user_factory, pending_for)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    answer = challenge.verify(pending.pk, f"{wrong[:3]} {wrong[3:]}", by=BY)
    assert answer.reason == Check.WRONG and answer.tries_left == 4
    assert failures(user) == 1


# --- the code page -----------------------------------------------------------------------


def at_code_page(user_factory) -> tuple[HttpClient, User]:
    user = user_factory("agent", "email")
    http = HttpClient()
    assert sign_in(http, user)["Location"] == "/signin/code/"
    return http, user


def enter(http: HttpClient, typed: str):
    return http.post("/signin/code/", {"action": "verify", "code": typed})


@pytest.mark.parametrize("shape", ["{a} {b}", "{a}-{b}", " {a} {b} ", "{ar}"])
def test_the_code_page_takes_a_formatted_code(user_factory, shape: str) -> None:
    http, user = at_code_page(user_factory)
    response = enter(http, spell(shape, last_code(user)))
    assert response.status_code == 302
    assert http.session["_auth_user_id"] == str(user.pk)


def test_the_code_page_refuses_malformed_input_without_a_try(user_factory) -> None:
    http, user = at_code_page(user_factory)
    for typed in ["12ab", "12345", "9777431", "12ab" * 9]:  # the last one is over 32 long
        response = enter(http, typed)
        text = response.content.decode()
        assert response.status_code == 200, typed
        assert NOT_SIX_DIGITS in text, typed
        assert "not right" not in text and "tries left" not in text, typed
    assert 'value="9777431"' in enter(http, "9777431").content.decode()  # what was typed stays
    pending = PendingSignIn.objects.get(user=user)
    assert pending.code_attempts == 0
    assert failures(user) == 0
    assert not AuditEvent.objects.filter(action="signin.code_failed").exists()
    assert enter(http, last_code(user)).status_code == 302


def code_input(html: str) -> str:
    match = re.search(r'<input[^>]*name="code"[^>]*>', html)
    assert match, html
    return match.group(0)


def assert_code_field(tag: str) -> None:
    assert 'inputmode="numeric"' in tag
    assert 'autocomplete="one-time-code"' in tag
    length = re.search(r'maxlength="(\d+)"', tag)
    assert length and int(length.group(1)) >= len(" 977 - 743 "), tag
    # A pattern that lets separators through (the browser test runs it in Chromium).
    assert re.search(r'pattern="[^"]*\\p\{Nd\}[^"]*"', tag), tag


def test_the_code_field_fits_formatted_input(user_factory) -> None:
    http, _ = at_code_page(user_factory)
    assert_code_field(code_input(http.get("/signin/code/").content.decode()))


# --- the contact-change confirmation -----------------------------------------------------


def waiting_for_confirmation(user_factory) -> tuple[HttpClient, User, str]:
    user = user_factory("agent", "off", email="old@example.com")
    http = HttpClient()
    assert sign_in(http, user)["Location"] == "/"
    response = http.post(
        "/account/contact/",
        {"field": "email", "value": "new@example.com", "current_password": PASSWORD},
    )
    assert response["Location"] == "/account/contact/confirm/"
    sent = [m for m in mail.outbox if "new@example.com" in m.to]
    return http, user, code_in(str(sent[-1].body))


def test_the_confirmation_takes_a_formatted_code(user_factory) -> None:
    http, user, code = waiting_for_confirmation(user_factory)
    response = http.post("/account/contact/confirm/", {"code": f"{code[:3]}-{code[3:]}"})
    assert response["Location"] == "/account/"
    user.refresh_from_db()
    assert user.email == "new@example.com"


def test_the_confirmation_refuses_malformed_input_without_a_try(user_factory) -> None:
    http, user, code = waiting_for_confirmation(user_factory)
    page = http.get("/account/contact/confirm/").content.decode()
    assert_code_field(code_input(page))
    for typed in ["12ab", "12345", "1234567"] * 3:  # more than the 5 tries
        response = http.post("/account/contact/confirm/", {"code": typed})
        text = response.content.decode()
        assert response.status_code == 200, typed
        assert NOT_SIX_DIGITS in text and "not right" not in text, typed
        assert f'value="{typed}"' in text
    assert ContactChange.objects.get(user=user).attempts == 0
    response = http.post("/account/contact/confirm/", {"code": f" {code[:3]} {code[3:]} "})
    assert response["Location"] == "/account/"


def test_the_confirmation_flow_counts_no_try_for_malformed_input(user_factory) -> None:
    _, user, code = waiting_for_confirmation(user_factory)
    assert contact_change.confirm(user, "12ab", by=BY) == NOT_SIX_DIGITS
    assert ContactChange.objects.get(user=user).attempts == 0
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    assert "1 try" not in (contact_change.confirm(user, wrong, by=BY) or "")
    assert ContactChange.objects.get(user=user).attempts == 1
