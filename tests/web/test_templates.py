"""Message templates: list, create, edit, refusals, R5 warnings and the preview per agent."""

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
    field_errors,
    form_errors_text,
    page_text,
    snapshot,
    without_csrf,
)

KNOWN_TAGS = "Known tags: {agent.name}, {agent.username}, {agent.email}, {agent.workphone}."


def template_data(**changes: str) -> dict[str, str]:
    data = {
        "name": "Callback",
        "channel": "sms",
        "sender": "Northwind",
        "subject": "",
        "body": "Hello, this is {agent.name}. I will call you back.",
    }
    data.update(changes)
    return data


@pytest.fixture
def agents(user_factory: Callable[..., User], other_tenant: Client) -> dict[str, User]:
    return {
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
        "saara": user_factory("agent", "sms", username="saara.agent", full_name="Saara Second"),
        "inka": user_factory(
            "agent", "sms", username="inka.agent", full_name="Inka Inactive", active=False
        ),
        "tiina": user_factory("team_leader", "sms", username="tiina.lead", full_name="Tiina Lead"),
        "outsider": user_factory(
            "agent", "sms", client=other_tenant, username="otto.out", full_name="Otto Outsider"
        ),
    }


@pytest.fixture
def callback(
    tenant: Client, template_factory: Callable[..., MessageTemplate], agents: dict[str, User]
) -> MessageTemplate:
    return template_factory(
        tenant,
        "Callback SMS",
        channel="sms",
        sender="{agent.workphone}",
        body="Hello, this is {agent.name} ({agent.username}). Call me on {agent.workphone} "
        "or write to {agent.email}.",
    )


def preview(response: Any) -> dict[str, str]:
    box = re.search(r'<dl class="preview-box">(.*?)</dl>', content(response), re.S)
    assert box, "no preview on the page"
    pairs = re.findall(r"<dt>(.*?)</dt><dd[^>]*>(.*?)</dd>", box.group(1), re.S)
    return {term: value for term, value in pairs}


def test_list_shows_templates_and_their_warnings(
    admin_http: HttpClient,
    callback: MessageTemplate,
    tenant: Client,
    template_factory: Callable[..., MessageTemplate],
    other_tenant: Client,
) -> None:
    template_factory(tenant, "Fixed sender", sender="Northwind")
    template_factory(other_tenant, "Contoso secret template")
    response = admin_http.get("/templates/")
    assert response.status_code == 200
    text = page_text(response)
    assert f'<a href="/templates/{callback.pk}/">Callback SMS</a>' in content(response)
    assert "Fixed sender" in text
    assert "Contoso secret template" not in text
    agents = "Saara Second (saara.agent) and Sami Agent (sami.agent)"
    assert f"the Work phone field that {agents}" in text
    assert text.count("This template sends from") == 1


def test_create_saves_and_redirects(admin_http: HttpClient, tenant: Client) -> None:
    response = admin_http.post("/templates/create/", template_data())
    assert response.status_code == 302
    template = MessageTemplate.objects.get(client=tenant, name="Callback")
    assert response["Location"] == f"/templates/{template.pk}/"
    assert (template.channel, template.sender, template.body) == (
        "sms",
        "Northwind",
        "Hello, this is {agent.name}. I will call you back.",
    )
    page = admin_http.get(response["Location"])
    assert "The template “Callback” is saved." in page_text(page)
    assert AuditEvent.objects.filter(action="template.created", client=tenant).count() == 1


def test_edit_saves(admin_http: HttpClient, callback: MessageTemplate) -> None:
    data = template_data(name="Callback SMS", sender="+358 40 999 8888", body="Call {agent.name}")
    response = admin_http.post(f"/templates/{callback.pk}/", data)
    assert response.status_code == 302
    callback.refresh_from_db()
    assert (callback.sender, callback.body) == ("+358409998888", "Call {agent.name}")


def test_edit_page_shows_current_values(admin_http: HttpClient, callback: MessageTemplate) -> None:
    shown = controls(admin_http.get(f"/templates/{callback.pk}/"))
    assert shown.values["name"] == "Callback SMS"
    assert shown.values["channel"] == "sms"
    assert shown.values["sender"] == "{agent.workphone}"
    assert shown.values["body"].strip() == callback.body


REFUSALS = [
    pytest.param(
        {"body": "Hi from {agent.phone} and {agent.name}"},
        "body",
        "The message uses unknown tags {agent.phone}. " + KNOWN_TAGS,
        id="unknown tag in the message",
    ),
    pytest.param(
        {"body": "{customer.name}, {Agent.Name}"},
        "body",
        "The message uses unknown tags {Agent.Name}, {customer.name}.",
        id="two unknown tags",
    ),
    pytest.param(
        {"channel": "email", "sender": "desk@northwind.example", "subject": "For {agent.title}"},
        "subject",
        "The subject uses unknown tags {agent.title}.",
        id="unknown tag in the subject",
    ),
    pytest.param(
        {"sender": "not a phone number!"},
        "sender",
        "An SMS template sends from a phone number, a name of at most 11 letters and digits, "
        "or {agent.workphone}.",
        id="bad SMS sender",
    ),
    pytest.param(
        {"sender": "Northwind Contact Centre"},
        "sender",
        "a name of at most 11 letters and digits",
        id="SMS sender name too long",
    ),
    pytest.param(
        {"sender": "{agent.email}"},
        "sender",
        "An SMS template sends from a phone number",
        id="SMS from the email tag",
    ),
    pytest.param(
        {"channel": "email", "sender": "nobody"},
        "sender",
        "An email template sends from an address or from {agent.email}.",
        id="bad email sender",
    ),
    pytest.param(
        {"channel": "email", "sender": "{agent.workphone}"},
        "sender",
        "An email template sends from an address or from {agent.email}.",
        id="email from the phone tag",
    ),
    pytest.param(
        {"name": "fixed SENDER"},
        "name",
        "There is already a template named fixed SENDER.",
        id="duplicate name",
    ),
    pytest.param({"name": ""}, "name", "This field is required.", id="no name"),
    pytest.param({"body": ""}, "body", "This field is required.", id="no message"),
    pytest.param({"sender": ""}, "sender", "This field is required.", id="no sender"),
    pytest.param({"channel": "fax"}, "channel", "Select a valid choice.", id="unknown channel"),
    pytest.param({"name": "n" * 101}, "name", "at most 100 characters", id="long name"),
]


@pytest.mark.parametrize("mode", ["create", "edit"])
@pytest.mark.parametrize(("changes", "field", "words"), REFUSALS)
def test_refusal_is_shown_next_to_the_field_and_nothing_is_saved(
    admin_http: HttpClient,
    callback: MessageTemplate,
    tenant: Client,
    template_factory: Callable[..., MessageTemplate],
    mode: str,
    changes: dict[str, str],
    field: str,
    words: str,
) -> None:
    template_factory(tenant, "Fixed sender")
    data = template_data(**changes)
    before = snapshot()
    url = "/templates/create/" if mode == "create" else f"/templates/{callback.pk}/"
    response = admin_http.post(url, data)
    assert response.status_code == 200
    assert any(words in e for e in field_errors(response, field)), field_errors(response, field)
    assert "Nothing was saved." in form_errors_text(response)
    shown = controls(response)
    for name in ("name", "sender", "subject"):
        assert shown.values[name] == data[name]
    assert shown.values["body"].lstrip("\n") == data["body"]
    assert snapshot() == before


def test_r5_warning_names_the_agents_after_save_and_on_the_form(
    admin_http: HttpClient, agents: dict[str, User]
) -> None:
    data = template_data(name="Reach me", sender="{agent.workphone}")
    response = admin_http.post("/templates/create/", data, follow=True)
    assert response.status_code == 200
    expected = (
        "This template sends from {agent.workphone}, the Work phone field that "
        "Saara Second (saara.agent) and Sami Agent (sami.agent) use for SMS MFA. Customers would "
        "see the number or address that receives those agents' sign-in codes; consider a "
        "fixed sender."
    )
    assert "The template “Reach me” is saved." in page_text(response)
    assert expected in page_text(response)
    # Not a team leader, not an inactive agent, not another client's agent.
    for name in ("Tiina", "Inka", "Otto"):
        assert name not in page_text(response)
    template = MessageTemplate.objects.get(name="Reach me")
    form = admin_http.get(f"/templates/{template.pk}/")
    assert expected in page_text(form)
    assert '<p class="msg warning" role="note">' in content(form)


def test_r5_warning_for_email_sender(admin_http: HttpClient, agents: dict[str, User]) -> None:
    data = template_data(
        name="Quote", channel="email", sender="{agent.email}", subject="Your quote"
    )
    text = page_text(admin_http.post("/templates/create/", data, follow=True))
    # One agent: "uses", and "this agent's" codes (ngettext).
    assert "the Email field that Aino Agent (aino.agent) uses for Email MFA" in text
    assert "receives this agent's sign-in codes" in text


def test_no_r5_warning_for_a_fixed_sender(admin_http: HttpClient, agents: dict[str, User]) -> None:
    response = admin_http.post("/templates/create/", template_data(), follow=True)
    assert "This template sends from" not in page_text(response)


def test_r5_warning_counts_agents_beyond_ten(
    admin_http: HttpClient, user_factory: Callable[..., User], callback: MessageTemplate
) -> None:
    for i in range(12):
        user_factory("agent", "sms", full_name=f"Zed Agent {i:02d}")
    text = page_text(admin_http.get(f"/templates/{callback.pk}/"))
    assert "and 4 more use for SMS MFA" in text  # 14 agents, ten named


def test_preview_renders_tags_for_the_chosen_agent(
    admin_http: HttpClient, callback: MessageTemplate, agents: dict[str, User]
) -> None:
    response = admin_http.get(f"/templates/{callback.pk}/", {"agent": agents["sami"].pk})
    assert response.status_code == 200
    shown = preview(response)
    assert shown["Sender"] == "+358 40 1110002"
    assert shown["Message"] == (
        "Hello, this is Sami Agent (sami.agent). Call me on +358 40 1110002 "
        "or write to sami@northwind.example."
    )
    assert controls(response).values["agent"] == str(agents["sami"].pk)


def test_preview_defaults_to_the_first_active_agent(
    admin_http: HttpClient, callback: MessageTemplate, agents: dict[str, User]
) -> None:
    response = admin_http.get(f"/templates/{callback.pk}/")
    assert "Hello, this is Aino Agent (aino.agent)." in preview(response)["Message"]
    offered = controls(response).options["agent"]
    assert offered == [str(agents[k].pk) for k in ("aino", "saara", "sami")]


def test_preview_of_an_email_template_shows_the_subject(
    admin_http: HttpClient,
    tenant: Client,
    template_factory: Callable[..., MessageTemplate],
    agents: dict[str, User],
) -> None:
    quote = template_factory(
        tenant,
        "Quote",
        channel="email",
        sender="{agent.email}",
        subject="Quote from {agent.name}",
        body="Regards,\n{agent.name}",
    )
    shown = preview(admin_http.get(f"/templates/{quote.pk}/", {"agent": agents["aino"].pk}))
    assert shown["Sender"] == "aino@northwind.example"
    assert shown["Subject"] == "Quote from Aino Agent"
    assert shown["Message"] == "Regards,<br>Aino Agent"


def test_preview_escapes_what_the_agent_and_template_contain(
    admin_http: HttpClient,
    tenant: Client,
    template_factory: Callable[..., MessageTemplate],
    user_factory: Callable[..., User],
) -> None:
    agent = user_factory("agent", full_name="<img src=x onerror=alert(1)>")
    template = template_factory(tenant, "Markup", body="<script>alert(2)</script> {agent.name}")
    body = content(admin_http.get(f"/templates/{template.pk}/", {"agent": agent.pk}))
    assert "<img src=x" not in body
    assert "<script>alert(2)</script>" not in body
    assert "&lt;script&gt;alert(2)&lt;/script&gt; &lt;img src=x onerror=alert(1)&gt;" in body


def test_preview_without_agents_says_so(
    admin_http: HttpClient, tenant: Client, template_factory: Callable[..., MessageTemplate]
) -> None:
    template = template_factory(tenant, "Lonely")
    assert "No active agent to preview with." in page_text(
        admin_http.get(f"/templates/{template.pk}/")
    )


@pytest.mark.parametrize("agent", ["other client", "missing", "abc", "\x00", "9" * 30, "-1"])
def test_preview_for_an_unknown_agent_is_404(
    admin_http: HttpClient, callback: MessageTemplate, agents: dict[str, User], agent: str
) -> None:
    value = {"other client": str(agents["outsider"].pk), "missing": str(10**9)}.get(agent, agent)
    response = admin_http.get(f"/templates/{callback.pk}/", {"agent": value})
    assert response.status_code == 404
    assert "Otto" not in page_text(response)


def test_another_clients_template_answers_like_a_missing_one(
    admin_http: HttpClient,
    callback: MessageTemplate,
    other_tenant: Client,
    template_factory: Callable[..., MessageTemplate],
) -> None:
    theirs = template_factory(other_tenant, "Contoso only", body="Secret {agent.name}")
    before = snapshot()
    missing = MessageTemplate.objects.order_by("-pk").first().pk + 1000  # type: ignore[union-attr]
    for method in ("get", "post"):
        call = getattr(admin_http, method)
        other = call(f"/templates/{theirs.pk}/", template_data())
        absent = call(f"/templates/{missing}/", template_data())
        assert other.status_code == absent.status_code == 404
        assert without_csrf(other) == without_csrf(absent)
        assert "Contoso" not in page_text(other)
    assert snapshot() == before


@pytest.mark.parametrize("name", ["name", "channel", "sender", "subject", "body"])
@pytest.mark.parametrize("value", ["\x00", "x\x00y", "y" * 20_000, "😀 山田 \u202e", "{" * 500])
def test_garbage_in_any_field_never_fails(
    admin_http: HttpClient, callback: MessageTemplate, name: str, value: str
) -> None:
    for url in ("/templates/create/", f"/templates/{callback.pk}/"):
        response = admin_http.post(url, template_data(**{name: value}))
        assert response.status_code in (200, 302)
        if "\x00" in value:
            assert response.status_code == 200
            assert field_errors(response, name)
