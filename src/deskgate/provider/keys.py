"""The provider's signing keys (RS256): the current one signs, retired ones stay published.

Read at start-up by settings.py, so nothing here imports Django models. Two sources:

- DESKGATE_OIDC_SIGNING_KEY: the current key as PEM text (production secrets store); the
  keys it replaced, if any, in DESKGATE_OIDC_RETIRED_KEYS (PEM blocks one after another).
- otherwise the key folder (DESKGATE_OIDC_KEY_DIR, default var/oidc-keys): `current.pem`
  and `retired-<unix time>.pem`, created on first start for development as SECRET_KEY is.
  `deskgate rotate-signing-key` writes a new `current.pem` and retires the old one; a
  retired key stays in the JWKS for the grace period (DESKGATE_OIDC_KEY_GRACE_HOURS,
  default 24), so tokens it signed stay verifiable. Every node reads the same folder or
  variables; restart them after a rotation.

Each key's `kid` is its RFC 7638 thumbprint (what django-oauth-toolkit puts in the header).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from deskgate.conf import VAR_DIR, ConfigError

CURRENT = "current.pem"
RETIRED = re.compile(r"^retired-(\d+)\.pem$")
PEM_BLOCK = re.compile(
    r"-----BEGIN (?:RSA )?PRIVATE KEY-----.+?-----END (?:RSA )?PRIVATE KEY-----", re.S
)
DEFAULT_GRACE_HOURS = 24


@dataclass(frozen=True)
class KeyRing:
    current: str  # PEM
    retired: tuple[str, ...]  # PEM, newest first, within the grace period
    folder: Path | None  # None: the keys come from variables


def new_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _checked(pem: str, variable: str) -> str:
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(variable, "is not an unencrypted PEM private key") from exc
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 2048:
        raise ConfigError(variable, "must be an RSA key of at least 2048 bits (RS256)")
    return pem.strip() + "\n"


def grace_seconds(env: Mapping[str, str]) -> int:
    raw = env.get("DESKGATE_OIDC_KEY_GRACE_HOURS", str(DEFAULT_GRACE_HOURS))
    try:
        hours = int(raw)
    except ValueError as exc:
        raise ConfigError("DESKGATE_OIDC_KEY_GRACE_HOURS", f"expected hours, got {raw!r}") from exc
    if not 1 <= hours <= 24 * 90:
        raise ConfigError("DESKGATE_OIDC_KEY_GRACE_HOURS", "must be between 1 and 2160 hours")
    return hours * 3600


def folder(env: Mapping[str, str]) -> Path:
    return Path(env.get("DESKGATE_OIDC_KEY_DIR") or VAR_DIR / "oidc-keys")


def load(env: Mapping[str, str] | None = None, *, now: float | None = None) -> KeyRing:
    env = os.environ if env is None else env
    now = time.time() if now is None else now
    pem = env.get("DESKGATE_OIDC_SIGNING_KEY", "")
    if pem:
        retired = tuple(
            _checked(block, "DESKGATE_OIDC_RETIRED_KEYS")
            for block in PEM_BLOCK.findall(env.get("DESKGATE_OIDC_RETIRED_KEYS", ""))
        )
        return KeyRing(_checked(pem, "DESKGATE_OIDC_SIGNING_KEY"), retired, None)
    where = folder(env)
    current = where / CURRENT
    if not current.exists():
        where.mkdir(parents=True, exist_ok=True)
        where.chmod(0o700)
        _write(current, new_key_pem())
    grace = grace_seconds(env)
    retired_files = sorted(
        (int(m.group(1)), path)
        for path in where.iterdir()
        if (m := RETIRED.match(path.name)) is not None
    )
    retired = tuple(
        _checked(path.read_text(), str(path))
        for at, path in reversed(retired_files)
        if now - at <= grace
    )
    return KeyRing(_checked(current.read_text(), str(current)), retired, where)


def rotate(env: Mapping[str, str] | None = None, *, now: float | None = None) -> KeyRing:
    """Make a new current key; the old one retires (published for the grace period).
    Retired keys past their grace period are deleted."""
    env = os.environ if env is None else env
    now = time.time() if now is None else now
    if env.get("DESKGATE_OIDC_SIGNING_KEY"):
        raise ConfigError(
            "DESKGATE_OIDC_SIGNING_KEY",
            "the signing key comes from this variable: rotate it where it is kept (put the "
            "new key here and the old one in DESKGATE_OIDC_RETIRED_KEYS), then restart",
        )
    ring = load(env, now=now)
    where = folder(env)
    grace = grace_seconds(env)
    for path in where.iterdir():
        m = RETIRED.match(path.name)
        if m is not None and now - int(m.group(1)) > grace:
            path.unlink()
    _write(where / f"retired-{int(now)}.pem", ring.current)
    _write(where / CURRENT, new_key_pem())
    return load(env, now=now)


def _write(path: Path, pem: str) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(pem)
    temporary.chmod(0o600)
    temporary.replace(path)
