"""The operator's commands for apps: register-app, list-apps, remove-app."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError
from django.db import connections
from oauth2_provider.models import AccessToken, Application, RefreshToken

from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import AuditEvent
from deskgate.provider import registry
from deskgate.provider.models import AppProfile
from tests.accounts.test_cli import Run, run_cli
from tests.conftest import signed_in_client
from tests.provider.conftest import REDIRECT_URI, App, issuer
from tests.provider.test_codes import refused

pytestmark = pytest.mark.django_db


@pytest.fixture
def deskgate(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Run]:
    """Run `deskgate ARGS...` in this process, as the console script does.

    Django's command runner closes every connection when a command ends (the process is
    about to exit); here the test's transaction must survive it, so that one call is
    left out. tests/accounts/test_cli.py commits instead, at about three seconds a test
    for emptying the tables on PostgreSQL.
    """
    monkeypatch.setattr(connections, "close_all", lambda: None)

    def run(*args: str) -> Run:
        return run_cli(capsys, *args)

    return run


def test_register_app_prints_the_issuer_the_client_id_and_the_secret_once(
    deskgate: Callable[..., Run], agent
) -> None:
    run = deskgate("register-app", "--name", "Agent desktop", "--redirect-uri", REDIRECT_URI)
    assert run.code == 0, run.err
    assert [line.split("=", 1)[0] for line in run.lines] == ["issuer", "client_id", "client_secret"]
    values = dict(line.split("=", 1) for line in run.lines)
    assert values["issuer"] == issuer()
    stored = Application.objects.get(name="Agent desktop")
    assert stored.client_id == values["client_id"]
    assert stored.client_type == Application.CLIENT_CONFIDENTIAL
    assert stored.client_secret != values["client_secret"]  # kept as a hash
    assert check_password(values["client_secret"], stored.client_secret)
    # Salted SHA-256 in Django's format, not the users' argon2id (provider/hashers.py).
    assert stored.client_secret.startswith("deskgate_client_secret$1$")
    assert stored.skip_authorization  # first-party: no consent page
    event = AuditEvent.objects.get(action="app.registered")
    assert event.detail == {"app": "Agent desktop", "client_id": stored.client_id, "via": "cli"}
    assert values["client_secret"] not in str(event.detail) + event.summary

    # What it printed is all an app needs to sign someone in.
    app = App(values["client_id"], values["client_secret"])
    assert app.metadata["issuer"] == values["issuer"]
    assert app.sign_in(signed_in_client(agent))["access_token"]


def test_register_app_public_prints_no_secret(deskgate: Callable[..., Run]) -> None:
    run = deskgate(
        "register-app", "--name", "Wallboard", "--redirect-uri", REDIRECT_URI, "--public"
    )
    assert run.code == 0, run.err
    assert [line.split("=", 1)[0] for line in run.lines] == ["issuer", "client_id"]
    assert Application.objects.get(name="Wallboard").client_type == Application.CLIENT_PUBLIC


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--name", "Reports"], "--redirect-uri"),
        (
            ["--name", "Reports", "--redirect-uri", "http://reports.example.com/cb"],
            "must use https (plain http only on this machine",
        ),
        (
            ["--name", "Reports", "--redirect-uri", "https://reports.example.com/cb#top"],
            "must not have a #fragment",
        ),
        (
            ["--name", "Reports", "--redirect-uri", REDIRECT_URI, "--client", "Southwind"],
            "There is no client named Southwind.",
        ),
        (
            [
                "--name",
                "Reports",
                "--redirect-uri",
                REDIRECT_URI,
                "--backchannel-logout-uri",
                "http://reports.example.com/logout",
            ],
            "backchannel-logout-uri: 'http://reports.example.com/logout' must use https",
        ),
        (["--name", "agent DESKTOP", "--redirect-uri", REDIRECT_URI], "is registered already"),
    ],
    ids=[
        "no-redirect-uri",
        "http-not-loopback",
        "fragment",
        "unknown-client",
        "http-logout",
        "same-name",
    ],
)
def test_register_app_refuses_with_the_reason_and_saves_nothing(
    deskgate: Callable[..., Run], args: list[str], words: str
) -> None:
    assert (
        deskgate("register-app", "--name", "Agent desktop", "--redirect-uri", REDIRECT_URI).code
        == 0
    )
    apps, events = Application.objects.count(), AuditEvent.objects.count()

    run = deskgate("register-app", *args)

    assert run.code != 0
    assert words in run.err
    assert run.out == ""  # no half-made credentials
    assert Application.objects.count() == apps and AppProfile.objects.count() == apps
    assert AuditEvent.objects.count() == events


def test_the_action_refuses_an_app_without_a_redirect_uri() -> None:
    with pytest.raises(ValidationError) as caught:
        registry.register_app(registry.AppInput(name="Reports", redirect_uris=[]), by=OPERATOR)
    assert caught.value.message_dict == {"redirect_uri": ["Give at least one redirect URI."]}
    assert not Application.objects.exists()


def test_list_apps_shows_each_app_with_whom_it_is_open_to(
    deskgate: Callable[..., Run], tenant
) -> None:
    assert deskgate("list-apps").lines == ["No apps are registered."]
    deskgate("register-app", "--name", "Agent desktop", "--redirect-uri", REDIRECT_URI)
    deskgate(
        "register-app",
        "--name",
        "Wallboard",
        "--redirect-uri",
        "https://wallboard.example.com/cb",
        "--public",
        "--client",
        "Northwind",
        "--backchannel-logout-uri",
        "https://wallboard.example.com/logout",
    )
    run = deskgate("list-apps")
    assert run.code == 0
    desktop, wallboard = run.lines
    desktop_id = Application.objects.get(name="Agent desktop").client_id
    wallboard_id = Application.objects.get(name="Wallboard").client_id
    assert desktop.split("\t") == [
        "Agent desktop",
        f"client_id={desktop_id}",
        "confidential",
        "clients=all",
        f"redirect_uris={REDIRECT_URI}",
    ]
    assert wallboard.split("\t") == [
        "Wallboard",
        f"client_id={wallboard_id}",
        "public",
        "clients=Northwind",
        "redirect_uris=https://wallboard.example.com/cb",
        "backchannel_logout_uri=https://wallboard.example.com/logout",
    ]


def test_remove_app_removes_it_and_its_tokens_stop_working(
    deskgate: Callable[..., Run], register, agent
) -> None:
    app = register("Agent desktop")
    token = app.sign_in(signed_in_client(agent))
    assert app.userinfo(token["access_token"]).status_code == 200

    run = deskgate("remove-app", "agent desktop")

    assert run.code == 0 and run.lines == ["App Agent desktop removed."]
    assert not Application.objects.filter(client_id=app.client_id).exists()
    assert not AccessToken.objects.exists() and not RefreshToken.objects.exists()
    assert app.userinfo(token["access_token"]).status_code == 401
    assert refused(app.refresh, token["refresh_token"]) == "invalid_client"
    event = AuditEvent.objects.get(action="app.removed")
    assert event.detail == {"app": "Agent desktop", "client_id": app.client_id, "via": "cli"}
    assert "Agent desktop" not in deskgate("list-apps").out


def test_remove_app_by_client_id_and_refusal_for_an_unknown_app(
    deskgate: Callable[..., Run], register
) -> None:
    app = register("Agent desktop")
    unknown = deskgate("remove-app", "Reports")
    assert unknown.code != 0 and "there is no app with client_id or name Reports" in unknown.err
    assert deskgate("remove-app", app.client_id).code == 0
    assert not Application.objects.exists()
