"""Signing keys: rotation keeps tokens verifiable for the grace period; bad keys are named.

Settings read the key ring once at start-up; a test stands in for the restart after a
rotation by loading the ring again into OAUTH2_PROVIDER (and DOT's cached settings).
"""

from __future__ import annotations

import io
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.core.management import call_command
from django.core.management.base import CommandError
from joserfc import jws
from joserfc.errors import InvalidKeyIdError
from oauth2_provider.settings import oauth2_settings

from deskgate.conf import ConfigError
from deskgate.provider import keys
from tests.provider.conftest import App


@pytest.fixture
def key_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "oidc-keys"
    monkeypatch.setenv("DESKGATE_OIDC_KEY_DIR", str(folder))
    monkeypatch.delenv("DESKGATE_OIDC_SIGNING_KEY", raising=False)
    monkeypatch.delenv("DESKGATE_OIDC_RETIRED_KEYS", raising=False)
    monkeypatch.setenv("DESKGATE_OIDC_KEY_GRACE_HOURS", "1")
    return folder


def restart_with(settings: Any, ring: keys.KeyRing) -> None:
    """What a restart of every node does after a rotation: read the key ring again."""
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "OIDC_RSA_PRIVATE_KEY": ring.current,
        "OIDC_RSA_PRIVATE_KEYS_INACTIVE": list(ring.retired),
    }
    oauth2_settings.reload()


def kid_of(id_token: str) -> str:
    return str(jws.extract_compact(id_token.encode()).protected["kid"])


def rotate() -> str:
    out = io.StringIO()
    call_command("rotate_signing_key", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("kid=")
    return lines[0].removeprefix("kid=")


def test_a_token_signed_before_a_rotation_verifies_until_the_grace_period_ends(
    app: App, browser, settings, key_dir: Path
) -> None:
    restart_with(settings, keys.load())
    before = app.sign_in(browser)
    old_kid = kid_of(before["id_token"])

    new_kid = rotate()
    assert new_kid != old_kid
    assert len(list(key_dir.glob("retired-*.pem"))) == 1
    restart_with(settings, keys.load())

    assert {key.kid for key in app.jwks().keys} == {old_kid, new_kid}
    assert app.verify(before["id_token"])["sub"]  # the old key is still published
    after = app.sign_in(browser)
    assert kid_of(after["id_token"]) == new_kid
    assert app.verify(after["id_token"])["sub"]
    refreshed = app.refresh(before["refresh_token"])  # tokens from before keep working
    assert kid_of(refreshed["id_token"]) == new_kid

    # An hour and a bit later (DESKGATE_OIDC_KEY_GRACE_HOURS=1) the old key is gone.
    restart_with(settings, keys.load(now=time.time() + 3601))
    assert {key.kid for key in app.jwks().keys} == {new_kid}
    with pytest.raises(InvalidKeyIdError):
        app.verify(before["id_token"])
    assert app.verify(after["id_token"])["sub"]


def test_a_rotation_deletes_keys_past_their_grace_period(key_dir: Path) -> None:
    first = keys.load()
    now = time.time()
    second = keys.rotate(now=now)
    assert second.retired == (first.current,)
    third = keys.rotate(now=now + 60)
    assert third.retired == (second.current, first.current)  # newest first
    fourth = keys.rotate(now=now + 3630)  # the first retired key is past the hour
    assert fourth.retired == (third.current, second.current)
    assert len(list(key_dir.glob("retired-*.pem"))) == 2
    assert keys.rotate(now=now + 3630 + 3700).retired == (fourth.current,)
    assert len(list(key_dir.glob("retired-*.pem"))) == 1
    for path in key_dir.iterdir():
        assert path.stat().st_mode & 0o077 == 0, path  # private keys: owner only


def pem(key: Any) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


BROKEN = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n"


@pytest.mark.parametrize(
    ("env", "variable", "words"),
    [
        ({"DESKGATE_OIDC_SIGNING_KEY": BROKEN}, "DESKGATE_OIDC_SIGNING_KEY", "PEM private key"),
        (
            {"DESKGATE_OIDC_SIGNING_KEY": "a password, not a key"},
            "DESKGATE_OIDC_SIGNING_KEY",
            "PEM private key",
        ),
        (
            {"DESKGATE_OIDC_SIGNING_KEY": "EC"},
            "DESKGATE_OIDC_SIGNING_KEY",
            "RSA key of at least 2048 bits",
        ),
        (
            {"DESKGATE_OIDC_SIGNING_KEY": "RSA1024"},
            "DESKGATE_OIDC_SIGNING_KEY",
            "RSA key of at least 2048 bits",
        ),
        (
            {"DESKGATE_OIDC_SIGNING_KEY": "GOOD", "DESKGATE_OIDC_RETIRED_KEYS": BROKEN},
            "DESKGATE_OIDC_RETIRED_KEYS",
            "PEM private key",
        ),
        ({"DESKGATE_OIDC_KEY_GRACE_HOURS": "a day"}, "DESKGATE_OIDC_KEY_GRACE_HOURS", "hours"),
        ({"DESKGATE_OIDC_KEY_GRACE_HOURS": "0"}, "DESKGATE_OIDC_KEY_GRACE_HOURS", "between"),
    ],
)
def test_a_key_deskgate_cannot_use_is_named_with_its_variable(
    env: dict[str, str], variable: str, words: str, tmp_path: Path
) -> None:
    made = {
        "EC": pem(ec.generate_private_key(ec.SECP256R1())),
        # A weak key on purpose: Deskgate must refuse it.
        "RSA1024": pem(rsa.generate_private_key(public_exponent=65537, key_size=1024)),  # noqa: S505
        "GOOD": keys.new_key_pem(),
    }
    env = {name: made.get(value, value) for name, value in env.items()}
    env["DESKGATE_OIDC_KEY_DIR"] = str(tmp_path)
    with pytest.raises(ConfigError) as caught:
        keys.load(env)
    assert caught.value.variable == variable
    assert str(caught.value).startswith(f"{variable}: ") and words in str(caught.value)


def test_a_bad_signing_key_stops_deskgate_at_start_with_the_variables_name(
    tmp_path: Path,
) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "DESKGATE_OIDC_SIGNING_KEY": BROKEN,
        "DESKGATE_VAR_DIR": str(tmp_path),
    }
    result = subprocess.run(  # noqa: S603  # our own interpreter and module
        [sys.executable, "-m", "deskgate.cli", "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "Deskgate cannot start: DESKGATE_OIDC_SIGNING_KEY" in result.stderr
    assert "bm90IGEga2V5" not in result.stderr + result.stdout  # the secret is not echoed


def test_rotating_a_key_that_comes_from_a_variable_is_refused(monkeypatch, key_dir) -> None:
    monkeypatch.setenv("DESKGATE_OIDC_SIGNING_KEY", keys.new_key_pem())
    with pytest.raises(CommandError, match="refused: DESKGATE_OIDC_SIGNING_KEY"):
        call_command("rotate_signing_key")
    assert not key_dir.exists()
