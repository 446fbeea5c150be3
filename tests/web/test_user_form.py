"""Users > Create, and edit by clicking the Name: refusals inline, successes, R1, R5, levels."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client as HttpClient

from deskgate.accounts.models import AuditEvent, Client, MessageTemplate, User
from tests.pages import (
    content,
    controls,
    field_block,
    field_errors,
    form_errors_text,
    page_text,
    snapshot,
)

TEXT_FIELDS = ("username", "full_name", "email", "work_phone")
SELECTS = ("level", "employment", "mfa_method")
LEGACY_REASON = (
    "MFA is only available for clients on release 25.x or later; Legacy is on release 11.8."
)


def form_data(**changes: str) -> dict[str, str]:
    """What the Create form submits when a person fills it in."""
    data = {
        "username": "new.agent",
        "full_name": "New Agent",
        "level": "agent",
        "employment": "active",
        "email": "new.agent@northwind.example",
        "work_phone": "",
        "mfa_method": "off",
        "password": "",
    }
    data.update(changes)
    return data


@pytest.fixture
def neighbours(user_factory: Callable[..., User]) -> dict[str, User]:
    """Users whose contact fields the refusals below clash with (R4)."""
    return {
        "kalle": user_factory(
            "agent",
            username="kalle.agent",
            full_name="Kalle Agent",
            email="shared@northwind.example",
            work_phone="+358401110003",
        ),
        "aino": user_factory(
            "agent",
            "email",
            username="aino.agent",
            full_name="Aino Agent",
            email="aino@northwind.example",
            work_phone="+358401110001",
        ),
        "sami": user_factory(
            "agent",
            "sms",
            username="sami.agent",
            full_name="Sami Agent",
            email="sami@northwind.example",
            work_phone="+358401110002",
        ),
        "vera": user_factory(
            "agent",
            username="vera.edit",
            full_name="Vera Edit",
            email="vera@northwind.example",
            work_phone="+358401110005",
        ),
    }


# (changes to the form, field the error is shown next to, words of the error)
REFUSALS = [
    pytest.param({"full_name": ""}, "full_name", "This field is required.", id="no full name"),
    pytest.param(
        {"full_name": "   "}, "full_name", "This field is required.", id="blank full name"
    ),
    pytest.param(
        {"username": "new agent"},
        "username",
        "A user name can only contain letters a-z and A-Z, digits and the characters _ @ . - "
        "(no spaces).",
        id="user name with a space",
    ),
    pytest.param(
        {"username": "änni"}, "username", "can only contain letters", id="user name with ä"
    ),
    pytest.param(
        {"username": "a" * 65},
        "username",
        "A user name can have at most 64 characters (this one has 65).",
        id="user name too long",
    ),
    pytest.param({"username": ""}, "username", "This field is required.", id="user name missing"),
    pytest.param(
        {"username": "KALLE.AGENT"},
        "username",
        "The user name KALLE.AGENT is already taken",
        id="user name taken",
    ),
    pytest.param(
        {"email": "not-an-email"},
        "email",
        "Enter a valid email address, such as anna@example.com.",
        id="bad email",
    ),
    pytest.param(
        {"level": "manager", "email": ""},
        "email",
        "Email is mandatory for a manager.",
        id="manager without email",
    ),
    pytest.param(
        {"level": "team_leader", "email": ""},
        "email",
        "Email is mandatory for a team leader.",
        id="team leader without email",
    ),
    pytest.param(
        {"mfa_method": "email", "email": ""},
        "email",
        "Email MFA sends the code to the Email field: fill it in.",
        id="R3 email MFA without email",
    ),
    pytest.param(
        {"mfa_method": "sms", "work_phone": "09 123 4567"},
        "work_phone",
        "+358 9 1234567 is not a mobile number, so it cannot receive an SMS code. "
        "Enter a mobile number or choose Email.",
        id="R3 landline for SMS",
    ),
    pytest.param(
        {"mfa_method": "sms", "work_phone": ""},
        "work_phone",
        "SMS MFA sends the code to the Work phone field: fill in a mobile number.",
        id="R3 SMS without a number",
    ),
    pytest.param(
        {"work_phone": "12345"},
        "work_phone",
        "This is not a valid phone number",
        id="invalid phone",
    ),
    pytest.param(
        {"work_phone": "call me maybe"},
        "work_phone",
        "Enter a phone number such as +358 40 123 4567",
        id="phone that is words",
    ),
    pytest.param(
        {"mfa_method": "email", "email": "Shared@Northwind.Example"},
        "email",
        "A code must reach exactly one person, but Shared@northwind.example is also the Email "
        "of Kalle Agent (kalle.agent).",
        id="R4 shared email",
    ),
    pytest.param(
        {"email": "AINO@northwind.example"},
        "email",
        "receives the Email MFA codes of Aino Agent (aino.agent)",
        id="R4 email of someone's Email MFA",
    ),
    pytest.param(
        {"mfa_method": "sms", "work_phone": "040 111 0003"},
        "work_phone",
        "A code must reach exactly one person, but +358 40 1110003 is also the Work phone of "
        "Kalle Agent (kalle.agent).",
        id="R4 shared phone",
    ),
    pytest.param(
        {"work_phone": "+358 40 111 0002"},
        "work_phone",
        "+358 40 1110002 receives the SMS MFA codes of Sami Agent (sami.agent)",
        id="R4 phone of someone's SMS MFA",
    ),
    pytest.param({"level": "root"}, "level", "Select a valid choice.", id="unknown level"),
    pytest.param({"mfa_method": "totp"}, "mfa_method", "Select a valid choice.", id="unknown MFA"),
    pytest.param(
        {"password": "too short"},
        "password",
        "Use at least 15 characters without MFA (this one has 9).",
        id="short password",
    ),
    pytest.param(
        {"password": "my new.agent password"},
        "password",
        "The password must not contain your user name",
        id="password with user name",
    ),
]


def _target(mode: str, neighbours: dict[str, User]) -> str:
    return "/users/create/" if mode == "create" else f"/users/{neighbours['vera'].pk}/"


def assert_refused(
    response: Any, before: dict[str, Any], data: dict[str, str], field: str, words: str
) -> None:
    """Status 200, the error next to its field, what was typed kept, nothing saved."""
    assert response.status_code == 200
    errors = field_errors(response, field)
    assert any(words in e for e in errors), (field, errors, page_text(response)[:2000])
    assert "Nothing was saved." in form_errors_text(response)
    shown = controls(response)
    for name in TEXT_FIELDS:
        assert shown.values[name] == data[name], name
    for name in SELECTS:
        if data[name] in shown.options[name]:
            assert shown.values[name] == data[name], name
    assert snapshot() == before


@pytest.mark.parametrize("mode", ["create", "edit"])
@pytest.mark.parametrize(("changes", "field", "words"), REFUSALS)
def test_refusal_is_shown_next_to_the_field_and_nothing_is_saved(
    admin_http: HttpClient,
    neighbours: dict[str, User],
    mode: str,
    changes: dict[str, str],
    field: str,
    words: str,
) -> None:
    data = form_data(**changes)
    before = snapshot()
    response = admin_http.post(_target(mode, neighbours), data)
    assert_refused(response, before, data, field, words)


def test_several_refusals_each_next_to_its_field(
    admin_http: HttpClient, neighbours: dict[str, User]
) -> None:
    # The form checks presence first; the rules' refusals come once the form is complete.
    data = form_data(
        username="bad name", full_name="", email="nope", level="manager", work_phone="1"
    )
    before = snapshot()
    response = admin_http.post("/users/create/", data)
    assert response.status_code == 200
    assert field_errors(response, "full_name") == ["This field is required."]
    assert controls(response).values["username"] == "bad name"
    data["full_name"] = "Now Named"
    response = admin_http.post("/users/create/", data)
    assert response.status_code == 200
    assert field_errors(response, "full_name") == []
    assert "can only contain letters" in field_errors(response, "username")[0]
    assert "Enter a valid email address" in field_errors(response, "email")[0]
    assert "Enter a phone number such as" in field_errors(response, "work_phone")[0]
    assert field_errors(response, "level") == []
    assert snapshot() == before


def test_error_paragraph_sits_inside_the_fields_block(
    admin_http: HttpClient, neighbours: dict[str, User]
) -> None:
    response = admin_http.post("/users/create/", form_data(email="not-an-email"))
    block = field_block(response, "email")
    assert '<label for="id_email">Email</label>' in block
    assert '<p class="error" role="alert">' in block
    assert re.search(r'<div class="field invalid">\s*<label for="id_email">', content(response))
    assert field_errors(response, "work_phone") == []


def test_create_r1_forged_mfa_on_an_11x_client_is_refused(
    user_factory: Callable[..., User],
    legacy_tenant: Client,
    signed_in: Callable[[User], HttpClient],
) -> None:
    admin = user_factory("admin", client=legacy_tenant, username="lena.legacy")
    http = signed_in(admin)
    for method in ("email", "sms"):
        data = form_data(mfa_method=method, work_phone="+358401239999")
        before = snapshot()
        response = http.post("/users/create/", data)
        assert_refused(response, before, data, "mfa_method", LEGACY_REASON)


def test_edit_r1_forged_mfa_on_an_11x_client_is_refused(
    user_factory: Callable[..., User],
    legacy_tenant: Client,
    signed_in: Callable[[User], HttpClient],
) -> None:
    admin = user_factory("admin", client=legacy_tenant, username="lena.legacy")
    agent = user_factory(
        "agent", client=legacy_tenant, username="leo.legacy", full_name="Leo Legacy"
    )
    http = signed_in(admin)
    data = form_data(
        username="leo.legacy", full_name="Leo Legacy", email=agent.email, mfa_method="email"
    )
    before = snapshot()
    response = http.post(f"/users/{agent.pk}/", data)
    assert_refused(response, before, data, "mfa_method", LEGACY_REASON)


@pytest.mark.parametrize("page", ["create", "edit"])
def test_11x_form_shows_mfa_disabled_with_the_reason(
    user_factory: Callable[..., User],
    legacy_tenant: Client,
    signed_in: Callable[[User], HttpClient],
    page: str,
) -> None:
    admin = user_factory("admin", client=legacy_tenant, username="lena.legacy")
    agent = user_factory("agent", client=legacy_tenant)
    http = signed_in(admin)
    response = http.get("/users/create/" if page == "create" else f"/users/{agent.pk}/")
    assert response.status_code == 200
    shown = controls(response)
    assert "mfa_method" in shown.disabled
    assert shown.attrs["mfa_method"]["aria-describedby"] == "mfa-unavailable"
    body = content(response)
    assert f'<p class="help" id="mfa-unavailable">{LEGACY_REASON}</p>' in body
    assert shown.values["mfa_method"] == "off"


def test_11x_edit_without_the_disabled_mfa_saves_the_rest(
    user_factory: Callable[..., User],
    legacy_tenant: Client,
    signed_in: Callable[[User], HttpClient],
) -> None:
    admin = user_factory("admin", client=legacy_tenant, username="lena.legacy")
    agent = user_factory("agent", client=legacy_tenant, username="leo.legacy")
    http = signed_in(admin)
    data = form_data(username="leo.legacy", full_name="Leo Renamed", email="leo@legacy.example")
    del data["mfa_method"]  # a disabled control is not submitted
    response = http.post(f"/users/{agent.pk}/", data)
    assert response.status_code == 302
    agent.refresh_from_db()
    assert (agent.full_name, agent.email, agent.mfa_method) == (
        "Leo Renamed",
        "leo@legacy.example",
        "off",
    )


def test_create_saves_redirects_and_says_so(
    admin_http: HttpClient, neighbours: dict[str, User]
) -> None:
    data = form_data(
        mfa_method="sms",
        work_phone="040 765 4321",
        password="orange kayak under moonlight",
    )
    response = admin_http.post("/users/create/", data)
    assert response.status_code == 302
    user = User.objects.get(username="new.agent")
    assert response["Location"] == f"/users/{user.pk}/"
    assert (user.full_name, user.level, user.email, user.work_phone, user.mfa_method) == (
        "New Agent",
        "agent",
        "new.agent@northwind.example",
        "+358407654321",
        "sms",
    )
    assert user.must_change_password  # the first password is temporary
    assert user.check_password("orange kayak under moonlight")
    page = admin_http.get(response["Location"])
    assert "New Agent (new.agent) is created." in page_text(page)
    assert AuditEvent.objects.filter(action="user.created", subject=user).count() == 1


def test_create_without_a_password_leaves_it_unusable(
    admin_http: HttpClient, neighbours: dict[str, User]
) -> None:
    assert admin_http.post("/users/create/", form_data()).status_code == 302
    assert not User.objects.get(username="new.agent").has_usable_password()


def test_edit_page_shows_the_users_current_values(
    admin_http: HttpClient, neighbours: dict[str, User]
) -> None:
    response = admin_http.get(f"/users/{neighbours['sami'].pk}/")
    assert response.status_code == 200
    shown = controls(response)
    assert shown.values["username"] == "sami.agent"
    assert shown.values["full_name"] == "Sami Agent"
    assert shown.values["email"] == "sami@northwind.example"
    assert shown.values["work_phone"] == "+358 40 1110002"
    assert shown.values["mfa_method"] == "sms"
    assert shown.values["employment"] == "active"
    assert shown.options["mfa_method"] == ["off", "email", "sms"]
    text = page_text(response)
    for label in ("Contact information", "Email", "Work phone", "MFA", "Save"):
        assert label in text


def test_article_flow_edit_sets_email_mfa(
    admin_http: HttpClient, neighbours: dict[str, User]
) -> None:
    vera = neighbours["vera"]
    data = form_data(
        username="vera.edit",
        full_name="Vera Edit",
        email="vera.own@northwind.example",
        work_phone="+358 40 111 0005",
        mfa_method="email",
    )
    response = admin_http.post(f"/users/{vera.pk}/", data)
    assert response.status_code == 302
    assert response["Location"] == f"/users/{vera.pk}/"
    vera.refresh_from_db()
    assert (vera.mfa_method, vera.email) == ("email", "vera.own@northwind.example")
    page = admin_http.get(response["Location"])
    assert "Vera Edit (vera.edit) is saved." in page_text(page)
    assert controls(page).values["mfa_method"] == "email"
    assert AuditEvent.objects.filter(action="user.mfa_changed", subject=vera).count() == 1


def test_edit_with_a_new_password_makes_it_temporary(
    admin_http: HttpClient, neighbours: dict[str, User]
) -> None:
    vera = neighbours["vera"]
    data = form_data(
        username="vera.edit",
        full_name="Vera Edit",
        email=vera.email,
        work_phone=vera.work_phone,
        password="purple elephant on a bicycle",
    )
    assert admin_http.post(f"/users/{vera.pk}/", data).status_code == 302
    vera.refresh_from_db()
    assert vera.check_password("purple elephant on a bicycle")
    assert vera.must_change_password


def test_edit_refused_password_saves_nothing_else_either(
    admin_http: HttpClient, neighbours: dict[str, User]
) -> None:
    """One Save is one write: a refused password keeps the other changes unsaved too."""
    vera = neighbours["vera"]
    data = form_data(
        username="vera.edit",
        full_name="Vera Renamed",
        email="vera.new@northwind.example",
        work_phone=vera.work_phone,
        password="short",
    )
    before = snapshot()
    response = admin_http.post(f"/users/{vera.pk}/", data)
    assert_refused(response, before, data, "password", "Use at least 15 characters")


@pytest.fixture
def sms_callback_template(
    tenant: Client, template_factory: Callable[..., MessageTemplate]
) -> MessageTemplate:
    return template_factory(
        tenant, "Callback SMS", channel="sms", sender="{agent.workphone}", body="Call me back."
    )


def test_r5_warning_after_create_names_template_and_user(
    admin_http: HttpClient, sms_callback_template: MessageTemplate
) -> None:
    data = form_data(mfa_method="sms", work_phone="+358407654321")
    response = admin_http.post("/users/create/", data, follow=True)
    assert response.status_code == 200
    text = page_text(response)
    assert "New Agent (new.agent) is created." in text
    assert (
        "New Agent (new.agent) uses the Work phone field for SMS MFA, and the message template "
        "“Callback SMS” sends from {agent.workphone}" in text
    )
    assert 'class="msg warning"' in content(response)


def test_r5_warning_after_edit_and_on_the_form(
    admin_http: HttpClient,
    neighbours: dict[str, User],
    sms_callback_template: MessageTemplate,
    tenant: Client,
    template_factory: Callable[..., MessageTemplate],
) -> None:
    template_factory(
        tenant, "Quote by email", channel="email", sender="{agent.email}", subject="Your quote"
    )
    vera = neighbours["vera"]
    data = form_data(
        username="vera.edit",
        full_name="Vera Edit",
        email=vera.email,
        work_phone="+358401110005",
        mfa_method="sms",
    )
    saved = admin_http.post(f"/users/{vera.pk}/", data, follow=True)
    assert "“Callback SMS”" in page_text(saved)
    assert "Vera Edit (vera.edit) uses the Work phone field for SMS MFA" in page_text(saved)
    assert "Quote by email" not in page_text(saved)
    # The form of an agent with Email MFA warns about the email template on its own.
    aino = admin_http.get(f"/users/{neighbours['aino'].pk}/")
    assert '<p class="msg warning" role="note">' in content(aino)
    assert "Aino Agent (aino.agent) uses the Email field for Email MFA" in page_text(aino)
    assert "“Quote by email” sends from {agent.email}" in page_text(aino)
    # The template's name links to the template.
    quote = MessageTemplate.objects.get(name="Quote by email")
    assert f'<a href="/templates/{quote.pk}/">“Quote by email”</a>' in content(aino)


def test_no_r5_warning_without_mfa_on_the_tagged_field(
    admin_http: HttpClient, neighbours: dict[str, User], sms_callback_template: MessageTemplate
) -> None:
    kalle = admin_http.get(f"/users/{neighbours['kalle'].pk}/")
    assert 'class="msg warning"' not in content(kalle)
    created = admin_http.post("/users/create/", form_data(), follow=True)
    assert 'class="msg warning"' not in content(created)


# --- managers and admins ---------------------------------------------------------------


@pytest.fixture
def manager(user_factory: Callable[..., User]) -> User:
    return user_factory("manager", username="mikko.manager", full_name="Mikko Manager")


def test_manager_form_offers_levels_below_their_own(
    manager: User, signed_in: Callable[[User], HttpClient]
) -> None:
    """A manager creates team leaders and agents, and leaves their MFA to the settings."""
    response = signed_in(manager).get("/users/create/")
    assert response.status_code == 200
    assert controls(response).options["level"] == ["team_leader", "agent"]
    assert "Only an admin can change MFA settings" in page_text(response)


def test_manager_forging_admin_level_is_refused(
    manager: User, signed_in: Callable[[User], HttpClient]
) -> None:
    http = signed_in(manager)
    data = form_data(level="admin", username="sneaky.admin")
    before = snapshot()
    response = http.post("/users/create/", data)
    assert_refused(response, before, data, "level", "Select a valid choice.")
    assert not User.objects.filter(username="sneaky.admin").exists()


def test_manager_cannot_promote_or_change_an_admin(
    manager: User,
    admin_user: User,
    user_factory: Callable[..., User],
    signed_in: Callable[[User], HttpClient],
) -> None:
    http = signed_in(manager)
    agent = user_factory("agent", username="tuomas.agent")
    data = form_data(username="tuomas.agent", full_name="Tuomas Agent", level="admin")
    before = snapshot()
    assert_refused(http.post(f"/users/{agent.pk}/", data), before, data, "level", "valid choice")
    # The admin's page: shown without Save; a manager's Save is refused with the reason
    # (403, like Unlock and Revoke: tests/web/test_user_rights.py), nothing changes.
    data = form_data(
        username=admin_user.username,
        full_name="Anna Renamed",
        level="manager",
        email=admin_user.email,
    )
    response = http.post(f"/users/{admin_user.pk}/", data)
    assert response.status_code == 403
    assert "Only an admin can create or change an admin." in page_text(response)
    assert snapshot() == before


def test_manager_manages_agents(
    manager: User, user_factory: Callable[..., User], signed_in: Callable[[User], HttpClient]
) -> None:
    http = signed_in(manager)
    response = http.post("/users/create/", form_data(level="team_leader"))
    assert response.status_code == 302
    assert User.objects.get(username="new.agent").level == "team_leader"


# --- garbage never gives a 500 -----------------------------------------------------------

GARBAGE = [
    pytest.param("x" * 10_000, id="10k chars"),
    pytest.param("\x00", id="null byte"),
    pytest.param("ab\x00cd", id="null inside"),
    pytest.param("😀" * 300, id="emoji"),
    pytest.param("Zoë 山田 Ølsen", id="unicode"),
    pytest.param("\u202eevil\u200b", id="bidi and zero width"),
    pytest.param("<script>alert(1)</script>", id="markup"),
    pytest.param("'; DROP TABLE accounts_user; --", id="quote"),
    pytest.param("\r\n\t", id="control whitespace"),
    pytest.param("+" + "9" * 60, id="long number"),
]


@pytest.mark.parametrize("mode", ["create", "edit"])
@pytest.mark.parametrize(
    "name",
    [
        "username",
        "full_name",
        "level",
        "employment",
        "email",
        "work_phone",
        "mfa_method",
        "password",
    ],
)
@pytest.mark.parametrize("value", GARBAGE)
def test_garbage_in_any_field_never_fails(
    admin_http: HttpClient, neighbours: dict[str, User], mode: str, name: str, value: str
) -> None:
    response = admin_http.post(_target(mode, neighbours), form_data(**{name: value}))
    assert response.status_code in (200, 302)
    if "\x00" in value:
        assert response.status_code == 200
        assert field_errors(response, name)
    if response.status_code == 200:
        assert "<script>alert(1)</script>" not in content(response)


@pytest.mark.parametrize("mode", ["create", "edit"])
def test_missing_fields_are_errors_not_failures(
    admin_http: HttpClient, neighbours: dict[str, User], mode: str
) -> None:
    before = snapshot()
    # A browser always sends the CSRF token, so a form with every field missing is this:
    response = admin_http.post(_target(mode, neighbours), {"csrfmiddlewaretoken": "x"})
    assert response.status_code == 200
    for name in ("username", "full_name", "level", "employment"):
        assert field_errors(response, name) == ["This field is required."], name
    # A body with nothing at all shows the form again.
    assert admin_http.post(_target(mode, neighbours), {}).status_code == 200
    assert snapshot() == before


def test_a_field_posted_twice_is_not_a_failure(
    admin_http: HttpClient, neighbours: dict[str, User]
) -> None:
    data: dict[str, Any] = form_data()
    data["username"] = ["one.name", "other name"]
    data["level"] = ["agent", "admin", "nonsense"]
    response = admin_http.post("/users/create/", data)
    assert response.status_code in (200, 302)


def test_unicode_full_name_is_saved_and_shown_escaped(
    admin_http: HttpClient, neighbours: dict[str, User]
) -> None:
    name = "Zoë <b>山田</b> O'Brien"
    response = admin_http.post("/users/create/", form_data(full_name=name), follow=True)
    assert response.status_code == 200
    assert User.objects.get(username="new.agent").full_name == name
    assert "<b>山田</b>" not in content(response)
    listing = admin_http.get("/users/", {"q": "山田"})
    assert "Zoë &lt;b&gt;山田&lt;/b&gt; O&#x27;Brien" in content(listing)


@pytest.mark.parametrize(
    "path",
    [
        "/users/abc/",
        "/users/0/",
        "/users/-1/",
        "/users/1.5/",
        "/users/%00/",
        "/users/99999999999999999999999999/",
        "/users/9223372036854775808/",
    ],
)
def test_non_numeric_and_absurd_ids_answer_404(admin_http: HttpClient, path: str) -> None:
    assert admin_http.get(path).status_code == 404
    assert admin_http.post(path, form_data()).status_code == 404
