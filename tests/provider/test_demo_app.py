"""The demo's app, the Agent desktop: `make run` registers it once and writes its
credentials where `make app-demo` reads them (issue 12)."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.hashers import check_password
from oauth2_provider.models import Application

from deskgate.accounts import demo as accounts_demo
from deskgate.accounts.models import AuditEvent
from deskgate.provider import demo
from deskgate.provider.models import AppProfile

pytestmark = pytest.mark.django_db


def saved(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def test_registered_once_with_its_uris_and_a_secret_only_its_owner_reads(tmp_path: Path) -> None:
    path = tmp_path / "agent-desktop.json"
    lines = demo.load(path)
    first = saved(path)
    demo.load(path)

    assert saved(path) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    app = Application.objects.get(name="Agent desktop")
    assert first["client_id"] == app.client_id
    assert first["url"] == "http://127.0.0.1:8001"
    assert check_password(first["client_secret"], app.client_secret)  # stored hashed
    assert app.client_type == Application.CLIENT_CONFIDENTIAL
    assert app.skip_authorization  # first-party: no consent page
    assert app.redirect_uris == "http://127.0.0.1:8001/callback"
    assert app.post_logout_redirect_uris == "http://127.0.0.1:8001/"
    profile = AppProfile.objects.get(application=app)
    assert profile.backchannel_logout_uri == "http://127.0.0.1:8001/backchannel-logout"
    assert not profile.clients.exists()  # open to every client
    assert AuditEvent.objects.filter(action="app.registered").count() == 1
    assert "Agent desktop" in lines[0]


def test_a_lost_or_wrong_file_registers_the_app_anew(tmp_path: Path) -> None:
    path = tmp_path / "agent-desktop.json"
    demo.load(path)
    before = saved(path)

    path.write_text(json.dumps({**before, "client_secret": "not the secret"}))
    path.chmod(0o644)
    demo.load(path)
    after = saved(path)
    assert after["client_id"] != before["client_id"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert list(Application.objects.values_list("client_id", flat=True)) == [after["client_id"]]

    path.unlink()
    demo.load(path)
    assert saved(path)["client_id"] != after["client_id"]
    assert Application.objects.count() == 1


def test_another_issuer_keeps_the_app_and_rewrites_the_file(tmp_path: Path, settings: Any) -> None:
    path = tmp_path / "agent-desktop.json"
    demo.load(path)
    before = saved(path)
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "OIDC_ISS_ENDPOINT": "http://127.0.0.1:9000",
    }

    demo.load(path)

    assert saved(path) == {**before, "issuer": "http://127.0.0.1:9000"}
    assert Application.objects.count() == 1


def test_load_demo_registers_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The default file is var/agent-desktop.json; this test writes its own.
    monkeypatch.setattr(demo, "CREDENTIALS_FILE", tmp_path / "agent-desktop.json")
    lines = accounts_demo.load()
    assert any(line.startswith("Demo app: Agent desktop") for line in lines)
    assert saved(tmp_path / "agent-desktop.json")["client_id"] == (
        Application.objects.get(name="Agent desktop").client_id
    )
