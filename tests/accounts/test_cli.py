"""The operator command `deskgate`: create-client and create-user obey every rule, and a
refusal exits non-zero with the rule's message and creates nothing."""

from __future__ import annotations

import io
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from deskgate import cli
from deskgate.accounts import actions, rules
from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import AuditEvent, Client, User
from tests.accounts.conftest import State

# Django's command runner closes every connection when a command ends, which a test
# wrapped in one transaction would not survive.
pytestmark = pytest.mark.django_db(transaction=True)

TEMPORARY = "a temporary passphrase for now"


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()


@pytest.fixture
def deskgate(capsys: pytest.CaptureFixture[str]) -> Callable[..., Run]:
    """Run `deskgate ARGS...` in this process, as the console script does."""

    def run(*args: str) -> Run:
        return run_cli(capsys, *args)

    return run


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> Run:
    """`deskgate ARGS...` in this process: its exit code and what it printed."""
    capsys.readouterr()
    try:
        cli.main(["deskgate", *args])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    else:
        code = 0
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err)


@pytest.fixture
def password(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DESKGATE_PASSWORD", TEMPORARY)
    return TEMPORARY


# --- create-client -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "says", "country", "supports"),
    [
        (
            ["--release", "25.4"],
            "Created client Eastwind (release 25.4; MFA available).",
            "FI",
            True,
        ),
        (["--release", "26.1", "--country", "se"], "release 26.1; MFA available", "SE", True),
        (["--release", "11.8"], "MFA is only available for clients on release 25.x", "FI", False),
    ],
    ids=["25.4-default-country", "26.1-sweden", "11.8-without-mfa"],
)
def test_create_client(
    deskgate: Callable[..., Run], args: list[str], says: str, country: str, supports: bool
) -> None:
    run = deskgate("create-client", "--name", "Eastwind", *args)
    assert run.code == 0, run.err
    assert says in run.out
    client = Client.objects.get(name="Eastwind")
    assert client.default_country == country
    assert client.supports_mfa is supports
    event = AuditEvent.objects.get(action="client.created", client=client)
    assert event.detail["via"] == "cli"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--name", "Eastwind", "--release", "25"], "release: Enter the release as major.minor"),
        (["--name", "Eastwind", "--release", "25.4", "--country", "XX"], "country: XX is not"),
        (["--name", "northwind", "--release", "25.4"], "name: A client named northwind"),
        (["--name", "  ", "--release", "25.4"], "name: Enter the client's name"),
    ],
    ids=["release-without-minor", "unknown-country", "name-taken-case-differs", "blank-name"],
)
def test_create_client_refused(
    deskgate: Callable[..., Run],
    tenant: Client,
    db_state: Callable[[], State],
    args: list[str],
    says: str,
) -> None:
    before = db_state()
    run = deskgate("create-client", *args)
    assert run.code != 0
    assert "refused: " in run.err and says in run.err
    assert db_state() == before


# --- create-user ---------------------------------------------------------------------------


def _user_args(client: str = "Northwind", **options: str) -> list[str]:
    args = {
        "client": client,
        "username": "cli.agent",
        "full-name": "Cli Agent",
        "level": "agent",
        **{k.replace("_", "-"): v for k, v in options.items()},
    }
    return [part for name, value in args.items() for part in (f"--{name}", value)]


def test_create_user(deskgate: Callable[..., Run], tenant: Client, password: str) -> None:
    run = deskgate(
        "create-user",
        *_user_args(email="cli@example.com", work_phone="040 123 4512", mfa="sms"),
    )
    assert run.code == 0, run.err
    assert run.out.strip() == (
        "Created Cli Agent (cli.agent) in Northwind: Agent, MFA SMS to "
        "+358 \u2022\u2022 \u2022\u2022\u2022 \u2022\u202212. The password is temporary."
    )
    user = User.objects.get(username="cli.agent")
    assert (user.client, user.level, user.mfa_method) == (tenant, "agent", "sms")
    assert user.work_phone == "+358401234512"
    assert user.is_active and user.must_change_password
    assert user.check_password(password)
    assert password not in run.out + run.err
    event = AuditEvent.objects.get(action="user.created", subject=user)
    assert event.actor_label == "operator (command line)" and event.detail["via"] == "cli"


def test_create_inactive_user_and_client_name_any_case(
    deskgate: Callable[..., Run], tenant: Client, password: str
) -> None:
    run = deskgate(
        "create-user", *_user_args("NORTHWIND", level="manager", email="m@x.fi"), "--inactive"
    )
    assert run.code == 0, run.err
    assert run.out.rstrip().endswith("MFA Off, Inactive. The password is temporary.")
    assert User.objects.get(username="cli.agent").is_active is False


def test_create_user_prints_the_template_warning(
    deskgate: Callable[..., Run], tenant: Client, password: str
) -> None:
    actions.save_template(
        tenant,
        None,
        actions.TemplateInput("Callback", "sms", rules.WORKPHONE_TAG, "", "Call me"),
        by=OPERATOR,
    )
    run = deskgate("create-user", *_user_args(work_phone="+358401234599", mfa="sms"))
    assert run.code == 0, run.err
    assert "warning: " in run.err and "\u201cCallback\u201d" in run.err


@dataclass
class Refusal:
    options: dict[str, str]
    says: str
    client: str = "Northwind"
    env_password: str | None = TEMPORARY


CREATE_USER_REFUSALS = {
    "email-mfa-on-11x-client": Refusal(
        {"email": "leo@example.com", "mfa": "email"},
        "refused: mfa-method: MFA is only available for clients on release 25.x or later; "
        "Legacy is on release 11.8.",
        client="Legacy",
    ),
    "sms-mfa-on-landline": Refusal(
        {"work_phone": "09 1234567", "mfa": "sms"},
        "refused: work-phone: +358 9 1234567 is not a mobile number",
    ),
    "sms-mfa-without-work-phone": Refusal(
        {"mfa": "sms"}, "refused: work-phone: SMS MFA sends the code to the Work phone field"
    ),
    "email-mfa-on-shared-address": Refusal(
        {"email": "Taken@Example.com", "mfa": "email"},
        "is also the Email of Taken Person (taken.person)",
    ),
    "email-used-for-anothers-mfa": Refusal(
        {"email": "mfa@example.com"}, "receives the Email MFA codes of Mfa Person (mfa.person)"
    ),
    "manager-without-email": Refusal(
        {"level": "manager"}, "refused: email: Email is mandatory for a manager."
    ),
    "user-name-taken": Refusal({"username": "TAKEN.person"}, "refused: username: The user name"),
    "user-name-with-space": Refusal({"username": "cli agent"}, "no spaces"),
    "password-too-short": Refusal({}, "refused: password: Use at least 15", env_password="short"),
    "unknown-client": Refusal({}, "refused: there is no client named Nowhere.", client="Nowhere"),
    "no-password-and-no-terminal": Refusal(
        {}, "refused: set DESKGATE_PASSWORD, or run the command in a terminal", env_password=None
    ),
}


@pytest.mark.parametrize("case", CREATE_USER_REFUSALS.values(), ids=CREATE_USER_REFUSALS.keys())
def test_create_user_refused(
    deskgate: Callable[..., Run],
    tenant: Client,
    legacy_tenant: Client,
    user_factory: Callable[..., User],
    db_state: Callable[[], State],
    monkeypatch: pytest.MonkeyPatch,
    case: Refusal,
) -> None:
    user_factory(username="taken.person", full_name="Taken Person", email="taken@example.com")
    user_factory(
        "agent", "email", username="mfa.person", full_name="Mfa Person", email="mfa@example.com"
    )
    if case.env_password is None:
        monkeypatch.delenv("DESKGATE_PASSWORD", raising=False)
    else:
        monkeypatch.setenv("DESKGATE_PASSWORD", case.env_password)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # not a terminal
    before = db_state()
    run = deskgate("create-user", *_user_args(case.client, **case.options))
    assert run.code == 1
    assert case.says in run.err, run.err
    assert run.out == ""
    assert db_state() == before


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--level", "boss"], "invalid choice: 'boss'"),
        (["--mfa", "fax"], "invalid choice: 'fax'"),
        (["--password", "hunter2"], "unrecognized arguments: --password hunter2"),
    ],
    ids=["unknown-level", "unknown-mfa", "password-is-never-an-argument"],
)
def test_create_user_arguments_checked(
    deskgate: Callable[..., Run],
    tenant: Client,
    password: str,
    db_state: Callable[[], State],
    args: list[str],
    says: str,
) -> None:
    before = db_state()
    base = ["--client", "Northwind", "--username", "x", "--full-name", "X"]
    if "--level" not in args:
        base += ["--level", "agent"]
    run = deskgate("create-user", *base, *args)
    assert run.code == 2
    assert says in run.err
    assert db_state() == before


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("typed", "created"),
    [((TEMPORARY, TEMPORARY), True), ((TEMPORARY, TEMPORARY + "!"), False)],
    ids=["same-twice", "different"],
)
def test_password_prompted_in_a_terminal(
    deskgate: Callable[..., Run],
    tenant: Client,
    monkeypatch: pytest.MonkeyPatch,
    typed: tuple[str, str],
    created: bool,
) -> None:
    monkeypatch.delenv("DESKGATE_PASSWORD", raising=False)
    monkeypatch.setattr(sys, "stdin", _Terminal())
    answers = iter(typed)
    prompts: list[str] = []

    def getpass(prompt: str = "") -> str:  # the terminal, as the operator types into it
        prompts.append(prompt)
        return next(answers)

    monkeypatch.setattr("getpass.getpass", getpass)
    run = deskgate("create-user", *_user_args())
    assert prompts == ["Password (temporary): ", "Password again: "]
    if created:
        assert run.code == 0, run.err
        assert User.objects.get(username="cli.agent").check_password(TEMPORARY)
    else:
        assert run.code == 1
        assert "the two passwords are not the same" in run.err
        assert not User.objects.filter(username="cli.agent").exists()


# --- the real console script ---------------------------------------------------------------


def test_console_script_end_to_end(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("deskgate")
    assert script.exists(), f"{script} is missing: run `make setup`"
    db = tmp_path / "operator.sqlite3"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{db}",
        "DESKGATE_VAR_DIR": str(tmp_path / "var"),
        "DESKGATE_PASSWORD": TEMPORARY,
    }
    env.pop("CACHE_URL", None)

    def deskgate(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own console script, fixed arguments
            [str(script), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
            check=False,
        )

    steps = [
        (["migrate", "--noinput", "-v0"], 0, ""),
        (["create-client", "--name", "Opco", "--release", "25.4"], 0, "Created client Opco"),
        (["create-client", "--name", "Oldco", "--release", "11.8"], 0, "release 11.8"),
        (
            [
                "create-user",
                *_user_args("Opco", email="op@example.com", work_phone="0401234567", mfa="sms"),
            ],
            0,
            "MFA SMS to +358",
        ),
        (
            [
                "create-user",
                *_user_args("Oldco", username="old.agent", email="o@x.fi", mfa="email"),
            ],
            1,
            "release 11.8",
        ),
        (
            [
                "create-user",
                *_user_args("Opco", username="land", work_phone="091234567", mfa="sms"),
            ],
            1,
            "is not a mobile number",
        ),
        (["create-client", "--name", "opco", "--release", "25.4"], 1, "already exists"),
    ]
    for args, code, says in steps:
        done = deskgate(*args)
        assert done.returncode == code, (args, done.stdout, done.stderr)
        assert says in (done.stdout if code == 0 else done.stderr), (args, done.stderr)

    env.pop("DESKGATE_PASSWORD")
    done = deskgate("create-user", *_user_args("Opco", username="nopass"))
    assert done.returncode == 1 and "set DESKGATE_PASSWORD" in done.stderr

    with sqlite3.connect(db) as conn:
        users = conn.execute(
            "SELECT username, mfa_method, work_phone FROM accounts_user ORDER BY id"
        ).fetchall()
        clients = conn.execute("SELECT name, release FROM accounts_client ORDER BY id").fetchall()
    assert users == [("cli.agent", "sms", "+358401234567")]
    assert clients == [("Opco", "25.4"), ("Oldco", "11.8")]


@pytest.mark.parametrize(
    ("full_name", "says"),
    [
        ("A" * 250, "full-name: Full name can have at most 200 characters (it has 250)."),
        ("A\u202eB\u200bC", "U+202E (RIGHT-TO-LEFT OVERRIDE), U+200B (ZERO WIDTH SPACE)"),
    ],
    ids=["too-long", "bidi-override"],
)
def test_create_user_refuses_the_names_the_page_refuses(
    deskgate: Callable[..., Run],
    tenant: Client,
    password: str,
    db_state: Callable[[], State],
    full_name: str,
    says: str,
) -> None:
    before = db_state()
    run = deskgate("create-user", *_user_args(**{"full-name": full_name}))
    assert run.code == 1
    assert says in run.err, run.err
    assert db_state() == before


def test_create_user_without_mfa_gets_the_levels_method(
    deskgate: Callable[..., Run], tenant: Client, password: str
) -> None:
    Client.objects.filter(pk=tenant.pk).update(new_user_mfa={"agent": "email"})
    run = deskgate("create-user", *_user_args(email="cli@example.com"))
    assert run.code == 0, run.err
    assert User.objects.get(username="cli.agent").mfa_method == "email"
    refused = deskgate("create-user", *_user_args(username="cli.other", email=""))
    assert refused.code == 1 and "The settings give new agents Email MFA" in refused.err
