"""MFA coverage (issue 15): one table for "what protects this user, or why nothing does",
and a client's coverage in a bounded number of queries whatever the number of users."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import Client, User
from deskgate.signin import coverage
from deskgate.signin.coverage import Facts, Gap, Protection
from deskgate.sso.models import ProviderConfig
from tests.authenticator import enrol
from tests.softkey import enrol_key

E, S, A, P, SSO = (
    Protection.EMAIL,
    Protection.SMS,
    Protection.APP,
    Protection.PASSKEY,
    Protection.SSO,
)
MAIL, PHONE = "a@example.com", "+358401234567"

ROWS: list[tuple[str, dict[str, Any], tuple[Protection, ...], Gap | None]] = [
    ("email", {"method": "email", "email": MAIL}, (E,), None),
    ("sms", {"method": "sms", "work_phone": PHONE}, (S,), None),
    ("off", {"method": "off"}, (), Gap.OFF),
    ("off with an app", {"method": "off", "has_app": True}, (A,), None),
    ("off with a key", {"method": "off", "has_passkey": True}, (P,), None),
    ("app beside sms", {"method": "sms", "work_phone": PHONE, "has_app": True}, (A, S), None),
    ("email, no address", {"method": "email"}, (), Gap.NO_DESTINATION),
    ("sms, no number", {"method": "sms"}, (), Gap.NO_DESTINATION),
    ("email shared", {"method": "email", "email": MAIL, "email_shared": True}, (), Gap.SHARED),
    ("sms shared", {"method": "sms", "work_phone": PHONE, "phone_shared": True}, (), Gap.SHARED),
    # SMS reads only the Work phone: a shared Email does not matter to it.
    ("sms, email shared", {"method": "sms", "work_phone": PHONE, "email_shared": True}, (S,), None),
    ("landline", {"method": "sms", "work_phone": PHONE, "mobile": False}, (), Gap.LANDLINE),
    (
        "landline and shared",
        {"method": "sms", "work_phone": PHONE, "mobile": False, "phone_shared": True},
        (),
        Gap.LANDLINE,  # a mobile number of their own is the one fix
    ),
    ("country", {"method": "sms", "work_phone": PHONE, "sms_allowed": False}, (), Gap.COUNTRY),
    (
        "shared, app",
        {"method": "email", "email": MAIL, "email_shared": True, "has_app": True},
        (A,),
        None,
    ),
    ("mandatory sso", {"method": "off", "sso_mandatory": True}, (SSO,), None),
    ("sso and email", {"method": "email", "email": MAIL, "sso_mandatory": True}, (SSO, E), None),
    ("11.x", {"supports_mfa": False, "method": "off"}, (), Gap.RELEASE),
    # Before 25.x nothing asks for a factor, whatever is stored (R1).
    ("11.x, app", {"supports_mfa": False, "method": "email", "has_app": True}, (), Gap.RELEASE),
    ("11.x, sso", {"supports_mfa": False, "method": "off", "sso_mandatory": True}, (SSO,), None),
]


@pytest.mark.parametrize(
    ("facts", "protections", "gap"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS]
)
def test_assess(
    facts: dict[str, Any], protections: tuple[Protection, ...], gap: Gap | None
) -> None:
    assert coverage.assess(Facts(**{"supports_mfa": True, **facts})) == (protections, gap)


def _legacy(user: User, **fields: str) -> None:
    """Data saved before a rule existed (an import, an old release of phonenumbers' data):
    the rules refuse to write it today, so the test writes the row itself."""
    User.objects.filter(pk=user.pk).update(**fields)


@pytest.fixture
def crowd(user_factory: Callable[..., User], tenant: Client) -> dict[str, User]:
    """One active user for each way of being covered or not, and two who do not count."""
    made = {
        "admin": user_factory("admin", "email", username="ada.admin"),
        "manager": user_factory("manager", "sms", username="max.manager"),
        "off": user_factory("agent", username="olli.off"),
        "app": user_factory("agent", "email", username="aino.app"),
        "key": user_factory("team_leader", "sms", username="pia.key"),
        "shared": user_factory("agent", "email", username="kalle.shared"),
        "holder": user_factory("agent", username="liisa.holder"),
        "landline": user_factory("agent", "sms", username="lasse.landline"),
        "inactive": user_factory("agent", active=False, username="ilse.inactive"),
    }
    enrol(made["app"])
    enrol_key(made["key"])
    _legacy(made["holder"], email=made["shared"].email.upper())
    _legacy(made["landline"], work_phone="+35891234567")  # a Helsinki landline
    return made


def test_coverage_of_a_client(crowd: dict[str, User], tenant: Client, user_factory) -> None:
    user_factory("agent", client=actions.create_client("Elsewhere", "25.4", by=OPERATOR))
    found = coverage.coverage_of(tenant)
    by_name = {e.username: e for e in found.entries}
    assert set(by_name) == {u.username for k, u in crowd.items() if k != "inactive"}
    assert by_name["ada.admin"].protections == (E,)
    assert by_name["aino.app"].protections == (A, E)
    assert by_name["pia.key"].protections == (P, S)
    assert by_name["olli.off"].gap == Gap.OFF
    assert by_name["liisa.holder"].gap == Gap.OFF  # her own method is Off
    shared = by_name["kalle.shared"]
    assert (shared.gap, shared.shared_with) == (Gap.SHARED, (crowd["holder"].label,))
    assert by_name["lasse.landline"].gap == Gap.LANDLINE
    # Masked as everywhere: never a full number or address.
    assert by_name["max.manager"].destination.startswith("+358 ••")
    assert by_name["ada.admin"].destination.startswith("a••••@")
    # Admins first.
    assert found.entries[0].username == "ada.admin"
    levels = {lc.level: lc for lc in found.levels}
    assert (levels["agent"].active, levels["agent"].protected) == (5, 1)
    assert levels["agent"].by_gap == {Gap.OFF: 2, Gap.SHARED: 1, Gap.LANDLINE: 1}
    assert levels["team_leader"].by_protection == {P: 1, S: 1}
    assert (found.total.active, found.total.protected, found.total.unprotected) == (8, 4, 4)


def test_a_country_left_out_of_the_sms_countries(crowd: dict[str, User], tenant: Client) -> None:
    actions.update_client_settings(
        tenant,
        by=OPERATOR,
        password_reset_enabled=False,
        remember_device_enabled=True,
        sms_countries="SE",
    )
    found = coverage.coverage_of(Client.objects.get(pk=tenant.pk))
    by_name = {e.username: e for e in found.entries}
    assert by_name["max.manager"].gap == Gap.COUNTRY
    assert by_name["pia.key"].protections == (P,)  # her key still protects her


def test_mandatory_sso_and_release_11(
    tenant: Client, legacy_tenant: Client, user_factory: Callable[..., User]
) -> None:
    old = user_factory("agent", client=legacy_tenant, username="leo.legacy")
    assert [(e.username, e.gap) for e in coverage.coverage_of(legacy_tenant).entries] == [
        (old.username, Gap.RELEASE)
    ]
    user_factory("agent", username="sso.agent")
    ProviderConfig.objects.create(
        client=tenant, issuer="https://idp.example", oidc_client_id="x", mandatory=True
    )
    found = coverage.coverage_of(Client.objects.get(pk=tenant.pk))
    assert [(e.username, e.protections) for e in found.entries] == [("sso.agent", (SSO,))]


def test_queries_do_not_grow_with_the_users(
    tenant: Client, user_factory: Callable[..., User], django_assert_max_num_queries: Any
) -> None:
    counts = []
    for n, method in ((3, "email"), (40, "sms")):
        for _ in range(n):
            enrol_key(user_factory("agent", method))
        fresh = Client.objects.get(pk=tenant.pk)
        with django_assert_max_num_queries(2) as captured:
            found = coverage.coverage_of(fresh)
        counts.append(len(captured))
    assert counts[0] == counts[1]
    assert found.total.by_protection == {P: 43, E: 3, S: 40}
