"""The harness itself: real servers, driven the way the product will drive them."""

from __future__ import annotations

import smtplib
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.core.mail import EmailMessage as DjangoEmail
from django.core.mail import get_connection

from deskgate.conf import parse_email_url, parse_sms_url
from tests.harness import kannel as kannel_module
from tests.harness.kannel import Kannel, KannelError, kannel_missing, parse_fakesmsc_line
from tests.harness.net import free_port, port_open
from tests.harness.smtp import SlowSmtpServer, SmtpServer
from tests.mailbox import codes_in

PHONE = "+358401234567"


def mail(to: str, subject: str = "Your sign-in code", body: str = "Code: 123456") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Deskgate <no-reply@deskgate.invalid>"
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    return message


# -- SMTP -------------------------------------------------------------------------------------


def test_smtp_receives_and_parses_a_message(smtp: SmtpServer) -> None:
    with smtplib.SMTP(smtp.host, smtp.port, timeout=5) as client:
        client.send_message(mail("Anna@Example.com", "Koodi ä", "Your code is 654321.\nBye ä"))

    got = smtp.wait_for("anna@example.com")
    assert got.to == ("Anna@Example.com",)
    assert got.rcpt_tos == ("Anna@Example.com",)
    assert got.mail_from == "no-reply@deskgate.invalid"
    assert got.subject == "Koodi ä"
    assert got.body == "Your code is 654321.\nBye ä\n"
    assert codes_in(got.body) == ["654321"]
    assert got.auth_login is None
    assert smtp.messages == [got]


def test_smtp_wait_for_a_predicate_and_clear(smtp: SmtpServer) -> None:
    with smtplib.SMTP(smtp.host, smtp.port, timeout=5) as client:
        client.send_message(mail("a@example.com", "first"))
        client.send_message(mail("b@example.com", "second"))

    assert smtp.wait_for(lambda m: m.subject == "second").to == ("b@example.com",)
    assert len(smtp.messages) == 2
    smtp.clear()
    assert smtp.messages == []
    with pytest.raises(AssertionError, match="no email matching 'a@example.com'"):
        smtp.wait_for("a@example.com", timeout=0.1)


def test_django_smtp_backend_delivers_to_the_server(smtp: SmtpServer) -> None:
    config = parse_email_url(smtp.url)
    assert config is not None
    connection = get_connection(
        "django.core.mail.backends.smtp.EmailBackend",
        host=config.host,
        port=config.port,
        username=config.user,
        password=config.password,
        use_tls=config.use_tls,
        use_ssl=config.use_ssl,
        timeout=5,
    )
    sent = DjangoEmail("Sign-in code", "Code 112233", "no-reply@deskgate.invalid", ["u@x.fi"])
    assert connection.send_messages([sent]) == 1

    assert smtp.wait_for("u@x.fi").body == "Code 112233\n"


def test_smtp_auth_checks_the_credentials() -> None:
    with SmtpServer(username="mailer", password="s3cret") as server:
        assert server.url == f"smtp://mailer:s3cret@127.0.0.1:{server.port}"
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            with pytest.raises(smtplib.SMTPSenderRefused) as refused:
                client.send_message(mail("a@example.com"))
            assert refused.value.smtp_code == 530
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            with pytest.raises(smtplib.SMTPAuthenticationError) as wrong:
                client.login("mailer", "wrong")
            assert wrong.value.smtp_code == 535
        assert server.auth_failures == 2  # smtplib's login() tries PLAIN, then LOGIN

        for mechanism in ("PLAIN", "LOGIN"):
            with smtplib.SMTP(server.host, server.port, timeout=5) as client:
                client.ehlo()
                client.user, client.password = "mailer", "s3cret"
                client.auth(mechanism, getattr(client, f"auth_{mechanism.lower()}"))
                client.send_message(mail(f"{mechanism}@example.com"))
            assert server.wait_for(f"{mechanism}@example.com").auth_login == "mailer"


def test_django_backend_logs_in_with_the_configured_user() -> None:
    with SmtpServer(username="mailer", password="s3cret") as server:
        connection = get_connection(
            "django.core.mail.backends.smtp.EmailBackend",
            host=server.host,
            port=server.port,
            username="mailer",
            password="s3cret",
            timeout=5,
        )
        connection.send_messages([DjangoEmail("s", "b", "f@x.fi", ["to@x.fi"])])
        assert server.wait_for("to@x.fi").auth_login == "mailer"


def test_slow_smtp_server_makes_clients_time_out(slow_smtp_server: SlowSmtpServer) -> None:
    # A silent server shows as "disconnected" in smtplib (and so in Django), not as a timeout.
    began = time.monotonic()
    with pytest.raises(smtplib.SMTPServerDisconnected, match="timed out"):
        smtplib.SMTP(slow_smtp_server.host, slow_smtp_server.port, timeout=0.3)
    assert 0.25 < time.monotonic() - began < 3
    assert slow_smtp_server.connections == 1

    connection = get_connection(
        "django.core.mail.backends.smtp.EmailBackend",
        host=slow_smtp_server.host,
        port=slow_smtp_server.port,
        timeout=0.3,
    )
    with pytest.raises(smtplib.SMTPServerDisconnected, match="timed out"):
        connection.send_messages([DjangoEmail("s", "b", "f@x.fi", ["to@x.fi"])])


def test_slow_smtp_server_stops_cleanly() -> None:
    server = SlowSmtpServer().start()
    held = socket.create_connection((server.host, server.port), timeout=1)
    port = server.port
    deadline = time.monotonic() + 5
    while server.connections == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.stop()
    assert held.recv(1) == b""  # the held connection was closed
    held.close()
    assert not port_open(port)


# -- Kannel: the sendsms interface as the product uses it ----------------------------------------


def sendsms(kannel: Kannel, **params: str) -> tuple[int, str, str]:
    """GET /cgi-bin/sendsms like the product: (status, content type, body)."""
    query = {
        "username": kannel.username,
        "password": kannel.password,
        "from": "Deskgate",
        "to": PHONE,
        "text": "Your Deskgate code is 123456",
        "charset": "UTF-8",
    }
    query.update(params)
    url = f"{kannel.sendsms_url}?{urlencode(query)}"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - http://127.0.0.1
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


def test_kannel_url_is_what_the_product_reads(sms_gateway: Kannel) -> None:
    config = parse_sms_url(sms_gateway.url)
    assert config is not None
    assert (config.host, config.port) == ("127.0.0.1", sms_gateway.sendsms_port)
    assert (config.user, config.password) == (sms_gateway.username, sms_gateway.password)
    assert config.use_https is False


def test_sendsms_delivers_a_code_to_fakesmsc(sms_gateway: Kannel) -> None:
    text = "Your Deskgate code is 482913 – ä ö å + 100% & more"
    answer = sendsms(sms_gateway, to=PHONE, text=text)

    assert answer == (202, "text/html", "0: Accepted for delivery")
    sms = sms_gateway.wait_for(to=PHONE)
    assert sms.sender == "Deskgate"
    # GSM 7-bit has no en dash: Kannel turns it into "?". ä, ö and å are in the alphabet.
    assert sms.text == "Your Deskgate code is 482913 ? ä ö å + 100% & more"
    assert codes_in(sms.text) == ["482913"]
    assert sms.kind == "text"


def test_sendsms_refuses_bad_credentials(sms_gateway: Kannel) -> None:
    bad_password = sendsms(sms_gateway, password="wrong", to="+358400000001")
    unknown_user = sendsms(sms_gateway, username="nobody", to="+358400000002")

    assert bad_password == (403, "text/html", "Authorization failed for sendsms")
    assert unknown_user == bad_password
    # Messages arrive in order: once a later good one is there, the refused ones never will.
    assert sendsms(sms_gateway, to="+358400000003")[0] == 202
    sms_gateway.wait_for(to="+358400000003")
    assert [m.to for m in sms_gateway.messages] == ["+358400000003"]


@pytest.mark.parametrize(
    ("params", "body"),
    [
        ({"from": ""}, "Sender missing and no global set, rejected"),
        ({"to": ""}, "Empty receiver number not allowed, rejected"),
        ({"to": "not-a-number"}, "Number(s) has/have been denied by white- and/or black-lists."),
    ],
)
def test_sendsms_rejects_bad_requests(
    sms_gateway: Kannel, params: dict[str, str], body: str
) -> None:
    assert sendsms(sms_gateway, **params) == (400, "text/html", body)


def test_multiline_long_and_unicode_texts_come_back_whole(sms_gateway: Kannel) -> None:
    multiline = "Code 111111\n\n@deskgate.invalid #111111"
    long_text = "ä " + "x" * 300 + " 222222"
    unicode_text = "Код 333333 😀"
    sendsms(sms_gateway, to="+358400000011", text=multiline)
    sendsms(sms_gateway, to="+358400000012", text=long_text)
    sendsms(sms_gateway, to="+358400000013", text=unicode_text, coding="2")

    assert sms_gateway.wait_for(to="+358400000011").text == multiline
    long_sms = sms_gateway.wait_for(to="+358400000012")
    assert (long_sms.text, long_sms.parts) == (long_text, 3)
    assert sms_gateway.wait_for(to="+358400000013").text == unicode_text
    assert len(sms_gateway.messages) == 3


def test_kannel_wait_for_times_out_with_what_arrived(sms_gateway: Kannel) -> None:
    sendsms(sms_gateway, to="+358400000021", text="hello")
    sms_gateway.wait_for(to="+358400000021")
    with pytest.raises(AssertionError, match=r"\+358400000021', 'hello'"):
        sms_gateway.wait_for(to="+358400000099", timeout=0.2)


@pytest.mark.parametrize(
    ("line", "sender", "to", "text"),
    [
        ("Deskgate +358401 text Code 123456 ä +%", "Deskgate", "+358401", "Code 123456 ä +%"),
        ("Deskgate +358401 data bin+%C3%A4%2B", "Deskgate", "+358401", "bin ä+"),
        ("D +358401 ucs-2 %04%16%00+%001%002", "D", "+358401", "Ж 12"),
        ("D +358401 udh %05%00%03%07%01%01 data a+b", "D", "+358401", "a b"),
        ("D +358401 text ", "D", "+358401", ""),
    ],
)
def test_parse_fakesmsc_lines(line: str, sender: str, to: str, text: str) -> None:
    sms = parse_fakesmsc_line(line)
    assert sms is not None
    assert (sms.sender, sms.to, sms.text) == (sender, to, text)


def test_parse_fakesmsc_line_without_head() -> None:
    assert parse_fakesmsc_line("just the second line of a text") is None


# -- Kannel: life cycle -------------------------------------------------------------------------


def test_a_second_kannel_starts_fast_and_stops_without_leftovers(
    sms_gateway: Kannel, record_property: Callable[[str, object], None]
) -> None:
    other = Kannel(username="other", password="other-secret")
    began = time.monotonic()
    other.start()
    started = time.monotonic() - began
    record_property("kannel_startup_seconds", round(started, 3))
    print(f"Kannel start-up took {started:.2f}s")  # shown with -s or in -rA reports
    try:
        ports = {other.admin_port, other.smsbox_port, other.smsc_port, other.sendsms_port}
        assert ports.isdisjoint({sms_gateway.sendsms_port, sms_gateway.admin_port})
        assert other.directory != sms_gateway.directory
        assert sendsms(other, to="+358400000031")[0] == 202
        assert other.wait_for(to="+358400000031").text == "Your Deskgate code is 123456"
        assert sms_gateway.messages == []  # the two are independent
        processes = list(other._procs.values())
        directory = other.directory
    finally:
        other.stop()
    assert started < 10
    assert all(p.returncode is not None for p in processes)  # reaped: no zombies
    assert directory is not None and not directory.exists()
    assert not port_open(other.sendsms_port)
    assert other.running is False
    other.stop()  # a second stop is harmless


def test_kannel_reports_missing_programs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(kannel_module, "_SEARCH_PATH", str(tmp_path))
    assert kannel_missing() == ["bearerbox", "smsbox", "fakesmsc"]
    with pytest.raises(KannelError, match="apt-get install -y kannel kannel-extras"):
        Kannel().start()


def test_nothing_listens_on_a_free_port() -> None:
    # What a product test uses for "Kannel/SMTP is down": connection refused.
    assert not port_open(free_port())
