"""Deskgate's configuration: every environment variable, read and checked in one place.

`load()` turns the environment into a typed `Config`; a malformed value raises
`ConfigError` naming the variable, so start-up stops with a message an operator can act on.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("DESKGATE_VAR_DIR", BASE_DIR / "var"))


class ConfigError(Exception):
    """A configuration variable has a value Deskgate cannot use."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


@dataclass(frozen=True)
class DatabaseConfig:
    engine: str  # "sqlite" or "postgresql"
    name: str
    user: str = ""
    password: str = ""
    host: str = ""
    port: str = ""


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    user: str
    password: str
    use_tls: bool  # STARTTLS
    use_ssl: bool  # implicit TLS


@dataclass(frozen=True)
class KannelConfig:
    host: str
    port: int
    user: str
    password: str
    sender: str
    use_https: bool


@dataclass(frozen=True)
class Config:
    port: int
    database: DatabaseConfig
    cache_url: str | None
    email: SmtpConfig | None  # None: the development outbox keeps messages
    sms: KannelConfig | None  # None: the development outbox keeps messages
    secret_key: str
    demo: bool
    debug: bool
    hosts: tuple[str, ...]
    base_url: str
    secure_cookies: bool
    password_hash_memory_kib: int
    password_hash_time_cost: int
    password_hash_parallelism: int
    code_cap_user: int
    code_cap_client: int
    code_cap_platform: int
    signin_budget_ip: int
    signin_budget_network: int
    signin_budget_window: int
    # Requests one API token may make per minute (REST API and SCIM together).
    api_rate_limit: int = 1200
    # SSO: plain http to a provider on loopback (development and tests only), and hosts
    # besides the issuer's own that may serve a provider's endpoints.
    sso_allow_http_loopback: bool = False
    sso_endpoint_hosts: tuple[str, ...] = ()
    # DNS servers asked for SSO domain verification records; empty: the system's resolver.
    dns_servers: tuple[tuple[str, int], ...] = ()
    # A MaxMind-format database (GeoLite2/GeoIP2 City or Country) naming the place of an
    # address on the sessions pages; "": places are not looked up.
    geoip_db: str = ""

    @property
    def uses_outbox(self) -> bool:
        return self.email is None or self.sms is None


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(name, f"expected 1/0, true/false, yes/no or on/off, got {raw!r}")


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(name, f"expected a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(name, f"must be between {low} and {high}, got {value}")
    return value


def _without_password(raw: str) -> str:
    """The URL as given, its password masked: start-up messages end up in logs."""
    scheme, sep, rest = raw.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in userinfo:
        return raw
    return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{host}"


def _split(name: str, raw: str, schemes: set[str]) -> SplitResult:
    try:
        parts = urlsplit(raw)
        _ = parts.port  # raises ValueError on a bad port
    except ValueError:
        # urlsplit's own words may quote part of the password: not repeated here.
        raise ConfigError(
            name,
            f"cannot read {_without_password(raw)!r} as a URL: check the port, and "
            "percent-encode / ? # @ : in the user name and password",
        ) from None
    if parts.scheme not in schemes:
        allowed = ", ".join(sorted(f"{s}://" for s in schemes))
        raise ConfigError(name, f"unsupported scheme {parts.scheme!r}; use one of {allowed}")
    return parts


def parse_database_url(raw: str | None, name: str = "DATABASE_URL") -> DatabaseConfig:
    if not raw:
        return DatabaseConfig(engine="sqlite", name=str(VAR_DIR / "deskgate.sqlite3"))
    parts = _split(name, raw, {"sqlite", "postgres", "postgresql"})
    if parts.scheme == "sqlite":
        # sqlite:///relative/path or sqlite:////absolute/path: all after the third slash.
        path = unquote(raw[len("sqlite:///") :]) if raw.startswith("sqlite:///") else ""
        if not path:
            raise ConfigError(name, "a SQLite URL needs a file path, e.g. sqlite:///var/db.sqlite3")
        return DatabaseConfig(engine="sqlite", name=path)
    db_name = unquote(parts.path.lstrip("/"))
    if not db_name:
        raise ConfigError(name, "a PostgreSQL URL needs a database name after the host")
    return DatabaseConfig(
        engine="postgresql",
        name=db_name,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        host=parts.hostname or "",
        port=str(parts.port or ""),
    )


def parse_cache_url(raw: str | None, name: str = "CACHE_URL") -> str | None:
    if not raw:
        return None
    parts = _split(name, raw, {"redis", "rediss"})
    if not parts.hostname:
        raise ConfigError(name, "a Redis URL needs a host, e.g. redis://127.0.0.1:6379/0")
    return raw


def parse_email_url(raw: str | None, name: str = "EMAIL_URL") -> SmtpConfig | None:
    if not raw:
        return None
    parts = _split(name, raw, {"smtp", "smtp+tls", "smtps"})
    if not parts.hostname:
        raise ConfigError(name, "an SMTP URL needs a host, e.g. smtp://user:pass@mail:587")
    default_port = {"smtp": 25, "smtp+tls": 587, "smtps": 465}[parts.scheme]
    return SmtpConfig(
        host=parts.hostname,
        port=parts.port or default_port,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        use_tls=parts.scheme == "smtp+tls",
        use_ssl=parts.scheme == "smtps",
    )


def parse_sms_url(raw: str | None, name: str = "SMS_URL") -> KannelConfig | None:
    if not raw:
        return None
    parts = _split(name, raw, {"kannel", "kannel+https"})
    if not parts.hostname:
        raise ConfigError(name, "a Kannel URL needs a host, e.g. kannel://user:pass@host:13013")
    if not parts.username or not parts.password:
        raise ConfigError(name, "Kannel's sendsms interface needs a user and a password")
    query = parse_qs(parts.query)
    sender = query.get("from", ["Deskgate"])[0]
    return KannelConfig(
        host=parts.hostname,
        port=parts.port or 13013,
        user=unquote(parts.username),
        password=unquote(parts.password),
        sender=sender,
        use_https=parts.scheme == "kannel+https",
    )


def _hosts(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated list of host names, lower-cased."""
    hosts = tuple(h.strip().lower() for h in env.get(name, "").split(",") if h.strip())
    for host in hosts:
        if not all(part and part.replace("-", "").isalnum() for part in host.split(".")):
            raise ConfigError(
                name,
                f"expected host names like login.example.com separated by commas, got {host!r}",
            )
    return hosts


def _dns_servers(env: Mapping[str, str], name: str) -> tuple[tuple[str, int], ...]:
    """Comma-separated IP addresses, each with an optional :port (IPv6 in brackets)."""
    servers = []
    for item in (i.strip() for i in env.get(name, "").split(",")):
        if not item:
            continue
        host, port = item, "53"
        if item.startswith("["):
            host, _, rest = item[1:].partition("]")
            port = rest.removeprefix(":") or "53"
        elif item.count(":") == 1:
            host, port = item.split(":")
        address = ""
        try:
            address = str(ipaddress.ip_address(host))
            number = int(port)
        except ValueError:
            number = 0
        if not 0 < number < 65536:
            raise ConfigError(
                name, f"expected IP addresses like 192.0.2.53 or 127.0.0.1:5353, got {item!r}"
            )
        servers.append((address, number))
    return tuple(servers)


def _secret_key(env: Mapping[str, str]) -> str:
    raw = env.get("SECRET_KEY")
    if raw:
        if len(raw) < 32:
            raise ConfigError("SECRET_KEY", "must be at least 32 characters long")
        return raw
    # A laptop run: keep a generated key under var/ so sessions survive restarts.
    path = VAR_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    path.write_text(key)
    path.chmod(0o600)
    return key


def load(env: Mapping[str, str] | None = None) -> Config:
    """Read Deskgate's configuration from the environment (or the mapping given)."""
    env = os.environ if env is None else env
    hosts = tuple(
        h.strip() for h in env.get("DESKGATE_HOSTS", "127.0.0.1,localhost").split(",") if h.strip()
    )
    if not hosts:
        raise ConfigError("DESKGATE_HOSTS", "name at least one host name")
    port = _int(env, "PORT", 8000, 1, 65535)
    base_url = env.get("DESKGATE_BASE_URL") or f"http://127.0.0.1:{port}"
    try:
        base = urlsplit(base_url)
        host = base.hostname
    except ValueError:
        host = None
    if host is None or base.scheme not in {"http", "https"} or base.path not in {"", "/"}:
        raise ConfigError(
            "DESKGATE_BASE_URL",
            f"expected the site's address like https://deskgate.example.com, got {base_url!r}",
        )
    return Config(
        port=port,
        base_url=base_url.rstrip("/"),
        database=parse_database_url(env.get("DATABASE_URL")),
        cache_url=parse_cache_url(env.get("CACHE_URL")),
        email=parse_email_url(env.get("EMAIL_URL")),
        sms=parse_sms_url(env.get("SMS_URL")),
        secret_key=_secret_key(env),
        demo=_flag(env, "DESKGATE_DEMO", False),
        debug=_flag(env, "DESKGATE_DEBUG", False),
        hosts=hosts,
        secure_cookies=_flag(env, "DESKGATE_SECURE_COOKIES", True),
        # OWASP's minimum for argon2id: 19 MiB, 2 passes, 1 lane.
        password_hash_memory_kib=_int(env, "DESKGATE_HASH_MEMORY_KIB", 19456, 8192, 4194304),
        password_hash_time_cost=_int(env, "DESKGATE_HASH_TIME_COST", 2, 1, 20),
        password_hash_parallelism=_int(env, "DESKGATE_HASH_PARALLELISM", 1, 1, 16),
        # Codes sent per hour: one user, one client, the whole platform (SMS costs money).
        code_cap_user=_int(env, "DESKGATE_CODE_CAP_USER", 10, 1, 1000),
        code_cap_client=_int(env, "DESKGATE_CODE_CAP_CLIENT", 5000, 1, 10_000_000),
        code_cap_platform=_int(env, "DESKGATE_CODE_CAP_PLATFORM", 50000, 1, 100_000_000),
        **_signin_budget(env),
        api_rate_limit=_int(env, "DESKGATE_API_RATE_LIMIT", 1200, 1, 10_000_000),
        sso_allow_http_loopback=_flag(env, "DESKGATE_SSO_ALLOW_HTTP_LOOPBACK", False),
        sso_endpoint_hosts=_hosts(env, "DESKGATE_SSO_ENDPOINT_HOSTS"),
        dns_servers=_dns_servers(env, "DESKGATE_DNS_SERVERS"),
        geoip_db=_existing_file(env, "DESKGATE_GEOIP_DB"),
    )


def _existing_file(env: Mapping[str, str], name: str) -> str:
    """The path of a file that is there now ("" when the variable is unset or empty)."""
    raw = env.get(name, "").strip()
    if raw and not Path(raw).is_file():
        raise ConfigError(name, f"no such file: {raw!r}")
    return raw


def _signin_budget(env: Mapping[str, str]) -> dict[str, int]:
    """Password attempts the sign-in page hashes per address and per network (/24, /56)
    in a window of seconds; a sign-in whose password is right gives its attempt back."""
    ip = _int(env, "DESKGATE_SIGNIN_BUDGET_IP", 30, 1, 10_000_000)
    network = _int(env, "DESKGATE_SIGNIN_BUDGET_NETWORK", 300, 1, 100_000_000)
    if network < ip:
        raise ConfigError(
            "DESKGATE_SIGNIN_BUDGET_NETWORK",
            f"must be at least DESKGATE_SIGNIN_BUDGET_IP ({ip}): an address is part of its "
            f"network, got {network}",
        )
    return {
        "signin_budget_ip": ip,
        "signin_budget_network": network,
        "signin_budget_window": _int(env, "DESKGATE_SIGNIN_BUDGET_WINDOW", 300, 10, 86_400),
    }
