"""Names admins type are shown in messages and the audit trail: they may not carry control or
invisible format characters (bidi overrides, zero-width spaces), and they are as long as the
page allows on every path, refused with the limit named, never cut.

Zero-width joiner and non-joiner (U+200D, U+200C) are part of how some scripts write
names (Persian, Devanagari...): they are kept when they sit between letters or marks,
refused anywhere else.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.exceptions import ValidationError
from django.test import Client as HttpClient

from deskgate.accounts import actions, rules
from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import Client, User
from tests.accounts.conftest import State
from tests.pages import controls, field_errors

BAD_NAMES = {
    "bidi-override-and-zero-width-space": (
        "A\u202eB\u200bC",
        "U+202E (RIGHT-TO-LEFT OVERRIDE), U+200B (ZERO WIDTH SPACE)",
    ),
    "nul": ("Anna\x00Admin", "U+0000"),
    "escape-sequence": ("Anna \x1b[31mAdmin", "U+001B"),
    "bidi-isolate": ("Anna \u2067Admin", "U+2067 (RIGHT-TO-LEFT ISOLATE)"),
    "soft-hyphen": ("Anna\u00adAdmin", "U+00AD (SOFT HYPHEN)"),
    "line-separator": ("Anna\u2028Admin", "U+2028 (LINE SEPARATOR)"),
    "zwj-at-the-end": ("Anna\u200d", "U+200D (ZERO WIDTH JOINER)"),
    "zwnj-next-to-a-space": ("Anna \u200cAdmin", "U+200C (ZERO WIDTH NON-JOINER)"),
    "private-use": ("Anna \ue000", "U+E000"),
}

GOOD_NAMES = {
    "persian-zwnj-between-letters": "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
    "devanagari-zwj-after-virama": "\u0915\u094d\u200d\u0937\u093e",
    "accents-and-apostrophe": "Ren\u00e9e O'Brien-S\u00f8rensen",
    "tab-and-newline-become-spaces": "Anna\tB.\nAdmin",
}


def _input(full_name: str, username: str = "new.person") -> actions.UserInput:
    return actions.UserInput(username=username, full_name=full_name)


@pytest.mark.parametrize(("name", "named"), BAD_NAMES.values(), ids=BAD_NAMES.keys())
def test_control_and_format_characters_are_refused_on_create_and_edit(
    tenant: Client,
    user_factory: Callable[..., User],
    db_state: Callable[[], State],
    name: str,
    named: str,
) -> None:
    existing = user_factory("agent")
    before = db_state()
    with pytest.raises(ValidationError) as refused:
        actions.create_user(tenant, _input(name), by=OPERATOR)
    (message,) = refused.value.message_dict["full_name"]
    assert message.startswith("Full name cannot contain control or invisible characters")
    assert named in message
    data = actions.UserInput.of(existing)
    data.full_name = name
    with pytest.raises(ValidationError) as refused:
        actions.update_user(existing, data, by=OPERATOR)
    assert refused.value.message_dict["full_name"] == [message]
    assert db_state() == before


@pytest.mark.parametrize("name", GOOD_NAMES.values(), ids=GOOD_NAMES.keys())
def test_names_of_every_script_are_kept(tenant: Client, name: str) -> None:
    user = actions.create_user(tenant, _input(name), by=OPERATOR).user
    user.refresh_from_db()
    assert user.full_name == " ".join(name.split())


def test_too_long_a_name_is_refused_not_cut(tenant: Client, db_state: Callable[[], State]) -> None:
    before = db_state()
    with pytest.raises(ValidationError) as refused:
        actions.create_user(tenant, _input("A" * 250), by=OPERATOR)
    assert refused.value.message_dict["full_name"] == [
        "Full name can have at most 200 characters (it has 250)."
    ]
    assert db_state() == before
    # The limit counts what is kept: runs of spaces are one.
    actions.create_user(tenant, _input("A" * 100 + "     " + "B" * 99), by=OPERATOR)


def test_the_page_refuses_with_the_same_words(
    admin_http: HttpClient, admin_user: User, db_state: Callable[[], State]
) -> None:
    form = dict(controls(admin_http.get("/users/create/")).values)
    before = db_state()
    for name, says in (
        ("A" * 250, "Full name can have at most 200 characters (it has 250)."),
        ("A\u202eB\u200bC", "U+202E (RIGHT-TO-LEFT OVERRIDE)"),
    ):
        data = form | {"username": "new.person", "full_name": name, "employment": "active"}
        response = admin_http.post("/users/create/", data)
        assert response.status_code == 200
        (error,) = field_errors(response, "full_name")
        assert says in error
    assert db_state() == before


def test_emails_with_invisible_characters_are_refused(
    tenant: Client, db_state: Callable[[], State]
) -> None:
    """An address that looks like another (a zero-width space in the domain) would slip past
    the one-recipient rule and SSO's match by Email."""
    before = db_state()
    for email in ("ab@exa\u200bmple.com", '"a\x01b"@example.com'):
        data = _input("Anna Admin")
        data.email = email
        with pytest.raises(ValidationError) as refused:
            actions.create_user(tenant, data, by=OPERATOR)
        assert "control or invisible characters" in " ".join(refused.value.message_dict["email"])
    assert db_state() == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "Welcome\u202e"),
        ("subject", "Hello\u200b there"),
        ("subject", "Hello\nBcc: evil@example.com"),
        ("body", "Hello\x00there"),
    ],
    ids=["name-bidi", "subject-zero-width", "subject-newline", "body-nul"],
)
def test_template_texts_are_checked_too(
    tenant: Client, db_state: Callable[[], State], field: str, value: str
) -> None:
    data = actions.TemplateInput(
        name="Welcome", channel="email", sender="info@northwind.example", subject="Hi", body="Hi"
    )
    setattr(data, field, value)
    before = db_state()
    with pytest.raises(ValidationError) as refused:
        actions.save_template(tenant, None, data, by=OPERATOR)
    assert "control or invisible characters" in " ".join(refused.value.message_dict[field])
    assert db_state() == before


def test_template_bodies_keep_lines_and_emoji(tenant: Client) -> None:
    body = "Hello {agent.name},\r\n\tthanks! \U0001f468\u200d\U0001f469\u200d\U0001f467"
    data = actions.TemplateInput(
        name="Family", channel="email", sender="info@northwind.example", subject="Hi", body=body
    )
    template, _ = actions.save_template(tenant, None, data, by=OPERATOR)
    template.refresh_from_db()
    assert template.body == body


def test_client_names_are_checked(db: None) -> None:
    with pytest.raises(ValidationError) as refused:
        actions.create_client("North\u202ewind", "25.4", by=OPERATOR)
    assert "control or invisible characters" in " ".join(refused.value.message_dict["name"])
    assert not Client.objects.exists()


def test_one_rule_answers_for_every_path() -> None:
    assert rules.clean_full_name("  Anna   Admin ") == "Anna Admin"
    with pytest.raises(ValidationError, match=r"at most 200 characters \(it has 201\)"):
        rules.clean_full_name("x" * 201)
