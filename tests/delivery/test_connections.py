"""One kept connection per thread to the mail server and the SMS gateway (issue 17).

Against the real loopback SMTP server (aiosmtpd), counting connections at the server, and
the real Kannel: a code on a kept connection costs no handshake, a connection the server
dropped is replaced, a message the server may have taken is never sent twice, and no two
threads share a connection.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from django.core import mail

from deskgate.conf import parse_sms_url
from deskgate.delivery import caps, channels, connections
from tests.harness.smtp import SmtpServer
from tests.mailbox import code_in
from tests.signin.test_delivery import use_smtp


@pytest.fixture
def server(settings) -> Iterator[SmtpServer]:
    """A server of this test's own (its connections counted from zero), in the settings."""
    connections.close()
    with SmtpServer() as server:
        use_smtp(settings, server.url)
        yield server
        connections.close()


@pytest.fixture
def permit():
    """A permit for an address, as `caps.admit` gives one (the caps are tested elsewhere:
    these tests use no database)."""

    def make(address: str) -> caps.Permit:
        return caps.Permit("email", address, caps._ADMITTED)

    return make


def send_code(permit: caps.Permit, code: str) -> None:
    channels.send_email(permit, "Your Deskgate sign-in code", f"Your code is {code}.")


def codes_to(server: SmtpServer, address: str) -> list[str]:
    return [code_in(m.body) for m in server.messages if address in m.recipients]


def test_two_codes_in_a_row_use_one_connection(server, permit) -> None:
    to = permit("aino@example.com")
    send_code(to, "111111")
    send_code(to, "222222")
    assert codes_to(server, "aino@example.com") == ["111111", "222222"]
    assert server.connections == 1


def test_a_batch_and_single_codes_share_the_kept_connection(server, permit) -> None:
    permits = [permit(f"batch{n}@example.com") for n in range(3)]
    channels.send_emails([(p, "Notice", f"Notice number {n}00000") for n, p in enumerate(permits)])
    send_code(permits[0], "333333")
    assert len(server.messages) == 4
    assert server.connections == 1


def test_a_connection_the_server_dropped_is_replaced(server, permit) -> None:
    to = permit("ben@example.com")
    send_code(to, "111111")
    server.drop_connections()  # as a server does to an idle client
    send_code(to, "222222")
    assert codes_to(server, "ben@example.com") == ["111111", "222222"]  # exactly once
    assert server.connections == 2


def test_a_hang_up_at_mail_from_is_retried_once_on_a_new_connection(server, permit) -> None:
    """The server closed the kept connection as MAIL FROM arrived (it closed while the
    client was not looking): nothing was taken, so the code goes again, on a new one."""
    to = permit("cai@example.com")
    send_code(to, "111111")
    server.drop_at_next_mail = True
    send_code(to, "222222")
    assert codes_to(server, "cai@example.com") == ["111111", "222222"]
    assert server.connections == 2
    assert server.data_attempts == 2


def test_a_hang_up_at_mail_from_on_a_new_connection_is_not_retried(server, permit) -> None:
    to = permit("cai@example.com")
    server.drop_at_next_mail = True
    with pytest.raises(channels.DeliveryError):
        send_code(to, "111111")
    assert server.connections == 1
    assert server.messages == []


def test_refused_data_is_not_retried(server, permit) -> None:
    to = permit("dora@example.com")
    send_code(to, "111111")
    server.refuse_data = True
    with pytest.raises(channels.DeliveryError) as refused:
        send_code(to, "222222")
    assert server.data_attempts == 2  # one attempt for the second code
    assert server.connections == 1
    message = str(refused.value)
    assert "dora@example.com" not in message and "222222" not in message
    assert message == "the mail server did not accept the message (SMTPDataError)"
    # The next code opens a new connection (the failed one is given up) and goes through.
    server.refuse_data = False
    send_code(to, "333333")
    assert codes_to(server, "dora@example.com") == ["111111", "333333"]
    assert server.connections == 2


def test_a_hang_up_after_the_data_is_not_retried(server, permit) -> None:
    """The server has the message but its answer never came: sending again could give
    the user two codes, so it is a failure (the user may ask for another code)."""
    to = permit("eero@example.com")
    send_code(to, "111111")
    server.drop_after_next_data = True
    with pytest.raises(channels.DeliveryError):
        send_code(to, "222222")
    assert codes_to(server, "eero@example.com") == ["111111", "222222"]  # once, not twice
    assert server.data_attempts == 2
    assert server.connections == 1


def test_a_connection_idle_too_long_is_replaced(server, permit, monkeypatch) -> None:
    to = permit("fanni@example.com")
    send_code(to, "111111")
    monkeypatch.setattr(connections, "IDLE_LIMIT", 0.0)
    send_code(to, "222222")
    assert codes_to(server, "fanni@example.com") == ["111111", "222222"]
    assert server.connections == 2


def test_other_mail_settings_get_their_own_connection(server, permit, settings) -> None:
    to = permit("gun@example.com")
    send_code(to, "111111")
    with SmtpServer() as other:
        use_smtp(settings, other.url)
        send_code(to, "222222")
        assert codes_to(other, "gun@example.com") == ["222222"]
        assert other.connections == 1
    use_smtp(settings, server.url)
    send_code(to, "333333")
    assert codes_to(server, "gun@example.com") == ["111111", "333333"]


def test_threads_never_share_a_connection(server, permit) -> None:
    permits = [permit(f"thread{n}@example.com") for n in range(2)]
    both_sent_once = threading.Barrier(2, timeout=10)
    held: dict[int, object] = {}
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            send_code(permits[n], f"{n}11111")
            both_sent_once.wait()  # both threads alive, each holding its connection
            kept = connections._kept.mail
            assert kept is not None and kept.backend.connection is not None
            held[n] = kept.backend.connection
            send_code(permits[n], f"{n}22222")
            assert connections._kept.mail is kept and kept.backend.connection is held[n]
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert not errors, errors
    assert held[0] is not held[1]
    assert server.connections == 2
    for n in range(2):
        assert codes_to(server, f"thread{n}@example.com") == [f"{n}11111", f"{n}22222"]
    assert connections._kept.mail is None  # the test's own thread sent nothing


def test_other_backends_keep_nothing(permit, settings) -> None:
    connections.close()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    to = permit("hilla@example.com")
    send_code(to, "111111")
    send_code(to, "222222")
    assert [code_in(str(m.body)) for m in mail.outbox] == ["111111", "222222"]
    assert connections._kept.mail is None


def test_sms_codes_in_a_row_use_one_kept_connection(settings, sms_gateway) -> None:
    """smsbox answers HTTP/1.1 with Connection: Keep-Alive, so the connection is kept."""
    connections.close()
    settings.DESKGATE_SMS = parse_sms_url(sms_gateway.url)
    gateway = channels.sms_gateway()
    try:
        gateway.send("+358401234567", "first 111111")
        kept = connections._kept.http
        assert kept is not None and kept.connection.sock is not None
        sock = kept.connection.sock
        gateway.send("+358401234567", "second 222222")
        assert connections._kept.http is kept and kept.connection.sock is sock
        for code in ("111111", "222222"):
            assert sms_gateway.wait_for("+358401234567", predicate=lambda s, c=code: c in s.text)
    finally:
        connections.close()


@pytest.mark.parametrize("noticed", [True, False], ids=["noticed-before", "failed-sending"])
def test_a_dropped_sms_connection_is_replaced(settings, sms_gateway, monkeypatch, noticed):
    """A kept connection that ended is replaced: seen before sending (the socket reads as
    ended), or when sending the request on it fails (then it goes again, once)."""
    connections.close()
    if not noticed:
        monkeypatch.setattr(connections, "_readable", lambda sock: False)
    settings.DESKGATE_SMS = parse_sms_url(sms_gateway.url)
    gateway = channels.sms_gateway()
    try:
        gateway.send("+358401234567", "first 111111")
        kept = connections._kept.http
        assert kept is not None and kept.connection.sock is not None
        # As if smsbox had closed it: the client sees the end of the stream.
        kept.connection.sock.shutdown(2)
        gateway.send("+358401234567", "second 222222")
        assert sms_gateway.wait_for("+358401234567", predicate=lambda s: "222222" in s.text)
        assert kept.connection.sock is not None  # the new one, kept in turn
    finally:
        connections.close()
