"""The rules every write obeys, as tables: R1 release gate, R3 destinations, R4 one recipient
per code from both sides, R5 template warnings, template tags and the User list search."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from deskgate.accounts import actions, rules
from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import Client, User
from tests.accounts.conftest import State, shared_recipients

# --- R1: release gate ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("release", "supports"),
    [("25.4", True), ("25.0", True), ("26.1", True), ("100.1", True), ("24.9", False)]
    + [("11.8", False), ("9.12", False)],
    ids=["25.4", "25.0", "26.1", "100.1", "24.9", "11.8", "9.12"],
)
def test_release_supports_mfa_from_25(
    tenant_factory: Callable[..., Client], release: str, supports: bool
) -> None:
    client = tenant_factory(release=release)
    assert client.supports_mfa is supports
    if not supports:
        assert f"release {release}" in client.mfa_unavailable_reason
        assert "25.x or later" in client.mfa_unavailable_reason


R1_TABLE = [
    (release, method, release in {"25.4", "26.1"} or method == "off")
    for release in ("25.4", "26.1", "11.8", "24.9")
    for method in ("off", "email", "sms")
]


@pytest.mark.parametrize(
    ("release", "method", "allowed"),
    R1_TABLE,
    ids=[f"{r}-{m}-{'allowed' if ok else 'refused'}" for r, m, ok in R1_TABLE],
)
def test_r1_release_gate(
    tenant_factory: Callable[..., Client],
    user_factory: Callable[..., User],
    db_state: Callable[[], State],
    release: str,
    method: str,
    allowed: bool,
) -> None:
    client = tenant_factory(release=release)
    agent = user_factory("agent", client=client, work_phone="+358402223344")
    before = db_state()
    if allowed:
        actions.change_mfa_method(agent, method, by=OPERATOR)
        agent.refresh_from_db()
        assert agent.mfa_method == method
        assert agent.mfa_applies is (method != "off")
        return
    with pytest.raises(ValidationError) as caught:
        actions.change_mfa_method(agent, method, by=OPERATOR)
    assert caught.value.message_dict == {"mfa_method": [client.mfa_unavailable_reason]}
    assert f"release {release}" in caught.value.message_dict["mfa_method"][0]
    assert db_state() == before


@pytest.mark.parametrize("method", ["email", "sms"])
def test_r1_refused_when_creating_on_a_legacy_client(
    legacy_tenant: Client, user_factory: Callable[..., User], method: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        user_factory("agent", method, client=legacy_tenant, work_phone="+358402223345")
    assert "release 11.8" in caught.value.message_dict["mfa_method"][0]
    assert not User.objects.filter(client=legacy_tenant).exists()


# --- R3: a destination that works ----------------------------------------------------------


@dataclass
class Destination:
    mfa: str
    email: str = "dest@example.com"
    work_phone: str = "+358402220000"
    country: str = "FI"
    refused: str | None = None  # the field the refusal is keyed by
    says: str = ""
    stored_phone: str | None = None


R3_TABLE = {
    "email-mfa-with-email": Destination("email"),
    "email-mfa-without-email": Destination(
        "email", email="", refused="email", says="Email MFA sends the code to the Email field"
    ),
    "email-mfa-with-invalid-email": Destination(
        "email", email="dest@", refused="email", says="valid email address"
    ),
    "sms-mfa-with-mobile": Destination("sms", stored_phone="+358402220000"),
    "sms-mfa-without-phone": Destination(
        "sms", work_phone="", refused="work_phone", says="fill in a mobile number"
    ),
    "sms-mfa-with-helsinki-landline": Destination(
        "sms",
        work_phone="+35891234567",
        refused="work_phone",
        says="+358 9 1234567 is not a mobile number",
    ),
    "sms-mfa-with-landline-typed-nationally": Destination(
        "sms", work_phone="09 1234567", refused="work_phone", says="is not a mobile number"
    ),
    "sms-mfa-with-invalid-number": Destination(
        "sms", work_phone="12345", refused="work_phone", says="not a valid phone number"
    ),
    "sms-mfa-with-letters": Destination(
        "sms", work_phone="call me", refused="work_phone", says="read as FI numbers"
    ),
    "sms-mfa-mobile-typed-without-plus-fi": Destination(
        "sms", work_phone="040 222 0001", stored_phone="+358402220001"
    ),
    "sms-mfa-mobile-typed-without-plus-se": Destination(
        "sms", work_phone="070-123 45 67", country="SE", stored_phone="+46701234567"
    ),
    "sms-mfa-plus-number-ignores-default-country": Destination(
        "sms", work_phone="+46 70 123 45 68", stored_phone="+46701234568"
    ),
    "mfa-off-landline-allowed": Destination("off", work_phone="09 1234567"),
    "mfa-off-without-contact-allowed": Destination("off", email="", work_phone=""),
}


@pytest.mark.parametrize("case", R3_TABLE.values(), ids=R3_TABLE.keys())
def test_r3_destination_that_works(
    tenant_factory: Callable[..., Client],
    db_state: Callable[[], State],
    case: Destination,
) -> None:
    client = tenant_factory(country=case.country)
    data = actions.UserInput(
        username="dest.agent",
        full_name="Dest Agent",
        level="agent",
        email=case.email,
        work_phone=case.work_phone,
        mfa_method=case.mfa,
    )
    before = db_state()
    if case.refused is None:
        user = actions.create_user(client, data, by=OPERATOR, password=None).user
        user.refresh_from_db()
        assert user.mfa_method == case.mfa
        if case.stored_phone is not None:
            assert user.work_phone == case.stored_phone
        return
    with pytest.raises(ValidationError) as caught:
        actions.create_user(client, data, by=OPERATOR, password=None)
    assert list(caught.value.message_dict) == [case.refused]
    assert case.says in " ".join(caught.value.message_dict[case.refused])
    assert db_state() == before


def test_r3_holds_when_editing_away_the_destination(user_factory: Callable[..., User]) -> None:
    emailer = user_factory("agent", "email")
    texter = user_factory("agent", "sms")
    kept = (emailer.email, texter.work_phone)
    for user, change, fieldname in (
        (emailer, {"email": ""}, "email"),
        (texter, {"work_phone": ""}, "work_phone"),
        (texter, {"work_phone": "+35891234567"}, "work_phone"),
    ):
        data = actions.UserInput.of(user)
        for name, value in change.items():
            setattr(data, name, value)
        with pytest.raises(ValidationError) as caught:
            actions.update_user(user, data, by=OPERATOR)
        assert fieldname in caught.value.message_dict
    emailer.refresh_from_db()
    texter.refresh_from_db()
    assert (emailer.email, texter.work_phone) == kept


# --- R4: one recipient per code, from both sides -------------------------------------------

SHARED = "shared@example.com"
PHONE = "+358401111111"


@dataclass
class Recipients:
    """Users made first (`others`), then one write for `subject`.

    `attempt` changes fields of an existing subject through update_user; None means that
    creating the subject is the write tried. An other with client="other" belongs to a
    second client.
    """

    others: list[dict[str, Any]]
    subject: dict[str, Any] = field(default_factory=dict)
    attempt: dict[str, Any] | None = None
    refused: str | None = None


R4_TABLE = {
    # Email, enabling MFA.
    "email-enable-on-address-another-active-user-has": Recipients(
        [{"email": SHARED}], {"email": SHARED}, {"mfa_method": "email"}, "email"
    ),
    "email-enable-on-address-another-has-case-differs": Recipients(
        [{"email": "Shared@EXAMPLE.com"}], {"email": SHARED}, {"mfa_method": "email"}, "email"
    ),
    "email-enable-on-address-another-uses-for-sms-user": Recipients(
        [{"email": SHARED, "mfa": "sms"}], {"email": SHARED}, {"mfa_method": "email"}, "email"
    ),
    "email-create-with-mfa-on-address-another-has": Recipients(
        [{"email": SHARED}], {"email": "SHARED@example.com", "mfa": "email"}, None, "email"
    ),
    # Email, editing someone else's contact field.
    "email-edit-to-address-another-uses-for-email-mfa": Recipients(
        [{"email": SHARED, "mfa": "email"}], {}, {"email": "Shared@Example.COM"}, "email"
    ),
    "email-edit-to-full-width-form-of-that-address": Recipients(
        [{"email": SHARED, "mfa": "email"}], {}, {"email": " \uff53hared@example.com "}, "email"
    ),
    "email-edit-to-that-address-while-choosing-sms": Recipients(
        [{"email": SHARED, "mfa": "email"}], {}, {"email": SHARED, "mfa_method": "sms"}, "email"
    ),
    "email-create-with-address-another-uses-for-email-mfa": Recipients(
        [{"email": SHARED, "mfa": "email"}], {"email": SHARED}, None, "email"
    ),
    # Email, inactive users do not count, reactivation does.
    "email-enable-when-the-other-is-inactive": Recipients(
        [{"email": SHARED, "active": False}], {"email": SHARED}, {"mfa_method": "email"}
    ),
    "email-edit-to-address-of-inactive-email-mfa-user": Recipients(
        [{"email": SHARED, "mfa": "email", "active": False}], {}, {"email": SHARED}
    ),
    "email-create-inactive-with-mfa-on-shared-address": Recipients(
        [{"email": SHARED}], {"email": SHARED, "mfa": "email", "active": False}
    ),
    "email-reactivate-user-whose-mfa-address-another-has": Recipients(
        [{"email": SHARED}],
        {"email": SHARED, "mfa": "email", "active": False},
        {"is_active": True},
        "email",
    ),
    "email-reactivate-user-whose-address-another-uses-for-mfa": Recipients(
        [{"email": SHARED, "mfa": "email"}],
        {"email": SHARED, "active": False},
        {"is_active": True},
        "email",
    ),
    # Email, what is allowed.
    "email-other-client-same-address": Recipients(
        [{"email": SHARED, "mfa": "email", "client": "other"}],
        {"email": SHARED},
        {"mfa_method": "email"},
    ),
    "email-shared-address-mfa-off-both": Recipients([{"email": SHARED}], {"email": SHARED}),
    "email-shared-address-mfa-off-edit-name": Recipients(
        [{"email": SHARED}], {"email": SHARED}, {"full_name": "Renamed Person"}
    ),
    "email-mfa-user-edited-keeps-own-address": Recipients(
        [], {"email": SHARED, "mfa": "email"}, {"full_name": "Renamed Person"}
    ),
    "email-deactivate-never-refused": Recipients(
        [{"email": SHARED}], {"email": SHARED}, {"is_active": False, "mfa_method": "email"}
    ),
    # SMS, the same from both sides.
    "sms-enable-on-number-another-active-user-has": Recipients(
        [{"work_phone": PHONE}], {"work_phone": PHONE}, {"mfa_method": "sms"}, "work_phone"
    ),
    "sms-create-with-mfa-on-number-another-has-typed-nationally": Recipients(
        [{"work_phone": PHONE}], {"work_phone": "040 111 1111", "mfa": "sms"}, None, "work_phone"
    ),
    "sms-edit-to-number-another-uses-for-sms-mfa": Recipients(
        [{"work_phone": PHONE, "mfa": "sms"}], {}, {"work_phone": "+358 40 111 1111"}, "work_phone"
    ),
    "sms-edit-to-number-typed-nationally": Recipients(
        [{"work_phone": PHONE, "mfa": "sms"}], {}, {"work_phone": "040-1111111"}, "work_phone"
    ),
    "sms-edit-to-that-number-while-choosing-email": Recipients(
        [{"work_phone": PHONE, "mfa": "sms"}],
        {},
        {"work_phone": PHONE, "mfa_method": "email"},
        "work_phone",
    ),
    "sms-enable-when-the-other-is-inactive": Recipients(
        [{"work_phone": PHONE, "active": False}], {"work_phone": PHONE}, {"mfa_method": "sms"}
    ),
    "sms-edit-to-number-of-inactive-sms-mfa-user": Recipients(
        [{"work_phone": PHONE, "mfa": "sms", "active": False}], {}, {"work_phone": PHONE}
    ),
    "sms-reactivate-user-whose-mfa-number-another-has": Recipients(
        [{"work_phone": PHONE}],
        {"work_phone": PHONE, "mfa": "sms", "active": False},
        {"is_active": True},
        "work_phone",
    ),
    "sms-reactivate-user-whose-number-another-uses-for-mfa": Recipients(
        [{"work_phone": PHONE, "mfa": "sms"}],
        {"work_phone": PHONE, "active": False},
        {"is_active": True},
        "work_phone",
    ),
    "sms-other-client-same-number": Recipients(
        [{"work_phone": PHONE, "mfa": "sms", "client": "other"}],
        {"work_phone": PHONE},
        {"mfa_method": "sms"},
    ),
    "sms-shared-number-mfa-off-both": Recipients([{"work_phone": PHONE}], {"work_phone": PHONE}),
    "sms-email-mfa-users-may-share-a-phone": Recipients(
        [{"work_phone": PHONE, "mfa": "email"}], {"work_phone": PHONE}, {"mfa_method": "email"}
    ),
}


@pytest.mark.parametrize("case", R4_TABLE.values(), ids=R4_TABLE.keys())
def test_r4_one_recipient_per_code(
    tenant: Client,
    tenant_factory: Callable[..., Client],
    user_factory: Callable[..., User],
    db_state: Callable[[], State],
    case: Recipients,
) -> None:
    second = tenant_factory("Second client")
    others = []
    for n, spec in enumerate(case.others):
        spec = dict(spec)
        client = second if spec.pop("client", None) == "other" else tenant
        others.append(user_factory(client=client, username=f"other{n}", **spec))
    subject_spec = {"username": "subject", **case.subject}

    def attempt() -> None:
        if case.attempt is None:
            user_factory(**subject_spec)
            return
        data = actions.UserInput.of(subject)
        for name, value in case.attempt.items():
            setattr(data, name, value)
        actions.update_user(subject, data, by=OPERATOR)

    if case.attempt is not None:
        subject = user_factory(**subject_spec)
    before = db_state()

    if case.refused is None:
        attempt()
        assert shared_recipients(tenant) == []
        return
    with pytest.raises(ValidationError) as caught:
        attempt()
    assert list(caught.value.message_dict) == [case.refused]
    message = " ".join(caught.value.message_dict[case.refused])
    assert "exactly one person" in message
    clashing = [u for u in others if u.client_id == tenant.pk and u.is_active]
    assert clashing
    for user in clashing:
        assert user.label in message  # names the clashing user: full name and user name
    assert db_state() == before


def test_r4_names_every_clashing_user(user_factory: Callable[..., User]) -> None:
    first = user_factory(username="first", email=SHARED)
    second = user_factory(username="second", email=SHARED.upper())
    subject = user_factory(username="subject", email=SHARED)
    with pytest.raises(ValidationError) as caught:
        actions.change_mfa_method(subject, "email", by=OPERATOR)
    message = caught.value.message_dict["email"][0]
    assert first.label in message and second.label in message
    assert subject.label not in message


# --- R5: template tags read the fields MFA uses --------------------------------------------


def _template(client: Client, name: str, channel: str, sender: str) -> Any:
    template, _ = actions.save_template(
        client,
        None,
        actions.TemplateInput(
            name=name,
            channel=channel,
            sender=sender,
            subject="Hello" if channel == "email" else "",
            body="Hello from {agent.name}",
        ),
        by=OPERATOR,
    )
    return template


@dataclass
class FormWarning:
    templates: list[tuple[str, str, str]]
    level: str
    mfa: str
    named: list[str]  # the templates the warning names; empty: no warning


CALLBACK = ("Callback", "sms", rules.WORKPHONE_TAG)
PROMO = ("Promo", "sms", "Northwind")
RECALL = ("Recall", "sms", rules.WORKPHONE_TAG)
FOLLOW_UP = ("Follow-up", "email", rules.EMAIL_TAG)
NEWSLETTER = ("Newsletter", "email", "news@northwind.example")

R5_FORM_TABLE = {
    "sms-agent-and-workphone-sender": FormWarning([CALLBACK, PROMO], "agent", "sms", ["Callback"]),
    "sms-agent-and-two-workphone-senders": FormWarning(
        [CALLBACK, RECALL, PROMO], "agent", "sms", ["Callback", "Recall"]
    ),
    "email-agent-and-agent-email-sender": FormWarning(
        [FOLLOW_UP, NEWSLETTER], "agent", "email", ["Follow-up"]
    ),
    "sms-agent-only-email-templates": FormWarning([FOLLOW_UP], "agent", "sms", []),
    "email-agent-only-sms-templates": FormWarning([CALLBACK], "agent", "email", []),
    "fixed-senders-only": FormWarning([PROMO, NEWSLETTER], "agent", "sms", []),
    "mfa-off": FormWarning([CALLBACK, FOLLOW_UP], "agent", "off", []),
    "manager-does-not-send-templates": FormWarning([CALLBACK], "manager", "sms", []),
}


@pytest.mark.parametrize("case", R5_FORM_TABLE.values(), ids=R5_FORM_TABLE.keys())
def test_r5_user_form_warning(tenant: Client, case: FormWarning) -> None:
    for spec in case.templates:
        _template(tenant, *spec)
    saved = actions.create_user(
        tenant,
        actions.UserInput(
            username="tag.agent",
            full_name="Tag Agent",
            level=case.level,
            email="tag.agent@example.com",
            work_phone="+358403334455",
            mfa_method=case.mfa,
        ),
        by=OPERATOR,
    )
    direct = rules.user_template_warnings(
        tenant, rules.UserState.of(saved.user), user_label=saved.user.label
    )
    assert saved.warnings == direct
    if not case.named:
        assert saved.warnings == []
        return
    assert len(saved.warnings) == 1
    warning = saved.warnings[0]
    assert "Tag Agent (tag.agent)" in warning
    for name in case.named:
        assert f"\u201c{name}\u201d" in warning
    for name, _, _ in case.templates:
        if name not in case.named:
            assert name not in warning
    assert ("Work phone" if case.mfa == "sms" else "Email") in warning


def test_r5_user_form_warns_on_edit_too(tenant: Client, user_factory: Callable[..., User]) -> None:
    _template(tenant, *CALLBACK)
    agent = user_factory("agent", full_name="Edit Agent")
    saved = actions.change_mfa_method(agent, "sms", by=OPERATOR)
    assert len(saved.warnings) == 1 and "\u201cCallback\u201d" in saved.warnings[0]
    assert agent.label in saved.warnings[0]


def test_r5_no_warning_on_a_legacy_client(legacy_tenant: Client) -> None:
    _template(legacy_tenant, *CALLBACK)
    state = rules.UserState(
        username="x",
        full_name="X",
        level="agent",
        is_active=True,
        email="x@example.com",
        work_phone="+358403334455",
        mfa_method="sms",
    )
    assert rules.user_template_warnings(legacy_tenant, state, user_label="X") == []


def test_r5_template_editor_names_the_agents(
    tenant: Client, tenant_factory: Callable[..., Client], user_factory: Callable[..., User]
) -> None:
    texters = [user_factory("agent", "sms", full_name=f"Texter {n}") for n in (1, 2)]
    emailer = user_factory("agent", "email", full_name="Emailer One")
    bystanders = [
        user_factory("agent", "sms", full_name="Gone Texter", active=False),
        user_factory("manager", "sms", full_name="Manager Texter"),
        user_factory("agent", "off", full_name="Quiet Agent"),
        user_factory("agent", "sms", full_name="Elsewhere Texter", client=tenant_factory()),
    ]
    callback = _template(tenant, *CALLBACK)
    _, warnings = actions.save_template(
        tenant,
        callback,
        actions.TemplateInput("Callback", "sms", rules.WORKPHONE_TAG, "", "Call {agent.name}"),
        by=OPERATOR,
    )
    assert warnings == rules.template_warnings(callback)
    assert len(warnings) == 1
    for texter in texters:
        assert texter.label in warnings[0]
    for other in [emailer, *bystanders]:
        assert other.full_name not in warnings[0]
    assert "Work phone" in warnings[0] and rules.WORKPHONE_TAG in warnings[0]

    follow_up = _template(tenant, *FOLLOW_UP)
    (email_warning,) = rules.template_warnings(follow_up)
    assert emailer.label in email_warning
    assert all(t.full_name not in email_warning for t in texters)

    assert rules.template_warnings(_template(tenant, *PROMO)) == []
    assert rules.template_warnings(_template(tenant, *NEWSLETTER)) == []


def test_r5_template_editor_counts_beyond_ten(
    tenant: Client, user_factory: Callable[..., User]
) -> None:
    for n in range(12):
        user_factory("agent", "sms", full_name=f"Texter {n:02d}")
    (warning,) = rules.template_warnings(_template(tenant, *CALLBACK))
    assert "Texter 00" in warning and "Texter 09" in warning
    assert "Texter 10" not in warning
    assert "and 2 more" in warning


def test_r5_template_editor_silent_on_a_legacy_client(legacy_tenant: Client) -> None:
    assert rules.template_warnings(_template(legacy_tenant, *CALLBACK)) == []


# --- template tags -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        ("Hi, this is {agent.name}.", "Hi, this is Tina Tag."),
        ("{agent.username} / {agent.email}", "tina.tag / tina@example.com"),
        ("Call me on {agent.workphone}", "Call me on +358 40 5556677"),
        ("{agent.name}{agent.name}", "Tina TagTina Tag"),
        ("Unknown {agent.shoe_size} stays", "Unknown {agent.shoe_size} stays"),
        ("No tags at all", "No tags at all"),
    ],
    ids=["name", "username-and-email", "workphone-grouped", "repeated", "unknown-tag", "no-tags"],
)
def test_template_tags_render_agent_fields(
    user_factory: Callable[..., User], text: str, rendered: str
) -> None:
    agent = user_factory(
        "agent",
        username="tina.tag",
        full_name="Tina Tag",
        email="tina@example.com",
        work_phone="+358405556677",
    )
    assert rules.render_template_text(text, agent) == rendered


@pytest.mark.parametrize(
    ("text", "unknown"),
    [
        ("Hello {agent.name}", []),
        ("Hello {agent.nmae}", ["{agent.nmae}"]),
        ("{customer.name} {agent.fax} {agent.email}", ["{agent.fax}", "{customer.name}"]),
    ],
    ids=["known", "misspelt", "two-unknown-one-known"],
)
def test_unknown_template_tags_named(text: str, unknown: list[str]) -> None:
    problems = rules.check_template_text(text, "The message")
    if not unknown:
        assert problems == []
        return
    (problem,) = problems
    assert problem.startswith("The message uses unknown tags " + ", ".join(unknown))
    assert "{agent.workphone}" in problem  # and lists the known ones


def test_save_template_refuses_unknown_tags(tenant: Client, db_state: Callable[[], State]) -> None:
    before = db_state()
    with pytest.raises(ValidationError) as caught:
        actions.save_template(
            tenant,
            None,
            actions.TemplateInput("Bad", "sms", "Northwind", "", "Hi {agent.phone}"),
            by=OPERATOR,
        )
    assert "{agent.phone}" in caught.value.message_dict["body"][0]
    assert db_state() == before


# --- the User list search ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("Sanna", ["sanna"]),
        ("sanna virtanen", ["sanna"]),
        ("  SANNA   VIRTANEN ", ["sanna"]),
        ("s.virtanen", ["sanna"]),
        ("virtanen@example", ["sanna", "ville"]),
        ("+358 40 765", ["sanna"]),
        ("040 765 4321", ["sanna"]),
        ("0407654321", ["sanna"]),
        ("358407654321", ["sanna"]),
        ("40 999", ["ville"]),
        ("virtanen", ["sanna", "ville"]),
        ("nobody", []),
    ],
    ids=[
        "first-name",
        "full-name",
        "case-and-spaces",
        "user-name",
        "email-part",
        "phone-international",
        "phone-national-grouped",
        "phone-national",
        "phone-digits",
        "phone-part",
        "shared-surname",
        "no-match",
    ],
)
def test_search_condition(
    tenant: Client,
    tenant_factory: Callable[..., Client],
    user_factory: Callable[..., User],
    query: str,
    found: list[str],
) -> None:
    user_factory(
        username="s.virtanen",
        full_name="Sanna Virtanen",
        email="sanna.virtanen@example.com",
        work_phone="+358407654321",
    )
    user_factory(
        username="v.virtanen",
        full_name="Ville Virtanen",
        email="ville.virtanen@example.com",
        work_phone="+358409998877",
    )
    # Another client's namesake never shows.
    user_factory(
        username="s.virtanen2",
        full_name="Sanna Virtanen",
        email="sanna.virtanen@example.com",
        work_phone="+358407654321",
        client=tenant_factory(),
    )
    matches = User.objects.filter(client=tenant).filter(rules.users_matching(tenant, query))
    names = sorted(u.full_name.split()[0].lower() for u in matches)
    assert names == sorted(found)
