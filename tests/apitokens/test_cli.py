"""The operator's commands: create-api-token prints one line token=..., list-api-tokens
shows hints only, revoke-api-token; a refusal exits non-zero with the rule's message."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from deskgate.accounts.audit import Via
from deskgate.accounts.models import AuditEvent, Client
from deskgate.apitokens import tokens
from deskgate.apitokens.models import ApiToken
from tests.accounts.test_cli import Run, run_cli
from tests.apitokens.conftest import READ, SCIM, bearer

# Django's command runner closes every connection when a command ends.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def deskgate(capsys: pytest.CaptureFixture[str]) -> Callable[..., Run]:
    def run(*args: str) -> Run:
        return run_cli(capsys, *args)

    return run


def test_create_prints_one_line_with_a_working_token(
    deskgate: Callable[..., Run], tenant: Client
) -> None:
    run = deskgate(
        "create-api-token", "--client", "northwind", "--name", "Entra ID", "--scope", "scim"
    )
    assert run.code == 0, run.err
    [line] = run.lines
    assert line.startswith("token=dgt_")
    secret = line.removeprefix("token=")
    token = ApiToken.objects.get()
    assert (token.client, token.name, token.scope, token.expires_at) == (
        tenant,
        "Entra ID",
        "scim",
        None,
    )
    assert token.created_by_label == "operator (command line)"
    use = tokens.authenticate(bearer(secret), door=Via.SCIM, needs=SCIM)
    assert use.client == tenant
    event = AuditEvent.objects.get(action="token.created")
    assert event.detail["via"] == "cli"
    assert secret not in str(event.detail) and secret not in run.err


def test_create_with_expiry(deskgate: Callable[..., Run], tenant: Client) -> None:
    run = deskgate(
        "create-api-token",
        *("--client", "Northwind", "--name", "Reports", "--scope", "read"),
        *("--expires-days", "30"),
    )
    assert run.code == 0, run.err
    token = ApiToken.objects.get()
    assert token.expires_at == token.created_at + timedelta(days=30)
    tokens.authenticate(bearer(run.out.strip().removeprefix("token=")), door=Via.API, needs=READ)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--name", "", "--scope", "scim"], "name: Give the token a name"),
        (["--name", "x" * 101, "--scope", "scim"], "name: Name can have at most 100 characters"),
        (
            ["--name", "Okta", "--scope", "scim", "--expires-days", "0"],
            "expires-days: Expiry is 1 to 3650 days, or none.",
        ),
        (
            ["--name", "Okta", "--scope", "scim", "--expires-days", "4000"],
            "expires-days: Expiry is 1 to 3650 days, or none.",
        ),
        (
            ["--name", "Taken", "--scope", "read"],
            "name: Northwind already has a token named Taken; choose another.",
        ),
    ],
)
def test_create_refused(
    deskgate: Callable[..., Run], tenant: Client, args: list[str], says: str
) -> None:
    assert (
        deskgate(
            "create-api-token", "--client", "Northwind", "--name", "Taken", "--scope", "scim"
        ).code
        == 0
    )
    run = deskgate("create-api-token", "--client", "Northwind", *args)
    assert run.code != 0
    assert run.out == ""  # no token printed
    assert "refused: " in run.err and says in run.err
    assert ApiToken.objects.count() == 1


def test_create_with_an_unknown_scope_exits_with_usage(
    deskgate: Callable[..., Run], tenant: Client
) -> None:
    run = deskgate("create-api-token", "--client", "Northwind", "--name", "X", "--scope", "admin")
    assert run.code != 0
    assert "invalid choice: 'admin'" in run.err
    assert not ApiToken.objects.exists()


def test_unknown_client(deskgate: Callable[..., Run], tenant: Client) -> None:
    for command in (
        ["create-api-token", "--name", "X", "--scope", "scim"],
        ["list-api-tokens"],
        ["revoke-api-token", "--name", "X"],
    ):
        run = deskgate(command[0], "--client", "Nowhere", *command[1:])
        assert run.code != 0
        assert "refused: there is no client named Nowhere." in run.err
    assert not ApiToken.objects.exists()


def test_list_shows_hints_and_state_never_the_token(
    deskgate: Callable[..., Run], tenant: Client, tenant_factory: Callable[..., Client]
) -> None:
    assert (
        "Northwind has no API tokens." in deskgate("list-api-tokens", "--client", "Northwind").out
    )
    made = deskgate(
        "create-api-token", "--client", "Northwind", "--name", "Entra ID", "--scope", "scim"
    )
    secret = made.out.strip().removeprefix("token=")
    tokens.authenticate(bearer(secret, ip="203.0.113.5"), door=Via.SCIM, needs=SCIM)
    other = tenant_factory("Contoso")
    deskgate("create-api-token", "--client", "Contoso", "--name", "Theirs", "--scope", "read")
    run = deskgate("list-api-tokens", "--client", "Northwind")
    assert run.code == 0, run.err
    [line] = run.lines
    pk, name, scope, status, hint, expires, last_used = line.split("\t")
    assert (name, scope, status, expires) == ("Entra ID", "scim", "Active", "expires=never")
    assert hint == secret[:10] + "\u2026"
    assert last_used.startswith("last_used=") and last_used.endswith(" UTC from 203.0.113.5")
    assert secret[10:] not in run.out
    assert "Theirs" not in run.out and other.name not in run.out


def test_revoke(deskgate: Callable[..., Run], tenant: Client) -> None:
    made = deskgate(
        "create-api-token", "--client", "Northwind", "--name", "Entra ID", "--scope", "scim"
    )
    secret = made.out.strip().removeprefix("token=")
    run = deskgate("revoke-api-token", "--client", "Northwind", "--name", "Entra ID")
    assert run.code == 0, run.err
    assert run.out.strip() == "Revoked Entra ID of Northwind."
    with pytest.raises(tokens.Refused, match="This API token was revoked."):
        tokens.authenticate(bearer(secret), door=Via.SCIM, needs=SCIM)
    event = AuditEvent.objects.get(action="token.revoked")
    assert event.detail["via"] == "cli"
    # Once revoked, the name is no live token's: a second revoke is refused.
    again = deskgate("revoke-api-token", "--client", "Northwind", "--name", "Entra ID")
    assert again.code != 0
    assert "refused: Northwind has no live token named Entra ID." in again.err
    assert "Revoked" in deskgate("list-api-tokens", "--client", "Northwind").out
