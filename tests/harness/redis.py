"""A Redis server of the test's own, on a free loopback port, that the test may stop and start.

    server = RedisServer().start()    # /usr/bin/redis-server --port N --save '' --appendonly no
    settings.CACHES["default"]["LOCATION"] = server.url   # redis://127.0.0.1:<port>/0
    server.stop()                     # Redis goes away mid-test (its data with it)
    server.start()                    # back on the same port, empty, as after a restart

Not the machine's shared Redis: stopping that one would break every other test run.
Without persistence a restart loses every key, as a Redis restarted without a dump does.
"""

from __future__ import annotations

import shutil
import subprocess
import time

from tests.harness.net import LOOPBACK, free_port, port_open

__all__ = ["INSTALL_HINT", "RedisServer", "redis_missing"]

INSTALL_HINT = "Debian's redis-server: apt-get install -y redis-server"
_SEARCH = "/usr/bin:/usr/sbin:/usr/local/bin"


def redis_missing() -> bool:
    return shutil.which("redis-server", path=_SEARCH) is None


class RedisServer:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    def caches(self) -> dict[str, dict[str, str]]:
        """Django's CACHES with this server as Deskgate's default cache (as CACHE_URL sets)."""
        return {
            "default": {
                "BACKEND": "deskgate.cache.ForgivingRedisCache",
                "LOCATION": self.url,
                "KEY_PREFIX": "deskgate",
            }
        }

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 10) -> RedisServer:
        binary = shutil.which("redis-server", path=_SEARCH)
        if binary is None:
            raise RuntimeError(f"redis-server not found: {INSTALL_HINT}")
        self.proc = subprocess.Popen(  # noqa: S603  # fixed arguments, our own port
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                LOOPBACK,
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
                "--loglevel",
                "warning",
            ],  # fmt: skip
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while not port_open(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                output = self._output()
                self.stop()
                raise RuntimeError(f"redis-server did not start on {self.port}:\n{output}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Stop the server and wait until the port refuses connections."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        while port_open(self.port):
            time.sleep(0.02)

    def _output(self) -> str:
        if self.proc is None or self.proc.stdout is None or self.proc.poll() is None:
            return ""
        return self.proc.stdout.read().decode("utf-8", "replace")[-2000:]

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
