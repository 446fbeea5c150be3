"""3. Replay and binding: a code works once, within 10 minutes, for the one sign-in
attempt it was sent for; the request cannot say who is signing in.

GitLab CE #14900 (user[login]=victim at the OTP step), devise-two-factor CVE-2021-43177
and CraftCMS GHSA-96qm-hwhp-2rm8 (reuse), Vikunja CVE-2026-134276 (a consumed code
accepted again with whitespace), privacyIDEA "only the last challenge is valid".
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from deskgate.accounts.models import AuditEvent
from deskgate.signin import codes
from tests.mailbox import last_code
from tests.security.conftest import (
    full_sign_in,
    sessions_of,
    signed_in_users,
    visible_text,
)

pytestmark = pytest.mark.django_db(transaction=True)


def at_code_step(browser, user):
    response = browser.sign_in(user.username)
    assert response.status_code == 302 and response.headers["Location"] == "/signin/code/"
    return browser


def refused(browser, response) -> bool:
    """The code was not taken: the code page again, and no session in this browser."""
    return response.status_code == 200 and browser.whoami() is None


def variants(code: str) -> list[str]:
    """A code as an attacker might re-type it: padded, signed, in other Unicode digits."""
    fullwidth = "".join(chr(0xFF10 + int(d)) for d in code)
    arabic_indic = "".join(chr(0x0660 + int(d)) for d in code)
    devanagari = "".join(chr(0x0966 + int(d)) for d in code)
    return [
        code,
        f" {code}",
        f"{code} ",
        f"{code}\n",
        f"\t{code}\r\n",
        f"+{code}",
        f"0{code}",
        f"{code[:3]} {code[3:]}",
        fullwidth,
        arabic_indic,
        devanagari,
        f"{code}\x00",
        f"{code}\u200b",
    ]


def test_code_older_than_ten_minutes_is_refused(browser, user_factory, clock) -> None:
    user = user_factory("agent", "email")
    b = at_code_step(browser(), user)
    code = last_code(user)
    clock(timedelta(minutes=10, seconds=1))
    response = b.submit_code(code)
    assert refused(b, response)
    assert "This code has expired" in visible_text(response)
    assert sessions_of(user) == 0


def test_code_just_under_ten_minutes_still_works(browser, user_factory, clock) -> None:
    user = user_factory("agent", "email")
    b = at_code_step(browser(), user)
    code = last_code(user)
    clock(timedelta(minutes=9, seconds=50))
    response = b.submit_code(code)
    assert response.status_code == 302 and b.whoami() == user.full_name


def test_used_code_is_refused_in_any_spelling_in_a_later_attempt(browser, user_factory) -> None:
    user = user_factory("agent", "email")
    victim = full_sign_in(browser(), user)
    used = last_code(user)
    # Someone who saw the used code (and knows the password) starts a new attempt.
    attacker = at_code_step(browser(), user)
    token = attacker.csrf_token("/signin/code/")
    for spelling in variants(used):
        if spelling == last_code(user):  # the new code happens to be the same digits
            continue
        response = attacker.submit_code(spelling, csrf=token)
        assert response.status_code == 200, repr(spelling)
    assert attacker.whoami() is None
    assert signed_in_users() == [user.pk]  # the victim's one session only
    assert victim.whoami() == user.full_name


def test_replaced_code_is_refused_in_any_spelling(browser, user_factory, clock) -> None:
    user = user_factory("agent", "sms")
    b = at_code_step(browser(), user)
    first = last_code(user)
    clock(timedelta(seconds=31))
    b.resend()
    second = last_code(user)
    if second == first:
        pytest.fail("two codes in a row were equal; rerun")  # one in a million
    token = b.csrf_token("/signin/code/")
    for spelling in variants(first):
        response = b.submit_code(spelling, csrf=token)
        assert response.status_code == 200, repr(spelling)
        if spelling == first:
            assert "replaced by a newer one" in visible_text(response)
    assert b.whoami() is None and sessions_of(user) == 0


@pytest.mark.parametrize("spelling", [8, 9, 10], ids=["fullwidth", "arabic-indic", "devanagari"])
def test_unicode_digits_of_the_live_code_are_the_code_once(
    browser, user_factory, spelling: int
) -> None:
    """Digits of another script are read as the digits they are (a phone keyboard may type
    them): the live code so spelled signs in once, and then no spelling works again."""
    user = user_factory("agent", "email")
    b = at_code_step(browser(), user)
    code = last_code(user)
    token = b.csrf_token("/signin/code/")
    assert b.submit_code(variants(code)[spelling], csrf=token).status_code == 302
    assert b.whoami() == user.full_name
    again = at_code_step(browser(), user)
    token = again.csrf_token("/signin/code/")
    for other in variants(code):
        if codes.normalise(other) == last_code(user):
            continue  # the new attempt's code happens to be the same digits
        assert refused(again, again.submit_code(other, csrf=token)), repr(other)
    assert sessions_of(user) == 1


def test_code_of_another_attempt_of_the_same_user_is_refused(browser, user_factory) -> None:
    user = user_factory("agent", "email")
    first = at_code_step(browser(), user)
    code_first = last_code(user)
    second = at_code_step(browser(), user)
    code_second = last_code(user)
    if code_first == code_second:
        pytest.fail("two codes in a row were equal; rerun")
    assert refused(first, first.submit_code(code_second))
    assert refused(second, second.submit_code(code_first))
    assert first.submit_code(code_first).status_code == 302
    assert first.whoami() == user.full_name
    assert second.whoami() is None


def test_code_of_another_user_or_client_is_refused(browser, user_factory, tenant_factory) -> None:
    mallory = user_factory("agent", "email", username="mallory")
    colleague = user_factory("agent", "email", username="colleague")
    outsider = user_factory("agent", "email", username="outsider", client=tenant_factory())
    m = at_code_step(browser(), mallory)
    mallory_code = last_code(mallory)
    others = []
    for other in (colleague, outsider):
        at_code_step(browser(), other)
        others.append(last_code(other))
    token = m.csrf_token("/signin/code/")
    for code in others:
        if code != mallory_code:
            assert refused(m, m.submit_code(code, csrf=token))
    assert sessions_of(colleague) == sessions_of(outsider) == 0


@pytest.mark.parametrize(
    "extra",
    [
        {"username": "victim"},
        {"user": "{victim}", "user_id": "{victim}", "pk": "{victim}"},
        {"user[login]": "victim", "login": "victim"},
        {"client": "{client}", "client_id": "{client}", "tenant": "{client}"},
        {"deskgate.pending": "x", "token": "x", "code_passed": "1", "mfa": "off"},
    ],
    ids=["username", "user-id", "gitlab-login", "client", "state-flags"],
)
def test_extra_fields_at_the_code_step_are_ignored(
    browser, user_factory, tenant_factory, extra
) -> None:
    victim = user_factory(
        "admin", "email", username="victim", client=tenant_factory(), full_name="Vic Tim"
    )
    mallory = user_factory("agent", "email", username="mallory", full_name="Mal Lory")
    fields = {k: v.format(victim=victim.pk, client=victim.client_id) for k, v in extra.items()}
    m = at_code_step(browser(), mallory)
    # Her own right code, with fields naming the victim: she gets her own session only.
    response = m.submit_code(last_code(mallory), **fields)
    assert response.status_code == 302
    assert m.whoami() == "Mal Lory"
    assert signed_in_users() == [mallory.pk]
    assert not AuditEvent.objects.filter(action="signin.success", subject=victim).exists()
    # And a wrong code with the victim's fields counts against her, not the victim.
    m2 = at_code_step(browser(), mallory)
    m2.submit_code("000000" if last_code(mallory) != "000000" else "111111", **fields)
    assert not AuditEvent.objects.filter(action="signin.code_failed", subject=victim).exists()


def test_extra_fields_at_the_password_step_are_ignored(browser, user_factory) -> None:
    victim = user_factory("admin", "off", username="victim.admin", full_name="Vic Tim")
    mallory = user_factory("agent", "email", username="mallory", full_name="Mal Lory")
    m = browser()
    response = m.sign_in(
        mallory.username, user=victim.pk, user_id=victim.pk, next="/users/", mfa_method="off"
    )
    assert response.headers["Location"] == "/signin/code/"  # her own code is still owed
    response = m.submit_code(last_code(mallory), next="/users/")
    assert m.whoami() == "Mal Lory"
    assert signed_in_users() == [mallory.pk]
