"""Checking a request's token: the header, the token's state, its scope, its maker's rights,
and the last use recorded. `authenticate` is called with requests made as programs send them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR, Actor, Via
from deskgate.accounts.models import AuditEvent, Client, User
from deskgate.apitokens import tokens
from deskgate.apitokens.models import ApiToken
from tests.apitokens.conftest import READ, SCIM, WRITE, bearer, request_with

pytestmark = pytest.mark.django_db

Issue = Callable[..., tokens.Issued]
Clock = Callable[[timedelta], datetime]


def refusal(request: object, needs: frozenset[str] = SCIM) -> tokens.Refused:
    with pytest.raises(tokens.Refused) as exc:
        tokens.authenticate(request, door=Via.SCIM, needs=needs)  # type: ignore[arg-type]
    return exc.value


def refusals() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="token.refused").order_by("id"))


def test_a_good_token_is_let_through(issue: Issue, tenant: Client) -> None:
    issued = issue("Entra ID", "scim")
    use = tokens.authenticate(bearer(issued.secret), door=Via.SCIM, needs=SCIM)
    assert use.token == issued.token
    assert use.client == tenant
    assert use.actor == Actor(
        ip="198.51.100.7",
        via=Via.SCIM,
        token="Entra ID",
        token_id=issued.token.pk,
        client_id=tenant.pk,
    )
    assert use.actor.label == "API token \u201cEntra ID\u201d"
    assert not refusals()


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer   ",
        "Basic dXNlcjpwYXNz",
        "Token dgt_abc",
        "dgt_abcdef",
    ],
)
def test_missing_header_or_wrong_scheme(issue: Issue, header: str | None) -> None:
    issue()
    refused = refusal(request_with(header))
    assert (refused.status, refused.error) == (401, "invalid_request")
    assert refused.reason == tokens.MISSING
    assert not refusals()


def test_the_scheme_is_case_insensitive(issue: Issue) -> None:
    issued = issue()
    tokens.authenticate(request_with(f"bearer {issued.secret}"), door=Via.SCIM, needs=SCIM)
    tokens.authenticate(request_with(f"BEARER  {issued.secret} "), door=Via.SCIM, needs=SCIM)


@pytest.mark.parametrize(
    "presented",
    ["dgt_" + "A" * 43, "nonsense", "\u00e9\u200b", "dgt_" + "A" * 5000],
)
def test_an_unknown_token(issue: Issue, presented: str) -> None:
    issued = issue()
    refused = refusal(bearer(presented))
    assert (refused.status, refused.error, refused.reason) == (
        401,
        "invalid_token",
        tokens.NOT_VALID,
    )
    # A token with a character more or less is unknown too.
    assert refusal(bearer(issued.secret[:-1])).reason == tokens.NOT_VALID
    assert refusal(bearer(issued.secret + "A")).reason == tokens.NOT_VALID
    assert not refusals()  # nothing to name in the trail: no token, no client


def test_a_revoked_token_is_refused_and_the_refusal_audited(issue: Issue) -> None:
    issued = issue()
    tokens.revoke(issued.token, by=OPERATOR)
    refused = refusal(bearer(issued.secret))
    assert (refused.status, refused.reason) == (401, "This API token was revoked.")
    [event] = refusals()
    assert event.detail["via"] == "scim" and event.detail["token"] == "Entra ID"
    assert event.detail["status"] == 401
    assert event.ip == "198.51.100.7"
    assert issued.secret not in str(event.detail) + event.summary


def test_a_refused_token_is_audited_once_a_minute_not_once_a_request(
    issue: Issue, clock: Clock
) -> None:
    clock(timedelta())
    issued = issue()
    tokens.revoke(issued.token, by=OPERATOR)
    for _ in range(50):
        assert refusal(bearer(issued.secret)).status == 401
    assert len(refusals()) == 1
    clock(timedelta(seconds=tokens.WINDOW))
    refusal(bearer(issued.secret))
    assert len(refusals()) == 2


def test_a_token_expires_to_the_second(issue: Issue, clock: Clock) -> None:
    clock(timedelta())
    issued = issue(expires_days=30)
    clock(timedelta(days=30) - timedelta(seconds=1))
    tokens.authenticate(bearer(issued.secret), door=Via.SCIM, needs=SCIM)
    clock(timedelta(seconds=1))
    refused = refusal(bearer(issued.secret))
    assert (refused.status, refused.reason) == (401, "This API token has expired.")
    assert issued.token.status == "Expired"
    assert [e.detail["status"] for e in refusals()] == [401]


def test_a_token_without_expiry_keeps_working(issue: Issue, clock: Clock) -> None:
    issued = issue(expires_days=None)
    clock(timedelta(days=3650 * 3))
    tokens.authenticate(bearer(issued.secret), door=Via.SCIM, needs=SCIM)


@pytest.mark.parametrize(
    ("scope", "needs", "passes"),
    [
        ("scim", SCIM, True),
        ("scim", READ, False),
        ("scim", WRITE, False),
        ("read", SCIM, False),
        ("read", READ, True),
        ("read", WRITE, False),
        ("write", SCIM, False),
        ("write", READ, True),
        ("write", WRITE, True),
    ],
)
def test_scopes(issue: Issue, scope: str, needs: frozenset[str], passes: bool) -> None:
    issued = issue(scope=scope)
    if passes:
        tokens.authenticate(bearer(issued.secret), door=Via.API, needs=needs)
        return
    refused = refusal(bearer(issued.secret), needs)
    assert (refused.status, refused.error) == (403, "insufficient_scope")
    assert refused.reason.startswith(f"This token's scope is {issued.token.get_scope_display()}")
    [event] = refusals()
    assert (event.detail["status"], event.detail["scope"]) == (403, scope)
    issued.token.refresh_from_db()
    assert issued.token.last_used_at is None  # refused requests are no use


MAKER_GONE = (
    "The admin who created this token (Anna Admin (anna.admin)) is no longer an active admin "
    "of Northwind; an admin can create a new token."
)


@pytest.fixture
def second_admin(user_factory: Callable[..., User]) -> User:
    """Another admin, so that the client keeps one when the maker goes."""
    return user_factory("admin", username="bo.admin", full_name="Bo Admin")


@pytest.mark.parametrize("change", ["demoted", "deactivated", "deleted"])
def test_a_token_never_outlives_its_makers_rights(
    issue: Issue, admin_user: User, second_admin: User, change: str
) -> None:
    issued = issue()
    tokens.authenticate(bearer(issued.secret), door=Via.SCIM, needs=SCIM)
    if change == "demoted":
        data = actions.UserInput.of(admin_user)
        data.level = "manager"
        actions.update_user(admin_user, data, by=OPERATOR)
    elif change == "deactivated":
        actions.set_user_active(admin_user, False, by=OPERATOR)
    else:
        actions.delete_user(admin_user, by=OPERATOR)
    refused = refusal(bearer(issued.secret))
    assert (refused.status, refused.reason) == (401, MAKER_GONE)
    # Rights given back (a demotion undone) bring the token back: it was never revoked.
    if change == "demoted":
        data = actions.UserInput.of(admin_user)
        data.level = "admin"
        actions.update_user(admin_user, data, by=OPERATOR)
        tokens.authenticate(bearer(issued.secret), door=Via.SCIM, needs=SCIM)


def test_an_operators_token_keeps_working(
    operator_token: tokens.Issued, admin_user: User, second_admin: User
) -> None:
    # Every admin of the client may come and go: the operator's token does not depend on them.
    actions.set_user_active(admin_user, False, by=OPERATOR)
    use = tokens.authenticate(bearer(operator_token.secret), door=Via.SCIM, needs=SCIM)
    assert use.token == operator_token.token


def test_the_last_use_is_recorded(issue: Issue, clock: Clock) -> None:
    issued = issue()
    now = clock(timedelta(minutes=5))
    tokens.authenticate(bearer(issued.secret, ip="203.0.113.5"), door=Via.SCIM, needs=SCIM)
    stored = ApiToken.objects.get(pk=issued.token.pk)
    assert (stored.last_used_at, stored.last_used_ip) == (now, "203.0.113.5")
    later = clock(timedelta(hours=1))
    tokens.authenticate(bearer(issued.secret, ip="2001:db8::1"), door=Via.SCIM, needs=SCIM)
    stored.refresh_from_db()
    assert (stored.last_used_at, stored.last_used_ip) == (later, "2001:db8::1")


def test_a_forwarded_for_header_does_not_decide_the_address(issue: Issue) -> None:
    issued = issue()
    request = bearer(issued.secret, ip="198.51.100.7")
    request.META["HTTP_X_FORWARDED_FOR"] = "10.9.9.9"
    tokens.authenticate(request, door=Via.SCIM, needs=SCIM)
    assert ApiToken.objects.get(pk=issued.token.pk).last_used_ip == "198.51.100.7"


def test_one_indexed_read_and_one_update_per_request(
    issue: Issue, django_assert_num_queries: Callable[..., object]
) -> None:
    issued = issue()
    request = bearer(issued.secret)
    with django_assert_num_queries(2):  # type: ignore[attr-defined]
        tokens.authenticate(request, door=Via.SCIM, needs=SCIM)
