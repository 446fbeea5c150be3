"""Small socket helpers shared by the harness servers."""

from __future__ import annotations

import contextlib
import socket

LOOPBACK = "127.0.0.1"


def free_ports(count: int = 1) -> list[int]:
    """Ports on loopback that nothing listens on right now.

    All sockets stay bound until every port is chosen, so the ports are distinct. Another
    process could still take one before the caller binds it; callers that can retry do so.
    """
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((LOOPBACK, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def free_port() -> int:
    """A port on loopback that nothing listens on (connecting to it is refused)."""
    return free_ports(1)[0]


def port_open(port: int, host: str = LOOPBACK, timeout: float = 0.2) -> bool:
    """True if something accepts TCP connections on host:port."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False
