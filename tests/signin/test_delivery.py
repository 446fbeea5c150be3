"""Codes through a real SMTP server and a real Kannel on loopback (R7, R9)."""

from __future__ import annotations

import re
import time

import pytest
from django.test import Client as HttpClient

from deskgate.accounts.models import AuditEvent
from deskgate.conf import parse_email_url, parse_sms_url
from tests.conftest import sign_in
from tests.harness.smtp import SmtpServer
from tests.mailbox import code_in


def use_smtp(settings, url: str, timeout: float = 5) -> None:
    config = parse_email_url(url)
    assert config is not None
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = config.host
    settings.EMAIL_PORT = config.port
    settings.EMAIL_HOST_USER = config.user
    settings.EMAIL_HOST_PASSWORD = config.password
    settings.EMAIL_USE_TLS = config.use_tls
    settings.EMAIL_USE_SSL = config.use_ssl
    settings.EMAIL_TIMEOUT = timeout


def test_email_code_through_smtp(user_factory, settings, smtp) -> None:
    use_smtp(settings, smtp.url)
    user = user_factory("agent", "email", email="aino@example.com")
    http = HttpClient()
    sign_in(http, user)
    mail = smtp.wait_for("aino@example.com")
    assert mail.subject == "Your Deskgate sign-in code"
    assert "valid for 10 minutes" in mail.body and "http" not in mail.body  # no link
    response = http.post("/signin/code/", {"action": "verify", "code": code_in(mail.body)})
    assert response.status_code == 302
    assert http.session["_auth_user_id"] == str(user.pk)


def test_smtp_credentials_are_used(user_factory, settings) -> None:
    with SmtpServer(username="mailer", password="s3cret-pass") as server:
        use_smtp(settings, server.url)
        user = user_factory("agent", "email")
        sign_in(HttpClient(), user)
        mail = server.wait_for(user.email)
        assert mail.auth_login == "mailer"


def test_sms_code_through_kannel(user_factory, settings, sms_gateway) -> None:
    settings.DESKGATE_SMS = parse_sms_url(sms_gateway.url)
    user = user_factory("agent", "sms", work_phone="+358401234567")
    http = HttpClient()
    sign_in(http, user)
    sms = sms_gateway.wait_for(to="+358401234567")
    assert "Deskgate sign-in code" in sms.text
    response = http.post("/signin/code/", {"action": "verify", "code": code_in(sms.text)})
    assert response.status_code == 302
    assert http.session["_auth_user_id"] == str(user.pk)
    event = AuditEvent.objects.get(action="code.sent", subject=user)
    assert event.detail["destination"] == user.masked_mfa_destination()
    assert "+358401234567" not in str(event.detail) + event.summary


@pytest.mark.parametrize("failure", ["kannel-down", "kannel-bad-password"])
def test_a_gateway_failure_says_no_code_was_sent(user_factory, settings, sms_gateway, failure):
    url = sms_gateway.url
    if failure == "kannel-down":
        from tests.harness.net import free_port

        url = f"kannel://u:p@127.0.0.1:{free_port()}"
    else:
        url = re.sub(r"kannel://([^:]+):[^@]+@", r"kannel://\1:wrong@", url)
    settings.DESKGATE_SMS = parse_sms_url(url)
    user = user_factory("agent", "sms")
    http = HttpClient()
    sign_in(http, user)
    page = http.get("/signin/code/").content.decode()
    assert "We could not send the code right now, so no code is on its way." in page
    assert AuditEvent.objects.filter(action="code.send_failed", subject=user).exists()
    # Retrying is allowed at once, and works when the gateway is back.
    settings.DESKGATE_SMS = parse_sms_url(sms_gateway.url)
    page = http.post("/signin/code/", {"action": "resend"}, follow=True).content.decode()
    assert "We sent a code" in page
    sms = sms_gateway.wait_for(to=user.work_phone)
    assert (
        http.post("/signin/code/", {"action": "verify", "code": code_in(sms.text)}).status_code
        == 302
    )


def test_a_silent_mail_server_is_bounded_by_the_timeout(user_factory, settings, slow_smtp_server):
    use_smtp(settings, f"smtp://127.0.0.1:{slow_smtp_server.port}", timeout=1)
    user = user_factory("agent", "email")
    http = HttpClient()
    started = time.monotonic()
    sign_in(http, user)
    assert time.monotonic() - started < 5
    page = http.get("/signin/code/").content.decode()
    assert "no code is on its way" in page


def test_the_sms_ends_with_the_origin_bound_code_line(user_factory, settings, sms_gateway) -> None:
    """`@host #code` as the last line: phones offer to fill the code on this site only
    (WebOTP's origin-bound one-time codes); the host is DESKGATE_BASE_URL's, port aside."""
    settings.DESKGATE_SMS = parse_sms_url(sms_gateway.url)
    settings.DESKGATE_BASE_URL = "https://login.northwind.example:8443"
    user = user_factory("agent", "sms", work_phone="+358401234567")
    sign_in(HttpClient(), user)
    sms = sms_gateway.wait_for(to="+358401234567")
    code = code_in(sms.text)
    lines = sms.text.splitlines()
    assert lines[-1] == f"@login.northwind.example #{code}"
    assert lines[0].startswith("Your Deskgate sign-in code is")
    assert len(sms.text) <= 160  # one SMS segment
