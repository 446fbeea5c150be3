"""A real Kannel on loopback: bearerbox + smsbox, with fakesmsc as the SMS centre.

    kannel = Kannel()
    kannel.start()                        # ~1 s; raises KannelError with the logs if it fails
    settings.DESKGATE_SMS = parse_sms_url(kannel.url)  # kannel://user:pass@127.0.0.1:<port>
    ...
    sms = kannel.wait_for(to="+358401234567")
    assert code_in(sms.text)                # tests/mailbox.py reads the code
    kannel.stop()

The product sends through smsbox's sendsms interface exactly as in production
(GET /cgi-bin/sendsms?username=..&password=..&from=..&to=..&text=..&charset=UTF-8);
bearerbox hands the message to its `smsc = fake` connection, whose client is fakesmsc, and
fakesmsc prints every message it gets. A thread reads that output and turns each line back
into an `Sms(sender, to, text)`.

How fakesmsc shows a message, and how it is decoded here:
  "<from> <to> text <text>"    plain text, as UTF-8, spaces and '+' and '%' literal: kept as is
  "<from> <to> data <urlenc>"  8-bit data (coding=1): URL-decoded ('+' is a space)
  "<from> <to> ucs-2 <urlenc>" UCS-2 (coding=2): URL-decoded, then UTF-16-BE
  "<from> <to> udh <udh> data <urlenc>"  with a UDH, e.g. each part of a long message:
                               URL-decoded; the parts of one message are joined into one Sms
A newline inside a text makes fakesmsc print the rest as further "messages" without the
"<from> <to> <type>" head; those lines are joined back onto the message they belong to.
"""

from __future__ import annotations

import atexit
import contextlib
import http.client
import os
import re
import select
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Self
from urllib.parse import quote, unquote_to_bytes

from tests.harness.net import LOOPBACK, free_ports, port_open

__all__ = [
    "INSTALL_HINT",
    "Kannel",
    "KannelError",
    "KannelExited",
    "Sms",
    "find_kannel",
    "kannel_missing",
    "parse_fakesmsc_line",
]

DEFAULT_USERNAME = "deskgate"
DEFAULT_PASSWORD = "kannel-test-secret"
INSTALL_HINT = "Debian's kannel and kannel-extras: apt-get install -y kannel kannel-extras"

# bearerbox and smsbox live in /usr/sbin (not on every user's PATH); fakesmsc comes with
# kannel-extras and is not on any PATH.
_SEARCH_PATH = os.pathsep.join(
    p for p in (os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/lib/kannel/test") if p
)
_PROGRAMS = ("bearerbox", "smsbox", "fakesmsc")


class KannelError(RuntimeError):
    """Kannel is not installed, or did not start; the message says which and shows logs."""


def find_kannel() -> dict[str, str | None]:
    """Absolute paths of bearerbox, smsbox and fakesmsc (None where missing)."""
    return {name: shutil.which(name, path=_SEARCH_PATH) for name in _PROGRAMS}


def kannel_missing() -> list[str]:
    """Names of the Kannel programs that are not installed (empty when all are)."""
    return [name for name, path in find_kannel().items() if path is None]


@dataclass(frozen=True)
class Sms:
    """One message as it reached the (fake) SMS centre; a long one joined from its parts."""

    sender: str  # the `from` Kannel sent with
    to: str  # the receiver, e.g. "+358401234567"
    text: str  # decoded message text
    kind: str  # how fakesmsc showed it: "text", "data", "ucs-2" or "udh"
    raw: str  # the line(s) as fakesmsc printed them, for debugging
    parts: int = 1  # how many SMS it took (concatenated messages are joined)


_GOT = re.compile(r"Got message \d+: <(?P<line>.*)>$")
_HEAD = re.compile(r"^(?P<sender>\S*) (?P<to>\S*) (?P<kind>text|data|ucs-2|udh)(?: (?P<rest>.*))?$")


def _urldecode(value: str) -> bytes:
    return unquote_to_bytes(value.replace("+", " "))


def _decode(data: bytes) -> str:
    # After a UDH fakesmsc calls every payload "data", UCS-2 too; real text has no NULs.
    if b"\x00" in data and len(data) % 2 == 0:
        return data.decode("utf-16-be", "replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _concatenation(udh: bytes) -> tuple[int, int, int] | None:
    """(reference, total, number) from a UDH's concatenation element, if it has one."""
    i = 1  # udh[0] is the UDH length
    while i + 1 < len(udh):
        element, length = udh[i], udh[i + 1]
        value = udh[i + 2 : i + 2 + length]
        if element == 0x00 and len(value) == 3:
            return value[0], value[1], value[2]
        if element == 0x08 and len(value) == 4:
            return value[0] << 8 | value[1], value[2], value[3]
        i += 2 + length
    return None


@dataclass(frozen=True)
class _Line:
    sms: Sms
    payload: bytes  # the message bytes (for joining parts)
    part: tuple[int, int, int] | None  # (reference, total, number) of a concatenated SMS


def _parse(line: str) -> _Line | None:
    match = _HEAD.match(line)
    if match is None:
        return None
    kind, rest = match["kind"], match["rest"] or ""
    part = None
    if kind == "text":
        payload = rest.encode("utf-8")
    elif kind == "udh":
        # "<udh> data <message>" from Kannel 1.4.5; older ones wrote "<udh> <message>".
        udh, _, message = rest.partition(" ")
        kind2, _, encoded = message.partition(" ")
        if kind2 in ("data", "ucs-2"):
            message = encoded
        elif kind2 == "text":
            message = quote(encoded)
        payload = _urldecode(message)
        part = _concatenation(_urldecode(udh))
    else:
        payload = _urldecode(rest)
    if kind == "ucs-2":
        text = payload.decode("utf-16-be", "replace")
    elif kind == "text":
        text = rest
    else:
        text = _decode(payload)
    sms = Sms(sender=match["sender"], to=match["to"], text=text, kind=kind, raw=line)
    return _Line(sms, payload, part)


def parse_fakesmsc_line(line: str) -> Sms | None:
    """Turn what fakesmsc printed between < and > into an Sms; None if it has no head."""
    parsed = _parse(line)
    return parsed.sms if parsed else None


def _config(k: Kannel) -> str:
    d = k.directory
    return f"""\
# Written by tests/harness/kannel.py for one test run.
group = core
admin-port = {k.admin_port}
admin-interface = {LOOPBACK}
admin-password = "{k.admin_password}"
admin-allow-ip = "{LOOPBACK}"
smsbox-port = {k.smsbox_port}
smsbox-interface = {LOOPBACK}
box-allow-ip = "{LOOPBACK}"
log-file = "{d}/bearerbox.log"
log-level = 0
access-log = "{d}/bearerbox-access.log"

group = smsc
smsc = fake
smsc-id = fake
port = {k.smsc_port}
our-host = {LOOPBACK}
connect-allow-ip = "{LOOPBACK}"

group = smsbox
bearerbox-host = {LOOPBACK}
bearerbox-port = {k.smsbox_port}
sendsms-port = {k.sendsms_port}
sendsms-interface = {LOOPBACK}
log-file = "{d}/smsbox.log"
log-level = 0
access-log = "{d}/smsbox-access.log"

group = sendsms-user
username = "{k.username}"
password = "{k.password}"
max-messages = 10
concatenation = true
"""


class Kannel:
    """bearerbox + smsbox + fakesmsc on loopback ports, in a fresh temporary directory.

    `messages`/`wait_for()`/`clear()` give what reached fakesmsc. `stop()` ends all three
    processes (SIGTERM, then SIGKILL after `stop_timeout`), reaps them and deletes the
    directory unless `keep_files`; it is safe to call at any time, also after a failed start.
    """

    host = LOOPBACK

    def __init__(
        self,
        *,
        username: str = DEFAULT_USERNAME,
        password: str = DEFAULT_PASSWORD,
        startup_timeout: float = 15,
        stop_timeout: float = 5,
        keep_files: bool = False,
    ) -> None:
        for value in (username, password):
            if not re.fullmatch(r"[A-Za-z0-9._-]+", value):
                raise ValueError(f"keep Kannel credentials to [A-Za-z0-9._-]: {value!r}")
        self.username = username
        self.password = password
        self.admin_password = "admin-" + password
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.keep_files = keep_files
        self.directory: Path | None = None
        self.admin_port = self.smsbox_port = self.smsc_port = self.sendsms_port = 0
        self.startup_seconds: float | None = None  # how long the last start() took
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._outputs: list[IO[bytes]] = []
        self._reader: threading.Thread | None = None
        self._messages: list[Sms] = []
        self._parts: dict[tuple[str, str, int, int], dict[int, _Line]] = {}
        self._changed = threading.Condition()

    # -- addresses --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The product's setting: kannel://user:pass@127.0.0.1:<sendsms port>."""
        user, password = quote(self.username, safe=""), quote(self.password, safe="")
        return f"kannel://{user}:{password}@{self.host}:{self.sendsms_port}"

    @property
    def sendsms_url(self) -> str:
        return f"http://{self.host}:{self.sendsms_port}/cgi-bin/sendsms"

    # -- life cycle -------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return bool(self._procs) and all(p.poll() is None for p in self._procs.values())

    def start(self) -> Self:
        if self._procs:
            return self
        binaries = find_kannel()
        missing = [name for name, path in binaries.items() if path is None]
        if missing:
            raise KannelError(f"{', '.join(missing)} not found; install {INSTALL_HINT}")
        began = time.monotonic()
        for attempt in range(3):
            try:
                self._start_once(binaries)
            except KannelExited:
                # Most likely a port we chose was taken meanwhile: try again on new ones.
                if attempt == 2:
                    raise
                continue
            self.startup_seconds = time.monotonic() - began
            return self
        raise AssertionError("unreachable")

    def _start_once(self, binaries: dict[str, str | None]) -> None:
        atexit.register(self.stop)  # in case the test run ends without calling stop()
        try:
            self.directory = Path(tempfile.mkdtemp(prefix="deskgate-kannel-"))
            ports = free_ports(4)
            self.admin_port, self.smsbox_port, self.smsc_port, self.sendsms_port = ports
            conf = self.directory / "kannel.conf"
            conf.write_text(_config(self), encoding="utf-8")

            # -v 1: the console (a file here) gets info and worse; the log files get all.
            self._spawn("bearerbox", [binaries["bearerbox"], "-v", "1", str(conf)])
            self._wait("bearerbox to listen", lambda: port_open(self.smsbox_port))
            self._spawn("smsbox", [binaries["smsbox"], "-v", "1", str(conf)])
            # With -m 0 fakesmsc sends nothing itself; the message is only a required argument.
            # -v 0 keeps its "Got message" lines, which it logs at debug level.
            fakesmsc = [binaries["fakesmsc"], "-v", "0", "-H", self.host]
            fakesmsc += ["-r", str(self.smsc_port), "-i", "0.1", "-m", "0", "0 0 text unused"]
            self._spawn("fakesmsc", fakesmsc, pipe=True)
            self._wait("smsbox's sendsms port", lambda: port_open(self.sendsms_port))
            self._wait("smsbox and fakesmsc to connect to bearerbox", self._connected)
        except BaseException:
            self.stop()  # the error message already carries the logs
            raise

    def _spawn(self, name: str, argv: list[str | None], *, pipe: bool = False) -> None:
        assert self.directory is not None
        args = [str(a) for a in argv]
        if pipe:
            proc = subprocess.Popen(  # noqa: S603 - argv: a Kannel binary found above, our config
                args,
                cwd=self.directory,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            self._procs[name] = proc
            assert proc.stdout is not None
            self._reader = threading.Thread(
                target=self._read_fakesmsc, args=(proc.stdout,), name="fakesmsc", daemon=True
            )
            self._reader.start()
            return
        output = (self.directory / f"{name}.out").open("wb")
        self._outputs.append(output)
        self._procs[name] = subprocess.Popen(  # noqa: S603 - argv: a Kannel binary, our config
            args, cwd=self.directory, stdin=subprocess.DEVNULL, stdout=output, stderr=output
        )

    def _wait(self, what: str, ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while True:
            for name, proc in self._procs.items():
                if proc.poll() is not None:
                    raise KannelExited(
                        f"Kannel's {name} exited with {proc.returncode} while waiting for "
                        f"{what}\n{self.logs()}"
                    )
            if ready():
                return
            if time.monotonic() > deadline:
                raise KannelError(
                    f"Kannel not ready after {self.startup_timeout}s: no {what}\n{self.logs()}"
                )
            time.sleep(0.02)

    def _connected(self) -> bool:
        status = self.status()
        return (
            status is not None
            and re.search(r"^\s*smsbox:.*on-line", status, re.M) is not None
            and re.search(rf"FAKE:{self.smsc_port} \(online", status) is not None
        )

    def status(self) -> str | None:
        """bearerbox's status.txt (boxes, SMSC connections, counters), or None if it's down."""
        conn = http.client.HTTPConnection(self.host, self.admin_port, timeout=2)
        try:
            conn.request("GET", f"/status.txt?password={quote(self.admin_password)}")
            response = conn.getresponse()
            body = response.read().decode("utf-8", "replace")
            return body if response.status == 200 else None
        except OSError:
            return None
        finally:
            conn.close()

    def stop(self, *, keep_files: bool | None = None) -> None:
        atexit.unregister(self.stop)
        procs, self._procs = self._procs, {}
        # fakesmsc first: bearerbox then has nothing left to deliver to.
        order = [procs[n] for n in ("fakesmsc", "smsbox", "bearerbox") if n in procs]
        for proc in order:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
        deadline = time.monotonic() + self.stop_timeout
        for proc in order:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._reader is not None:
            self._reader.join(timeout=5)
            self._reader = None
        for proc in order:
            if proc.stdout is not None:
                proc.stdout.close()
        for output in self._outputs:
            output.close()
        self._outputs.clear()
        keep = self.keep_files if keep_files is None else keep_files
        if self.directory is not None and not keep:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def __enter__(self) -> Kannel:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def logs(self, lines: int = 15) -> str:
        """The last lines of every Kannel log and console output, for error messages."""
        if self.directory is None or not self.directory.exists():
            return "(no Kannel directory)"
        kept = "kept" if self.keep_files else "deleted on stop; Kannel(keep_files=True) keeps them"
        parts = [f"(logs in {self.directory}, {kept})"]
        for path in sorted(self.directory.glob("*.out")) + sorted(self.directory.glob("*.log")):
            text = path.read_text("utf-8", "replace").splitlines()[-lines:]
            parts.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(parts)

    # -- what arrived -----------------------------------------------------------------------

    @property
    def messages(self) -> list[Sms]:
        """A copy of the messages fakesmsc received so far, oldest first."""
        with self._changed:
            return list(self._messages)

    def clear(self) -> None:
        with self._changed:
            self._messages.clear()
            self._parts.clear()

    def wait_for(
        self,
        to: str | None = None,
        timeout: float = 10,
        predicate: Callable[[Sms], bool] | None = None,
    ) -> Sms:
        """The first message to `to` (and matching `predicate`), already here or arriving.

        Raises AssertionError, listing what did arrive, if none comes within timeout.
        """

        def wanted(sms: Sms) -> bool:
            return (to is None or sms.to == to) and (predicate is None or predicate(sms))

        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for sms in self._messages:
                    if wanted(sms):
                        return sms
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [(m.to, m.text) for m in self._messages]
                    raise AssertionError(
                        f"no SMS to {to!r} within {timeout}s; fakesmsc received: {seen}"
                    )
                self._changed.wait(remaining)

    def _publish(self, sms: Sms) -> None:
        with self._changed:
            self._messages.append(sms)
            self._changed.notify_all()

    def _read_fakesmsc(self, stdout: IO[bytes]) -> None:
        """Parse fakesmsc's output; also copy it to fakesmsc.out for logs().

        A message is published once the next line shows it is complete: a new message, or
        50 ms of silence (the rest of a text with newlines comes in the same burst).
        """
        assert self.directory is not None
        fd = stdout.fileno()
        pending: Sms | None = None
        buffer = b""
        with (self.directory / "fakesmsc.out").open("wb") as copy:
            while True:
                readable, _, _ = select.select([fd], [], [], 0.05 if pending else None)
                if not readable:
                    assert pending is not None
                    self._publish(pending)
                    pending = None
                    continue
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    break
                copy.write(chunk)
                copy.flush()
                *lines, buffer = (buffer + chunk).split(b"\n")
                for raw in lines:
                    got = _GOT.search(raw.decode("utf-8", "replace").rstrip("\r"))
                    if got is None:
                        continue
                    parsed = _parse(got["line"])
                    if parsed is None:  # the rest of a text with a newline
                        if pending is not None:
                            pending = _continued(pending, got["line"])
                        else:
                            self._amend_last(got["line"])
                        continue
                    if pending is not None:
                        self._publish(pending)
                        pending = None
                    if parsed.part is None:
                        pending = parsed.sms
                    elif (joined := self._join(parsed)) is not None:
                        self._publish(joined)
        if pending is not None:
            self._publish(pending)

    def _join(self, line: _Line) -> Sms | None:
        """Keep a part of a concatenated SMS; the whole message once all parts are here."""
        assert line.part is not None
        reference, total, number = line.part
        key = (line.sms.sender, line.sms.to, reference, total)
        parts = self._parts.setdefault(key, {})
        parts[number] = line
        if len(parts) < total:
            return None
        del self._parts[key]
        ordered = [parts[n] for n in sorted(parts)]
        payload = b"".join(p.payload for p in ordered)
        return replace(
            ordered[0].sms,
            text=_decode(payload),
            raw="\n".join(p.sms.raw for p in ordered),
            parts=total,
        )

    def _amend_last(self, line: str) -> None:
        with self._changed:
            if self._messages:
                self._messages[-1] = _continued(self._messages[-1], line)
                self._changed.notify_all()


def _continued(sms: Sms, line: str) -> Sms:
    return replace(sms, text=f"{sms.text}\n{line}", raw=f"{sms.raw}\n{line}")


class KannelExited(KannelError):
    """A Kannel program ended during start(); start() tries up to three times on new ports."""
