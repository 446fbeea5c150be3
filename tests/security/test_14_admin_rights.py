"""14. Admin rights: what a stolen admin or manager session can do to its own account.

Holding only the session cookie of a signed-in admin, an attacker must not be able to take
the account over: the Email, Work phone, MFA method and password are changed on the
user's own pages, which ask for the current password and confirm a new address or number
by code. The admin form on one's own user (POST /users/<own id>/) and bulk MFA on oneself
used to skip both; now they show those fields read-only and the action layer refuses a
self-change of them through the admin path.
"""

from __future__ import annotations

import html
import re
import uuid

import pytest

from deskgate.accounts.models import AuditEvent, Level, User
from tests.security.conftest import full_sign_in, visible_text

pytestmark = pytest.mark.django_db(transaction=True)

NEW_PASSWORD = "attacker chose this one 42"
_INPUT = re.compile(r"<input\b([^>]*)>", re.S)


def form_fields(page_html: str) -> dict[str, str]:
    """What a browser would submit for the form's enabled inputs and selects."""
    found: dict[str, str] = {}
    for attrs in _INPUT.findall(page_html):
        name = re.search(r'name="([^"]+)"', attrs)
        if not name or " disabled" in attrs or name.group(1) == "csrfmiddlewaretoken":
            continue
        value = re.search(r'value="([^"]*)"', attrs)
        found[name.group(1)] = html.unescape(value.group(1)) if value else ""
    for attrs, body in re.findall(r"<select\b([^>]*)>(.*?)</select>", page_html, re.S):
        name = re.search(r'name="([^"]+)"', attrs)
        if not name or " disabled" in attrs:
            continue
        chosen = re.search(r'<option value="([^"]*)"[^>]*selected', body)
        found[name.group(1)] = chosen.group(1) if chosen else ""
    return found


def account_of(user: User) -> tuple[object, ...]:
    user.refresh_from_db()
    return (user.email, user.work_phone, user.mfa_method, user.password, user.is_active)


@pytest.fixture(params=[Level.ADMIN, Level.MANAGER])
def victim(request, user_factory) -> User:
    user_factory("admin", full_name="Another Admin", username="another.admin")
    return user_factory(
        request.param,
        "email",
        username=f"victim.{request.param}",
        full_name="Victim Person",
        email="victim@northwind.example",
        work_phone="+358401234567",
    )


@pytest.mark.parametrize(
    "change",
    [
        {"email": "attacker@evil.example", "mfa_method": "email"},
        {"work_phone": "+358409999999", "mfa_method": "sms"},
        {"mfa_method": "off"},
        {"password": NEW_PASSWORD},
        {
            "email": "attacker@evil.example",
            "work_phone": "+358409999999",
            "mfa_method": "off",
            "password": NEW_PASSWORD,
        },
    ],
    ids=["email", "work-phone", "mfa-off", "password", "everything"],
)
def test_a_stolen_session_cannot_take_over_through_the_own_user_form(
    browser, victim: User, change: dict[str, str]
) -> None:
    signed_in = full_sign_in(browser(), victim)
    attacker = signed_in.with_session(signed_in.session_key)
    page = attacker.get(f"/users/{victim.pk}/")
    assert page.status_code == 200
    before = account_of(victim)

    # What the page lets a browser submit: the fields are not editable there at all...
    editable = form_fields(page.text)
    for name in ("email", "work_phone", "mfa_method", "password"):
        assert name not in editable, f"{name} is editable on one's own user page"
    text = visible_text(page)
    assert "/account/contact/" in page.text and "/signin/password/" in page.text, text

    # ...and a hand-made POST with them is not obeyed.
    forged = editable | {"full_name": "Victim Person", **change}
    attacker.post(f"/users/{victim.pk}/", forged, csrf=attacker.csrf_token(f"/users/{victim.pk}/"))
    assert account_of(victim) == before
    assert not AuditEvent.objects.filter(
        subject=victim, action__in=["user.contact_changed", "user.mfa_changed", "user.password_set"]
    ).exists()


def test_a_stolen_session_cannot_switch_off_its_own_mfa_in_bulk(browser, victim: User) -> None:
    signed_in = full_sign_in(browser(), victim)
    attacker = signed_in.with_session(signed_in.session_key)
    before = account_of(victim)
    response = attacker.post(
        "/users/bulk/",
        [
            ("key", str(uuid.uuid4())),
            ("method", "off"),
            ("scope", "selected"),
            ("users", str(victim.pk)),
        ],
        form="/users/",
    )
    if victim.level == Level.MANAGER:  # managers change no one's MFA (the permission table)
        assert response.status_code == 403
        assert "Only an admin can change MFA settings" in visible_text(response)
    else:
        assert response.status_code == 200
        assert "Change your own MFA method through another admin" in visible_text(response)
    scope = f"level:{victim.level}"
    attacker.post(
        "/users/bulk/",
        [("key", str(uuid.uuid4())), ("method", "off"), ("scope", scope)],
        form="/users/",
    )
    assert account_of(victim) == before


def test_the_action_layer_refuses_the_admin_path_on_oneself(user_factory) -> None:
    """No page, command or future API reaches these through the admin actions."""
    from django.core.exceptions import ValidationError

    from deskgate.accounts import actions
    from deskgate.accounts.audit import Actor

    user_factory("admin", full_name="Another Admin", username="another.admin")
    me = user_factory("admin", "email", email="me@northwind.example")
    by = Actor(user=me)
    before = account_of(me)
    for field, value in (
        ("email", "attacker@evil.example"),
        ("work_phone", "+358409999999"),
        ("mfa_method", "off"),
    ):
        data = actions.UserInput.of(me)
        setattr(data, field, value)
        with pytest.raises(ValidationError) as refused:
            actions.update_user(me, data, by=by)
        assert field in refused.value.message_dict
    with pytest.raises(ValidationError, match="own password"):
        actions.set_password(me, NEW_PASSWORD, by=by, temporary=True)
    with pytest.raises(ValidationError, match="own MFA"):
        actions.change_mfa_method(me, "off", by=by)
    assert account_of(me) == before


# --- SSO finds people by Email: a manager must not make an admin's sign-in ambiguous -----


@pytest.fixture
def sso_client(tenant):
    from deskgate.sso.models import ProviderConfig

    ProviderConfig.objects.create(
        client=tenant,
        issuer="https://idp.northwind.example",
        oidc_client_id="deskgate",
        secret_encrypted="not used here",
        mandatory=False,  # the manager signs in with a password here; the rule is the same
    )
    return tenant


def test_a_manager_cannot_lock_an_admin_out_of_sso(browser, sso_client, user_factory) -> None:
    admin = user_factory(
        "admin", username="anna.admin", full_name="Anna Admin", email="anna@n.example"
    )
    manager = user_factory("manager", username="mikko.manager", email="mikko@n.example")
    spare = user_factory("agent", username="spare.agent", email="spare@n.example")
    dormant = user_factory("agent", username="dormant.agent", email="ANNA@n.example", active=False)
    m = full_sign_in(browser(), manager)
    says = "anna@n.example is already the Email of Anna Admin (anna.admin)"
    users_before = list(User.objects.order_by("pk").values())

    # Create an agent with the admin's address (any case).
    page = m.get("/users/create/")
    form = form_fields(page.text) | {
        "username": "evil.twin",
        "full_name": "Evil Twin",
        "level": "agent",
        "employment": "active",
        "email": "Anna@N.example",
        "mfa_method": "off",
    }
    response = m.post("/users/create/", form)
    assert response.status_code == 200
    # As typed (the domain in lower case, as stored), naming whose address it is.
    assert "Anna@n.example is already the Email of Anna Admin (anna.admin)" in visible_text(
        response
    )

    # Edit an agent's Email to it.
    page = m.get(f"/users/{spare.pk}/")
    response = m.post(f"/users/{spare.pk}/", form_fields(page.text) | {"email": "anna@n.example"})
    assert response.status_code == 200 and says in visible_text(response)

    # Make active an agent who already has it.
    page = m.get(f"/users/{dormant.pk}/")
    response = m.post(f"/users/{dormant.pk}/", form_fields(page.text) | {"employment": "active"})
    assert response.status_code == 200
    assert "ANNA@n.example is already the Email of Anna Admin (anna.admin)" in visible_text(
        response
    )
    assert list(User.objects.order_by("pk").values()) == users_before
    assert admin.is_active


def test_sso_email_clash_is_refused_at_the_command_line(sso_client, user_factory, monkeypatch):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    user_factory("admin", username="anna.admin", full_name="Anna Admin", email="anna@n.example")
    monkeypatch.setenv("DESKGATE_PASSWORD", "a temporary passphrase for now")
    with pytest.raises(CommandError, match="already the Email of Anna Admin"):
        call_command(
            "create_user",
            "--client=Northwind",
            "--username=evil.twin",
            "--full-name=Evil Twin",
            "--level=agent",
            "--email=anna@n.example",
        )
    assert not User.objects.filter(username="evil.twin").exists()


def test_duplicates_from_before_sso_do_not_block_other_edits(tenant, user_factory) -> None:
    """SSO set up where two users already share an address: configuring does not fail, and
    their other fields can still be edited; the shared address cannot spread further."""
    from django.core.exceptions import ValidationError

    from deskgate.accounts import actions
    from deskgate.accounts.audit import OPERATOR
    from deskgate.sso.models import ProviderConfig

    kalle = user_factory("agent", username="kalle.agent", email="shared@n.example")
    user_factory("agent", username="liisa.agent", email="shared@n.example")
    ProviderConfig.objects.create(
        client=tenant, issuer="https://idp.example", oidc_client_id="x", secret_encrypted="x"
    )
    data = actions.UserInput.of(kalle)
    data.full_name = "Kalle Renamed"
    actions.update_user(kalle, data, by=OPERATOR)
    with pytest.raises(ValidationError, match="already the Email of"):
        actions.create_user(
            tenant,
            actions.UserInput(username="third.one", full_name="Third", email="shared@n.example"),
            by=OPERATOR,
        )
    data.email = "kalle@n.example"
    actions.update_user(kalle, data, by=OPERATOR)  # the way out: an address of one's own
