"""Issuing and revoking tokens: the rules, who may, what is kept (a hash and a hint only)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms.models import model_to_dict

from deskgate.accounts.audit import OPERATOR, Actor, Via
from deskgate.accounts.models import AuditEvent, Client, User
from deskgate.apitokens import tokens
from deskgate.apitokens.models import ApiToken

pytestmark = pytest.mark.django_db

Issue = Callable[..., tokens.Issued]


def refused(exc: pytest.ExceptionInfo[ValidationError]) -> dict[str, list[str]]:
    return exc.value.message_dict


def test_an_admin_issues_a_token(issue: Issue, tenant: Client, admin_user: User) -> None:
    issued = issue("Entra ID provisioning", "scim", 90)
    token = issued.token
    assert issued.secret.startswith("dgt_") and len(issued.secret) == 4 + 43
    assert (token.client, token.name, token.scope) == (tenant, "Entra ID provisioning", "scim")
    assert token.created_by == admin_user
    assert token.created_by_label == "Anna Admin (anna.admin)"
    assert token.expires_at == token.created_at + timedelta(days=90)
    assert token.status == "Active"
    assert token.last_used_at is None and token.revoked_at is None


def test_the_operator_issues_a_token_that_never_expires(tenant: Client) -> None:
    issued = tokens.issue(tenant, name="Okta", scope="read", expires_days=None, by=OPERATOR)
    assert issued.token.created_by is None
    assert issued.token.created_by_label == "operator (command line)"
    assert issued.token.expires_at is None


def test_only_the_digest_and_the_hint_are_kept(issue: Issue) -> None:
    issued = issue()
    stored = ApiToken.objects.get(pk=issued.token.pk)
    assert stored.digest == hashlib.sha256(issued.secret.encode()).hexdigest()
    assert stored.hint == issued.secret[:10] and issued.secret.startswith(stored.hint)
    # No column holds the secret or any part of it past the hint.
    tail = issued.secret[10:]
    for name, value in model_to_dict(stored).items():
        assert tail[:8] not in str(value), name
    assert tokens.digest_of(issued.secret) == stored.digest


def test_each_token_is_new(issue: Issue) -> None:
    secrets = {issue(f"Token {n}").secret for n in range(20)}
    assert len(secrets) == 20
    assert len({s[:10] for s in secrets}) == 20  # 36 random bits in the hint: no repeats here


def test_creation_is_audited_without_the_secret(issue: Issue, tenant: Client) -> None:
    issued = issue("Entra ID", "scim", 30)
    event = AuditEvent.objects.get(action="token.created")
    assert event.client == tenant
    assert event.actor_label == "Anna Admin (anna.admin)"
    assert event.ip == "192.0.2.1"
    assert event.summary == "API token Entra ID created (SCIM provisioning)"
    assert event.detail["token"] == "Entra ID"
    assert event.detail["token_id"] == issued.token.pk
    assert event.detail["scope"] == "scim"
    assert issued.secret not in str(event.detail) + event.summary
    assert issued.secret[10:20] not in str(event.detail)


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("", "Give the token a name, such as Entra ID provisioning."),
        ("   \t ", "Give the token a name, such as Entra ID provisioning."),
        ("x" * 101, "Name can have at most 100 characters (it has 101)."),
        ("Entra\u200bID", "Name"),  # an invisible character is refused, not removed
        ("Entra\x00ID", "Name"),
    ],
)
def test_name_rules(issue: Issue, name: str, says: str) -> None:
    with pytest.raises(ValidationError) as exc:
        issue(name)
    assert says in " ".join(refused(exc)["name"])
    assert not ApiToken.objects.exists()
    assert not AuditEvent.objects.filter(action="token.created").exists()


def test_a_name_is_kept_with_its_spaces_made_one(issue: Issue) -> None:
    assert issue("  Entra \t ID \n").token.name == "Entra ID"
    assert issue("x" * 100).token.name == "x" * 100


def test_a_name_is_taken_among_live_tokens_only(issue: Issue, other_tenant: Client) -> None:
    first = issue("Entra ID")
    with pytest.raises(ValidationError) as exc:
        issue("Entra ID", "read")
    assert refused(exc) == {
        "name": ["Northwind already has a token named Entra ID; choose another."]
    }
    # Another client may use the name; a revoked token frees it.
    issue("Entra ID", client=other_tenant, by=OPERATOR)
    tokens.revoke(first.token, by=OPERATOR)
    again = issue("Entra ID")
    assert again.token.pk != first.token.pk
    assert ApiToken.objects.filter(name="Entra ID").count() == 3


def test_an_expired_token_still_holds_its_name_until_revoked(
    issue: Issue, clock: Callable[[timedelta], object]
) -> None:
    old = issue("Entra ID", expires_days=1)
    clock(timedelta(days=2))
    assert old.token.status == "Expired"
    with pytest.raises(ValidationError):
        issue("Entra ID")
    tokens.revoke(old.token, by=OPERATOR)
    assert issue("Entra ID").token.status == "Active"


@pytest.mark.parametrize("scope", ["", "admin", "SCIM", "read write", "scim "])
def test_scope_must_be_one_of_three(issue: Issue, scope: str) -> None:
    with pytest.raises(ValidationError) as exc:
        issue(scope=scope)
    assert refused(exc) == {"scope": ["Choose a scope: scim, read, write."]}
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize("days", [0, -1, 3651, 10**9])
def test_expiry_bounds_refused(issue: Issue, days: int) -> None:
    with pytest.raises(ValidationError) as exc:
        issue(expires_days=days)
    assert refused(exc) == {"expires_days": ["Expiry is 1 to 3650 days, or none."]}
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize("days", [1, 30, 90, 365, 3650])
def test_expiry_bounds_allowed(issue: Issue, days: int) -> None:
    token = issue(expires_days=days).token
    assert token.expires_at == token.created_at + timedelta(days=days)


def test_every_refusal_is_named_at_once(issue: Issue) -> None:
    with pytest.raises(ValidationError) as exc:
        issue("", "nope", 0)
    assert set(refused(exc)) == {"name", "scope", "expires_days"}


@pytest.mark.parametrize("level", ["manager", "team_leader", "agent"])
def test_only_admins_issue(issue: Issue, user_factory: Callable[..., User], level: str) -> None:
    person = user_factory(level)
    with pytest.raises(PermissionDenied, match="Only an admin can change the company's settings."):
        issue(by=Actor(user=person))
    assert not ApiToken.objects.exists()


def test_an_inactive_admin_does_not_issue(issue: Issue, user_factory: Callable[..., User]) -> None:
    user_factory("admin", username="other.admin")  # the client keeps an active admin
    gone = user_factory("admin", username="gone.admin", active=False)
    with pytest.raises(PermissionDenied):
        issue(by=Actor(user=gone))


def test_another_clients_admin_does_not_issue(
    issue: Issue, other_tenant: Client, user_factory: Callable[..., User]
) -> None:
    stranger = user_factory("admin", client=other_tenant, username="contoso.admin")
    with pytest.raises(PermissionDenied, match="You can only manage users of your own company."):
        issue(by=Actor(user=stranger))
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize(
    "actor",
    [
        Actor(via=Via.API, token="Reports", token_id=1),
        Actor(via=Via.SCIM, token="Entra ID", token_id=1),
        Actor(via=Via.WEB),  # "system": nobody in particular
    ],
    ids=["api-token", "scim-token", "system"],
)
def test_a_program_or_nobody_cannot_issue_or_revoke(
    issue: Issue, tenant: Client, actor: Actor
) -> None:
    """A token that could mint tokens would outlive its maker's rights and every revocation."""
    kept = issue("Kept")
    with pytest.raises(PermissionDenied, match="created and revoked by the company's admins"):
        issue("Minted", by=Actor(**{**actor.__dict__, "client_id": tenant.pk}))
    with pytest.raises(PermissionDenied):
        tokens.revoke(kept.token, by=actor)
    assert list(ApiToken.objects.values_list("name", "revoked_at")) == [("Kept", None)]


# --- revoke ---------------------------------------------------------------------------------


def test_revoke_once_and_audited(issue: Issue, admin_user: User) -> None:
    issued = issue("Entra ID")
    by = Actor(user=admin_user, ip="192.0.2.9")
    assert tokens.revoke(issued.token, by=by) is True
    assert issued.token.status == "Revoked"
    assert issued.token.revoked_by_label == "Anna Admin (anna.admin)"
    assert tokens.revoke(issued.token, by=by) is False  # already: nothing more happens
    event = AuditEvent.objects.get(action="token.revoked")
    assert (event.summary, event.ip) == ("API token Entra ID revoked", "192.0.2.9")
    assert event.detail["token_id"] == issued.token.pk


def test_the_operator_revokes(issue: Issue) -> None:
    issued = issue()
    assert tokens.revoke(issued.token, by=OPERATOR)
    issued.token.refresh_from_db()
    assert issued.token.revoked_by_label == "operator (command line)"


def test_a_manager_and_another_clients_admin_cannot_revoke(
    issue: Issue, user_factory: Callable[..., User], other_tenant: Client
) -> None:
    issued = issue()
    manager = user_factory("manager")
    stranger = user_factory("admin", client=other_tenant, username="contoso.admin")
    for person in (manager, stranger):
        with pytest.raises(PermissionDenied):
            tokens.revoke(issued.token, by=Actor(user=person))
    issued.token.refresh_from_db()
    assert issued.token.revoked_at is None
    assert not AuditEvent.objects.filter(action="token.revoked").exists()


def test_get_token_answers_404_for_another_clients_id(
    issue: Issue, other_tenant: Client, tenant: Client
) -> None:
    from django.http import Http404

    mine = issue()
    theirs = issue("Theirs", client=other_tenant, by=OPERATOR)
    assert tokens.get_token(tenant, mine.token.pk) == mine.token
    for wrong in (theirs.token.pk, 10**6, "x", "", 10**30):
        with pytest.raises(Http404, match="No such token."):
            tokens.get_token(tenant, wrong)
