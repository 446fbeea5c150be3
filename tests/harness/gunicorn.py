"""The real server, gunicorn, on a free loopback port, pointed at this test's database.

    env = server_env(cache_url=redis.url)        # the test database as DATABASE_URL
    with Gunicorn(env, tmp_path / "server.log") as server:
        requests.get(server.url + "/signin/")

A test using it must commit what the server should see (pytest-django's
`transactional_db`) and close its own connection first (`connection.close()`).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

from django.db import connection

from tests.harness.net import LOOPBACK, port_open

GUNICORN = Path(sys.executable).parent / "gunicorn"
ROOT = Path(__file__).resolve().parents[2]
# The hash cost the server runs with; a test hashes at the same cost (settings fixture),
# so a sign-in does not also rehash.
HASH = {"memory_cost": 8192, "time_cost": 1, "parallelism": 1}


def database_url() -> str:
    """This test's database (created by pytest-django) as a DATABASE_URL for a server."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(str(s['NAME'])).resolve()}"
    auth = quote(str(s["USER"] or ""), safe="")
    if s["PASSWORD"]:
        auth += ":" + quote(str(s["PASSWORD"]), safe="")
    host = s["HOST"] or "127.0.0.1"
    port = f":{s['PORT']}" if s["PORT"] else ""
    return f"postgres://{auth}@{host}{port}/{quote(str(s['NAME']), safe='')}"


def server_env(port: int, **extra: str) -> dict[str, str]:
    """The environment of a production-like server on `port`: outbox delivery (no
    EMAIL_URL/SMS_URL), plain HTTP cookies, the test's database; `extra` on top."""
    env = {k: v for k, v in os.environ.items() if k not in {"EMAIL_URL", "SMS_URL", "CACHE_URL"}}
    env.update(
        {
            "DATABASE_URL": database_url(),
            "SECRET_KEY": secrets.token_urlsafe(48),
            "DESKGATE_HOSTS": LOOPBACK,
            "DESKGATE_SECURE_COOKIES": "0",
            "DESKGATE_BASE_URL": f"http://{LOOPBACK}:{port}",
            "DESKGATE_DEMO": "0",
            "DESKGATE_DEBUG": "0",
            "DESKGATE_HASH_MEMORY_KIB": str(HASH["memory_cost"]),
            "DESKGATE_HASH_TIME_COST": str(HASH["time_cost"]),
            "DESKGATE_HASH_PARALLELISM": str(HASH["parallelism"]),
        }
    )
    env.update(extra)
    return env


class Gunicorn:
    """One gunicorn (one worker, threads as `make run`) serving deskgate.wsgi."""

    def __init__(self, env: dict[str, str], log: Path, port: int | None = None) -> None:
        self.port = port or int(env["DESKGATE_BASE_URL"].rsplit(":", 1)[1])
        self.env, self.log = env, log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self, timeout: float = 30) -> Gunicorn:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(  # noqa: S603  # the venv's gunicorn, fixed arguments
                [
                    str(GUNICORN),
                    "deskgate.wsgi",
                    "--bind",
                    f"{LOOPBACK}:{self.port}",
                    "--workers",
                    "1",
                    "--worker-class",
                    "gthread",
                    "--threads",
                    "4",
                ],  # fmt: skip
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while not port_open(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"gunicorn did not start\n{self.tail()}")
            time.sleep(0.05)
        return self

    def tail(self) -> str:
        return "--- gunicorn:\n" + self.log.read_text("utf-8", "replace")[-4000:]

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def __enter__(self) -> Gunicorn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
