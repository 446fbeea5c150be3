"""A real authoritative DNS server on loopback (UDP and TCP), built from dnspython's
message pieces, that answers TXT queries from a dict the test fills.

    server = DnsServer().start()
    settings.DESKGATE_SSO = {**settings.DESKGATE_SSO, "dns_servers": [server.address]}
    server.txt["_deskgate.example.com"] = ["deskgate-verification=..."]
    ...
    server.stop()

Names it has no records for answer NXDOMAIN; `server.failing = True` makes it answer
SERVFAIL to everything (a broken zone).
"""

from __future__ import annotations

import socketserver
import struct
import threading
from typing import Any

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from tests.harness.net import LOOPBACK

__all__ = ["DnsServer"]


class DnsServer:
    def __init__(self) -> None:
        self.txt: dict[str, list[str]] = {}
        self.failing = False
        self.queries: list[str] = []
        self._udp: socketserver.ThreadingUDPServer | None = None
        self._tcp: socketserver.ThreadingTCPServer | None = None

    @property
    def address(self) -> tuple[str, int]:
        assert self._udp is not None, "start() the server first"
        return LOOPBACK, self._udp.server_address[1]

    def answer(self, wire: bytes) -> bytes:
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        self.queries.append(name)
        values = self.txt.get(name)
        if self.failing:
            response.set_rcode(dns.rcode.SERVFAIL)
        elif values is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif question.rdtype == dns.rdatatype.TXT:
            quoted = [f'"{v}"' for v in values]
            response.answer.append(
                dns.rrset.from_text(
                    question.name, 60, dns.rdataclass.IN, dns.rdatatype.TXT, *quoted
                )
            )
        return response.to_wire()

    def start(self) -> DnsServer:
        server = self

        class Udp(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                data, sock = self.request
                sock.sendto(server.answer(data), self.client_address)

        class Tcp(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                (length,) = struct.unpack("!H", self.request.recv(2))
                reply = server.answer(self.request.recv(length))
                self.request.sendall(struct.pack("!H", len(reply)) + reply)

        self._udp = socketserver.ThreadingUDPServer((LOOPBACK, 0), Udp)
        port = self._udp.server_address[1]
        try:
            self._tcp = socketserver.ThreadingTCPServer((LOOPBACK, port), Tcp)
        except OSError:  # the TCP port is taken: UDP alone serves these small answers
            self._tcp = None
        for s in (self._udp, self._tcp):
            if s is not None:
                s.daemon_threads = True
                threading.Thread(target=s.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        for s in (self._udp, self._tcp):
            if s is not None:
                s.shutdown()
                s.server_close()

    def __enter__(self) -> DnsServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
