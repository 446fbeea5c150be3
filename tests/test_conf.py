"""Configuration from the environment: every variable's default, the accepted forms, and a
ConfigError naming the variable for every malformed value."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from deskgate import conf

KEY = "k" * 40


def load(**env: str) -> conf.Config:
    return conf.load({"SECRET_KEY": KEY, **env})


def test_defaults() -> None:
    config = load()
    assert config.port == 8000
    assert config.database == conf.DatabaseConfig(
        engine="sqlite", name=str(conf.VAR_DIR / "deskgate.sqlite3")
    )
    assert config.cache_url is None
    assert config.email is None and config.sms is None and config.uses_outbox
    assert config.secret_key == KEY
    assert config.demo is False and config.debug is False
    assert config.hosts == ("127.0.0.1", "localhost")
    assert config.base_url == "http://127.0.0.1:8000"
    assert config.secure_cookies is True
    assert (
        config.password_hash_memory_kib,
        config.password_hash_time_cost,
        config.password_hash_parallelism,
    ) == (19456, 2, 1)
    assert (config.code_cap_user, config.code_cap_client, config.code_cap_platform) == (
        10,
        5000,
        50000,
    )


def test_empty_values_mean_the_default() -> None:
    empty = {
        name: ""
        for name in (
            "PORT",
            "DATABASE_URL",
            "CACHE_URL",
            "EMAIL_URL",
            "SMS_URL",
            "DESKGATE_DEMO",
            "DESKGATE_DEBUG",
            "DESKGATE_SECURE_COOKIES",
            "DESKGATE_BASE_URL",
        )
    }
    assert load(**empty) == load()


def test_port_sets_the_default_base_url() -> None:
    config = load(PORT="8080")
    assert config.port == 8080
    assert config.base_url == "http://127.0.0.1:8080"
    assert load(PORT="8080", DESKGATE_BASE_URL="https://desk.example.com/").base_url == (
        "https://desk.example.com"
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///var/db.sqlite3", conf.DatabaseConfig("sqlite", "var/db.sqlite3")),
        (
            "sqlite:////srv/deskgate/db.sqlite3",
            conf.DatabaseConfig("sqlite", "/srv/deskgate/db.sqlite3"),
        ),
        (
            "postgres://postgres@127.0.0.1:5432/deskgate",
            conf.DatabaseConfig("postgresql", "deskgate", "postgres", "", "127.0.0.1", "5432"),
        ),
        (
            "postgresql://desk:p%40ss%2Fword@db.example.com/desk%20gate",
            conf.DatabaseConfig(
                "postgresql", "desk gate", "desk", "p@ss/word", "db.example.com", ""
            ),
        ),
    ],
    ids=["sqlite-relative", "sqlite-absolute", "postgres-trust", "postgresql-escaped"],
)
def test_database_url_forms(url: str, expected: conf.DatabaseConfig) -> None:
    assert load(DATABASE_URL=url).database == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.com", conf.SmtpConfig("mail.example.com", 25, "", "", False, False)),
        (
            "smtp://desk:secret@mail.example.com:2525",
            conf.SmtpConfig("mail.example.com", 2525, "desk", "secret", False, False),
        ),
        (
            "smtp+tls://desk%40example.com:s%3Acret@mail.example.com",
            conf.SmtpConfig("mail.example.com", 587, "desk@example.com", "s:cret", True, False),
        ),
        ("smtps://mail.example.com", conf.SmtpConfig("mail.example.com", 465, "", "", False, True)),
    ],
    ids=[
        "smtp-default-port",
        "smtp-credentials-and-port",
        "smtp-tls-starttls",
        "smtps-implicit-tls",
    ],
)
def test_email_url_forms(url: str, expected: conf.SmtpConfig) -> None:
    config = load(EMAIL_URL=url)
    assert config.email == expected
    assert config.uses_outbox  # SMS still goes to the outbox


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "kannel://desk:secret@127.0.0.1:13013",
            conf.KannelConfig("127.0.0.1", 13013, "desk", "secret", "Deskgate", False),
        ),
        (
            "kannel://desk:secret@sms.example.com?from=Northwind",
            conf.KannelConfig("sms.example.com", 13013, "desk", "secret", "Northwind", False),
        ),
        (
            "kannel+https://desk:p%40ss@sms.example.com:443",
            conf.KannelConfig("sms.example.com", 443, "desk", "p@ss", "Deskgate", True),
        ),
    ],
    ids=["kannel", "kannel-default-port-and-sender", "kannel-https-escaped"],
)
def test_sms_url_forms(url: str, expected: conf.KannelConfig) -> None:
    assert load(SMS_URL=url).sms == expected


def test_both_gateways_set_means_no_outbox() -> None:
    config = load(EMAIL_URL="smtp://mail.example.com", SMS_URL="kannel://u:p@sms.example.com")
    assert not config.uses_outbox


@pytest.mark.parametrize(
    "url",
    ["redis://127.0.0.1:6379/0", "rediss://:secret@cache.example.com:6380/1"],
    ids=["redis", "rediss-with-password"],
)
def test_cache_url_forms(url: str) -> None:
    assert load(CACHE_URL=url).cache_url == url


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("1", True),
        ("true", True),
        ("YES", True),
        (" On ", True),
        ("0", False),
        ("false", False),
        ("No", False),
        ("off", False),
    ],
)
@pytest.mark.parametrize("name", ["DESKGATE_DEMO", "DESKGATE_DEBUG", "DESKGATE_SECURE_COOKIES"])
def test_flags(name: str, raw: str, value: bool) -> None:
    config = load(**{name: raw})
    attribute = {"DESKGATE_DEMO": "demo", "DESKGATE_DEBUG": "debug"}.get(name, "secure_cookies")
    assert getattr(config, attribute) is value


MALFORMED = [
    ("PORT", "abc", "expected a whole number"),
    ("PORT", "80.5", "expected a whole number"),
    ("PORT", "0", "between 1 and 65535"),
    ("PORT", "65536", "between 1 and 65535"),
    ("DATABASE_URL", "mysql://db/deskgate", "unsupported scheme 'mysql'"),
    ("DATABASE_URL", "/var/deskgate.sqlite3", "unsupported scheme ''"),
    ("DATABASE_URL", "sqlite://", "needs a file path"),
    ("DATABASE_URL", "sqlite:///", "needs a file path"),
    ("DATABASE_URL", "postgres://db.example.com:5432", "needs a database name"),
    ("DATABASE_URL", "postgres://db.example.com:5432/", "needs a database name"),
    ("DATABASE_URL", "postgres://db.example.com:port/deskgate", "cannot read"),
    ("CACHE_URL", "memcached://127.0.0.1:11211", "unsupported scheme 'memcached'"),
    ("CACHE_URL", "redis://", "needs a host"),
    ("CACHE_URL", "redis://127.0.0.1:99999/0", "cannot read"),
    ("EMAIL_URL", "smtp://", "needs a host"),
    ("EMAIL_URL", "smtp+ssl://mail.example.com", "unsupported scheme 'smtp+ssl'"),
    ("EMAIL_URL", "mailto:desk@example.com", "unsupported scheme 'mailto'"),
    ("EMAIL_URL", "smtp://mail.example.com:twenty-five", "cannot read"),
    ("SMS_URL", "kannel://sms.example.com:13013", "needs a user and a password"),
    ("SMS_URL", "kannel://desk@sms.example.com:13013", "needs a user and a password"),
    ("SMS_URL", "kannel://desk:secret@", "needs a host"),
    ("SMS_URL", "http://desk:secret@sms.example.com", "unsupported scheme 'http'"),
    ("SECRET_KEY", "short", "at least 32 characters"),
    ("SECRET_KEY", "x" * 31, "at least 32 characters"),
    ("DESKGATE_DEMO", "maybe", "expected 1/0"),
    ("DESKGATE_DEMO", "2", "expected 1/0"),
    ("DESKGATE_DEBUG", "enabled", "expected 1/0"),
    ("DESKGATE_SECURE_COOKIES", "nope", "expected 1/0"),
    ("DESKGATE_HOSTS", " , ", "at least one host"),
    ("DESKGATE_BASE_URL", "desk.example.com", "expected the site's address"),
    ("DESKGATE_BASE_URL", "ftp://desk.example.com", "expected the site's address"),
    ("DESKGATE_BASE_URL", "https://desk.example.com/deskgate", "expected the site's address"),
    ("DESKGATE_HASH_MEMORY_KIB", "1024", "between 8192 and"),
    ("DESKGATE_HASH_TIME_COST", "0", "between 1 and 20"),
    ("DESKGATE_HASH_PARALLELISM", "many", "expected a whole number"),
    ("DESKGATE_CODE_CAP_USER", "0", "between 1 and 1000"),
    ("DESKGATE_DNS_SERVERS", "dns.example.com", "expected IP addresses"),
    ("DESKGATE_DNS_SERVERS", "127.0.0.1:0", "expected IP addresses"),
    ("DESKGATE_DNS_SERVERS", "127.0.0.1:dns", "expected IP addresses"),
]


def test_dns_servers() -> None:
    """The SSO domain verification's DNS servers: addresses, each with an optional port."""
    assert load().dns_servers == ()
    servers = load(DESKGATE_DNS_SERVERS="192.0.2.53, 127.0.0.1:5353,[::1]:53")
    assert servers.dns_servers == (("192.0.2.53", 53), ("127.0.0.1", 5353), ("::1", 53))


@pytest.mark.parametrize(
    ("name", "value", "says"),
    MALFORMED,
    ids=[f"{name}={value[:30]}" for name, value, _ in MALFORMED],
)
def test_malformed_value_names_the_variable(name: str, value: str, says: str) -> None:
    with pytest.raises(conf.ConfigError) as caught:
        load(**{name: value})
    assert caught.value.variable == name
    assert str(caught.value).startswith(f"{name}: ")
    assert says in str(caught.value)


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("DATABASE_URL", "postgres://desk:hunter2hunter2@db.example.com:port/deskgate"),
        ("EMAIL_URL", "smtp://desk:hunter2hunter2@mail.example.com:twenty-five"),
        ("SMS_URL", "kannel://desk:hunter2hunter2@sms.example.com:bad"),
        ("CACHE_URL", "redis://:hunter2hunter2@cache.example.com:99999/0"),
    ],
    ids=["database", "email", "sms", "cache"],
)
def test_malformed_url_message_keeps_the_password_out(name: str, url: str) -> None:
    # Start-up messages end up in logs; a credential must not.
    with pytest.raises(conf.ConfigError) as caught:
        load(**{name: url})
    assert caught.value.variable == name
    assert "hunter2hunter2" not in str(caught.value)


def test_secret_key_generated_once_under_the_var_dir(tmp_path: Path) -> None:
    var = tmp_path / "var"
    program = (
        "import json; from deskgate import conf; "
        "a = conf.load({}); b = conf.load({}); "
        "print(json.dumps([a.secret_key, b.secret_key, a.database.name]))"
    )
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DATABASE_URL"}}
    done = subprocess.run(  # noqa: S603 - this interpreter, a fixed program
        [sys.executable, "-c", program],
        env={**env, "DESKGATE_VAR_DIR": str(var)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    first, second, database = json.loads(done.stdout)
    assert first == second and len(first) >= 32
    key_file = var / "secret_key"
    assert key_file.read_text().strip() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert database == str(var / "deskgate.sqlite3")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "eighty"),
        ("DATABASE_URL", "mysql://db/deskgate"),
        ("SMS_URL", "kannel://sms.example.com"),
        ("DESKGATE_DEMO", "perhaps"),
    ],
)
def test_start_up_stops_naming_the_variable(tmp_path: Path, name: str, value: str) -> None:
    script = Path(sys.executable).with_name("deskgate")
    env = {**os.environ, "DESKGATE_VAR_DIR": str(tmp_path), name: value}
    done = subprocess.run(  # noqa: S603 - our own console script, fixed arguments
        [str(script), "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert f"Deskgate cannot start: {name}: " in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
