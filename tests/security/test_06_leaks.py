"""6. Leaks: no code, password, secret or full phone number in any log record (every
logger at DEBUG), any response (body or header), the audit trail or an error page; codes
are stored only as keyed hashes.

ZITADEL CVE-2026-105211 (codes in the API response), django-two-factor-auth
GHSA-vhr6-pvjm-9qwf (password kept in the session), privacyIDEA
test_lib_tokens_email.py::test_17 (the PIN absent from DEBUG logs), OWASP MFA cheat sheet.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import traceback
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urljoin, urlsplit
from uuid import uuid4

import phonenumbers
import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.core import mail

from deskgate.accounts.models import AuditEvent, User
from deskgate.conf import KannelConfig, parse_sms_url
from deskgate.delivery.models import OutboxMessage
from deskgate.signin import codes
from deskgate.signin.models import ContactChange, PendingSignIn
from tests.conftest import PASSWORD
from tests.mailbox import code_in, find_code, last_code, messages_to
from tests.security.conftest import (
    found,
    full_sign_in,
    visible_text,
)

pytestmark = pytest.mark.django_db(transaction=True)

NEW_OWN_PASSWORD = "violet harbour crane 8812"
RESET_PASSWORD = "copper meadow signal 3390"
TEMP_PASSWORD = "quartz lantern ember 4417"
WRONG_PASSWORDS = ["tangerine wrong guess 1", "tangerine wrong guess 2"]
SSO_SECRET = "test-secret-0123456789"  # the test provider's client secret
COOLDOWN = timedelta(seconds=31)


@pytest.fixture
def every_log_record() -> Iterator[list[tuple[str, str]]]:
    """(logger name, text) of every record any logger emits, all of them at DEBUG.

    Loggers that do not propagate (django.server, the request log) get the handler too;
    the text includes a formatted traceback when the record carries one.
    """
    records: list[tuple[str, str]] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.name.startswith(("urllib3", "requests", "charset_normalizer")) and (
                "process_request_thread" not in (record.threadName or "")
            ):
                return  # the attacker's own HTTP client, not the product
            try:
                text = record.getMessage()
            except Exception:  # noqa: BLE001  # a bad format string is still a record
                text = f"{record.msg} {record.args}"
            if record.exc_info:
                text += "\n" + "".join(traceback.format_exception(*record.exc_info))
            records.append((record.name, text))

    handler = Keep(level=logging.DEBUG)
    names = [""] + list(logging.root.manager.loggerDict)
    loggers = [logging.getLogger(name) for name in names]
    saved = [(lg, lg.level, lg.disabled) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.disabled = False
        if lg is logging.root or not lg.propagate:
            lg.addHandler(handler)
    try:
        yield records
    finally:
        for lg, level, disabled in saved:
            lg.setLevel(level)
            lg.disabled = disabled
            lg.removeHandler(handler)


class Secrets:
    """What must never show: codes, passwords, secrets, full phone numbers."""

    def __init__(self) -> None:
        self.codes: set[str] = set()
        self.passwords: set[str] = set()
        self.phones: set[str] = set()  # E.164

    def collect_codes(self) -> None:
        texts = [str(m.body) for m in mail.outbox]
        texts += list(OutboxMessage.objects.values_list("body", flat=True))
        self.codes |= {c for t in texts if (c := find_code(t))}

    def national_numbers(self) -> set[str]:
        """The national significant numbers: "401234567" of +358 40 1234567."""
        return {str(phonenumbers.parse(e164, None).national_number) for e164 in self.phones}

    def found_in(self, text: str, *, phones: bool = True) -> list[str]:
        hits = [f"code {c}" for c in self.codes if re.search(rf"(?<!\d){c}(?!\d)", text)]
        hits += [f"password {p!r}" for p in self.passwords if p in text]
        if phones:
            # In any grouping: "+358 40 1234567", "040-123 4567", "%2B358401234567".
            digits_only = re.sub(r"[\s\-().\u00a0]|%20|%2B", "", text)
            hits += [f"phone {n}" for n in self.national_numbers() if n in digits_only]
        return hits


def response_text(response) -> str:
    headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    return f"{response.url}\n{headers}\n{response.text}"


# Pages that show the signed-in user's own data or an admin their client's users (the
# admin needs the full number to edit it): phone numbers are expected there, nowhere else.
PHONE_PAGES = ("/users/", "/account/", "/templates/")


def assert_nothing_leaked(secrets: Secrets, records, responses) -> None:
    leaks = []
    for name, text in records:
        leaks += [f"log {name}: {hit}" for hit in secrets.found_in(text)]
    for response in responses:
        path = urlsplit(response.url).path
        shows_phones = path.startswith(PHONE_PAGES) and response.status_code == 200
        for hit in secrets.found_in(response_text(response), phones=not shows_phones):
            leaks.append(f"response {response.request.method} {path}: {hit}")
    for event in AuditEvent.objects.all():
        text = f"{event.summary}\n{json.dumps(event.detail)}\n{event.actor_label}"
        leaks += [f"audit {event.action}: {hit}" for hit in secrets.found_in(text)]
    assert not leaks, "\n".join(sorted(set(leaks))[:50])


def test_sign_ins_codes_resends_failures_admin_changes_resets_leak_nothing(
    browser, user_factory, tenant, every_log_record, clock
) -> None:
    secrets = Secrets()
    admin = user_factory("admin", "email", username="anna.admin", full_name="Anna Admin")
    agent = user_factory("agent", "sms", username="sam.sms", email="sam.sms@example.com")
    mailer = user_factory("agent", "email", username="eve.email")
    secrets.passwords |= {PASSWORD, NEW_OWN_PASSWORD, RESET_PASSWORD, TEMP_PASSWORD}
    secrets.passwords |= set(WRONG_PASSWORDS)
    secrets.phones |= {admin.work_phone, agent.work_phone, mailer.work_phone}
    secrets.phones |= {"+358407654321", "+358501112233", "+358449990011"}

    # The admin: sign-in with a code, then changes on the admin pages.
    a = full_sign_in(browser(), admin)
    a.post(
        "/users/create/",
        {
            "username": "new.sms",
            "full_name": "New Sms",
            "level": "agent",
            "employment": "active",
            "email": "new.sms@example.com",
            "work_phone": "040 765 4321",
            "mfa_method": "sms",
            "password": TEMP_PASSWORD,
        },
    )
    created = User.objects.get(username="new.sms")
    a.post(
        f"/users/{agent.pk}/",
        {
            "username": agent.username,
            "full_name": agent.full_name,
            "level": "agent",
            "employment": "active",
            "email": agent.email,
            "work_phone": "+358 44 999 0011",
            "mfa_method": "sms",
            "password": "",
        },
    )
    a.post(
        f"/users/{created.pk}/",
        {
            "username": created.username,
            "full_name": created.full_name,
            "level": "agent",
            "employment": "active",
            "email": created.email,
            "work_phone": "040 765 4321",
            "mfa_method": "email",
            "password": "",
        },
    )
    a.post(
        "/users/bulk/",
        [("method", "email"), ("scope", "selected"), ("users", mailer.pk), ("key", str(uuid4()))],
        form="/users/",
    )
    a.post(
        "/settings/",
        {"password_reset_enabled": "on", "remember_device_enabled": "on", "sms_countries": "FI"},
    )
    a.get("/audit/")
    a.get(f"/audit/?user={agent.pk}")
    a.get(f"/users/{agent.pk}/")

    # The SMS agent: wrong passwords, a wrong code, a resend, the right code.
    s = browser()
    for wrong in WRONG_PASSWORDS:
        s.sign_in(agent.username, wrong)
    s.sign_in(agent.username)
    s.submit_code("000000" if last_code(agent) != "000000" else "111111")
    clock(COOLDOWN)
    s.resend()
    s.code_page()
    s.submit_code(last_code(agent))
    assert s.whoami() == agent.full_name
    # ...changes the password, then the Work phone (re-authenticated, confirmed by code).
    s.post(
        "/signin/password/",
        {
            "current_password": PASSWORD,
            "new_password": NEW_OWN_PASSWORD,
            "confirm_password": NEW_OWN_PASSWORD,
        },
    )
    s.post(
        "/account/contact/",
        {
            "field": "work_phone",
            "value": "+358 50 111 2233",
            "current_password": WRONG_PASSWORDS[0],
        },
    )
    s.post(
        "/account/contact/",
        {"field": "work_phone", "value": "+358 50 111 2233", "current_password": NEW_OWN_PASSWORD},
    )
    change_code = code_in(messages_to("+358501112233")[-1])
    s.post("/account/contact/confirm/", {"code": other(change_code)})
    s.post("/account/contact/confirm/", {"code": change_code})
    agent.refresh_from_db()
    assert agent.work_phone == "+358501112233"

    # The email agent: a password reset by link, then a sign-in with the new password.
    r = browser()
    r.post("/signin/reset/", {"email": mailer.email})
    link = found(r"https?://\S+/signin/reset/\S+/", messages_to(mailer.email)[-1], 0)
    r.get(urlsplit(link).path)
    r.post(
        urlsplit(link).path, {"new_password": RESET_PASSWORD, "confirm_password": RESET_PASSWORD}
    )
    full_sign_in(r, mailer, RESET_PASSWORD)

    # Error pages: 404, 403 (CSRF and a refused page), 400 (a bad reset link).
    a.get("/users/99999999/")
    a.post_raw("/users/create/", {"username": "x", "password": TEMP_PASSWORD})
    s.get("/users/")
    r.get("/signin/reset/MQ/bad-token/")
    assert {x.status_code for x in browser.seen} >= {200, 302, 400, 403, 404}

    secrets.collect_codes()
    assert len(secrets.codes) >= 5  # four sign-in codes or resends, one confirmation code
    assert_nothing_leaked(secrets, every_log_record, browser.seen)


def other(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_sms_gateway_secrets_stay_out_of_logs_and_pages(
    browser, user_factory, sms_gateway, settings, every_log_record
) -> None:
    settings.DESKGATE_SMS = parse_sms_url(sms_gateway.url)
    user = user_factory("agent", "sms")
    b = browser()
    b.sign_in(user.username)
    sms = sms_gateway.wait_for(to=user.work_phone)
    code = code_in(sms.text)
    b.submit_code(code)
    assert b.whoami() == user.full_name
    secrets = Secrets()
    secrets.codes.add(code)
    secrets.passwords |= {PASSWORD, settings.DESKGATE_SMS.password, django_settings.SECRET_KEY}
    secrets.phones.add(user.work_phone)
    assert_nothing_leaked(secrets, every_log_record, browser.seen)


def test_sso_secret_stays_out_of_logs_pages_and_audit(
    browser, user_factory, tenant, oidc_provider, settings, live_server, every_log_record
) -> None:
    settings.DESKGATE_BASE_URL = live_server.url
    admin = user_factory("admin", "off", username="sso.admin", full_name="Sso Admin")
    anna = user_factory("agent", "sms", username="anna", email="anna@northwind.example")
    a = full_sign_in(browser(), admin)
    response = a.post(
        "/settings/sso/",
        {
            "issuer": oidc_provider.issuer,
            "client_id": "deskgate-test",
            "secret": SSO_SECRET,
            "action": "save",
        },
    )
    assert response.status_code == 302, visible_text(response)
    a.get("/settings/sso/")
    a.post("/settings/sso/", {"action": "test"})
    a.get("/settings/sso/")
    a.get("/audit/")
    # A sign-in through the provider: the secret goes to its token endpoint, nowhere else.
    b = browser()
    page = b.visit(f"/signin/sso/{tenant.slug}/")  # on to the provider's login page
    action = found(r'<form[^>]*action="([^"]+)"', page.text)
    fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page.text))
    fields |= {"login": "anna", "password": "any password will do"}
    b.visit(urljoin(page.url, action), fields)  # back through the callback, signed in
    assert b.whoami() == anna.full_name
    secrets = Secrets()
    secrets.passwords |= {SSO_SECRET, PASSWORD, django_settings.SECRET_KEY}
    secrets.phones.add(anna.work_phone)
    assert_nothing_leaked(secrets, every_log_record, browser.seen)


def test_codes_are_stored_only_as_keyed_hashes_bound_to_the_attempt(browser, user_factory) -> None:
    user = user_factory("agent", "email")
    b = browser()
    b.sign_in(user.username)
    code = last_code(user)
    row = PendingSignIn.objects.get(user=user)
    stored = json.dumps(
        list(PendingSignIn.objects.filter(pk=row.pk).values().get().values()), default=str
    )
    assert code not in stored
    assert re.fullmatch(r"[0-9a-f]{64}", row.code_hash)
    assert row.code_hash == codes.code_hash(row.token, code)
    assert row.code_hash != codes.code_hash("another attempt", code)
    # Keyed: an unkeyed hash of any of the million codes is not what is stored.
    import hashlib

    assert row.code_hash not in {
        hashlib.sha256(code.encode()).hexdigest(),
        hashlib.sha256(f"{row.token}:{code}".encode()).hexdigest(),
    }
    # The session holds the attempt's token only: no password, no code, no user id.
    session = Session.objects.get(session_key=b.session_key).get_decoded()
    assert PASSWORD not in json.dumps(session) and code not in json.dumps(session)
    assert "_auth_user_id" not in session
    # Only the opaque token of the attempt (and what the first send said): no user id.
    assert set(session) <= {"deskgate.pending", "deskgate.first-send"}, session
    assert session["deskgate.pending"] == row.token

    # A confirmation code for a new Email is stored the same way.
    b.submit_code(code)
    b.post(
        "/account/contact/",
        {"field": "email", "value": "new.address@example.com", "current_password": PASSWORD},
    )
    change = ContactChange.objects.get(user=user)
    confirmation = code_in(messages_to("new.address@example.com")[-1])
    stored = json.dumps(
        list(ContactChange.objects.filter(pk=change.pk).values().get().values()), default=str
    )
    assert confirmation not in stored
    assert change.code_hash == codes.code_hash(change.token, confirmation)


def test_outbox_page_with_codes_does_not_exist_in_production(browser, user_factory) -> None:
    user = user_factory("agent", "sms")
    b = browser()
    b.sign_in(user.username)
    response = b.get("/outbox/")
    assert response.status_code == 404
    assert last_code(user) not in response.text


def _garbage_gateway() -> tuple[socket.socket, threading.Thread]:
    """An SMS gateway that answers every request with something that is not HTTP."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(b"garbage\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return server, thread


def test_gateway_failure_leaks_nothing(browser, user_factory, settings, every_log_record) -> None:
    """A gateway that answers nonsense: the page, the audit row and the logs name neither
    the gateway's password, nor the number, nor the user's password."""
    server, _ = _garbage_gateway()
    secret = "gw-secret-5150-zz"
    settings.DESKGATE_SMS = KannelConfig(
        host="127.0.0.1",
        port=server.getsockname()[1],
        user="deskgate",
        password=secret,
        sender="Deskgate",
        use_https=False,
    )
    try:
        user = user_factory("agent", "sms")
        b = browser()
        b.sign_in(user.username)
        b.code_page()
    finally:
        server.close()
    secrets = Secrets()
    secrets.passwords |= {PASSWORD, secret}
    secrets.phones.add(user.work_phone)
    assert_nothing_leaked(secrets, every_log_record, browser.seen)


def test_server_error_page_and_its_log_leak_nothing(
    browser, user_factory, monkeypatch, every_log_record
) -> None:
    """A programming error while a code goes out (the gateway raises something nobody
    expected): the 500 page is Django's bare one, and the logged traceback carries no
    code, password or number (production settings: DEBUG off, no locals)."""
    from deskgate.delivery import channels

    sent: list[str] = []

    def broken_gateway(to: str, text: str) -> None:
        sent.append(text)
        raise RuntimeError("the gateway module has a bug")

    monkeypatch.setattr(channels, "send_sms", broken_gateway)
    user = user_factory("agent", "sms")
    b = browser()
    response = b.sign_in(user.username)
    crashed = response.status_code == 500 or b.code_page().status_code == 500
    secrets = Secrets()
    secrets.codes |= {code_in(text) for text in sent}
    secrets.passwords.add(PASSWORD)
    secrets.phones.add(user.work_phone)
    assert sent and secrets.codes
    assert crashed, "expected a server error from a gateway that raises RuntimeError"
    assert any(x.status_code == 500 for x in browser.seen)
    assert any("Traceback" in text for _, text in every_log_record)
    assert_nothing_leaked(secrets, every_log_record, browser.seen)


def test_sms_gateway_speaking_garbage_is_a_delivery_failure(
    browser, user_factory, settings
) -> None:
    """Regression (found by this campaign, fixed in 7df66b6). Was: an SMS gateway
    answering with something that is not HTTP makes the password step answer HTTP 500:
    KannelGateway.send() catches HTTPError, URLError, TimeoutError and OSError, but
    http.client.BadStatusLine (an HTTPException) escapes challenge.issue(), after the code
    was counted against the send caps"""
    server, _ = _garbage_gateway()
    settings.DESKGATE_SMS = KannelConfig(
        host="127.0.0.1",
        port=server.getsockname()[1],
        user="deskgate",
        password="x" * 8,
        sender="Deskgate",
        use_https=False,
    )
    try:
        user = user_factory("agent", "sms")
        b = browser()
        response = b.sign_in(user.username)
    finally:
        server.close()
    assert response.status_code == 302
    assert "could not send the code" in visible_text(b.code_page())
    assert AuditEvent.objects.filter(action="code.send_failed", subject=user).exists()


def test_refused_user_form_does_not_send_the_password_back(
    browser, user_factory, admin_user
) -> None:
    """Regression (found by this campaign, fixed in 7df66b6). Was: a refused Create/Save
    on the user form sends the typed password back in the page: UserForm.password uses
    PasswordInput(render_value=True) (src/deskgate/web/forms.py), and /users/create/ is
    not never_cache"""
    user_factory("agent", "email", email="taken@example.com")
    a = full_sign_in(browser(), admin_user)
    response = a.post(
        "/users/create/",
        {
            "username": "second.taken",
            "full_name": "Second Taken",
            "level": "agent",
            "employment": "active",
            "email": "taken@example.com",
            "work_phone": "",
            "mfa_method": "email",
            "password": TEMP_PASSWORD,
        },
    )
    assert response.status_code == 200  # refused: the address gets another user's codes
    assert TEMP_PASSWORD not in response.text


def test_searching_users_by_phone_keeps_the_number_out_of_request_logs(
    browser, user_factory, admin_user, every_log_record
) -> None:
    """A search by phone number puts the number in the URL (GET /users/?q=...). The live
    server used here logs no request lines, so the request logs are checked where they are
    made: Django's server log (`django.server`, through the product's LOGGING) and
    gunicorn's access log format in `make run`.

    Found by this campaign, fixed in 7df66b6: `make run` logged gunicorn's default format,
    whose request line ("%(r)s") and referer ("%(f)s") carry the query string."""
    agent = user_factory("agent", "sms")
    a = full_sign_in(browser(), admin_user)
    response = a.get("/users/", params={"q": agent.work_phone})
    assert agent.full_name in response.text
    # The request line as Django's development server logs it (WSGIRequestHandler).
    request_line = f"GET {urlsplit(response.url).path}?{urlsplit(response.url).query} HTTP/1.1"
    logging.getLogger("django.server").info('"%s" %s %s', request_line, "200", "512")
    secrets = Secrets()
    secrets.phones.add(agent.work_phone)
    leaks = [(name, hit) for name, text in every_log_record for hit in secrets.found_in(text)]
    assert not leaks
    assert any(name == "django.server" for name, _ in every_log_record)
    # gunicorn's access log: only fields without the query string or the referer.
    makefile = (Path(django_settings.BASE_DIR) / "Makefile").read_text()
    access_log = re.search(r"^ACCESS_LOG\s*:?=\s*(.+)$", makefile, re.M)
    assert access_log, "make run must set gunicorn's --access-logformat"
    assert "--access-logformat '$(ACCESS_LOG)'" in makefile
    for field in ("%(r)s", "%(q)s", "%(f)s", "%({x-forwarded-for}i)s"):
        assert field not in access_log.group(1), field
