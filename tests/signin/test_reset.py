"""Self-service password reset: off by default, one neutral answer, a single-use timed link
built from the configured address, never a sign-in, at most 3 requests per address an hour."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from deskgate import cli
from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import AuditEvent, Client, User
from deskgate.delivery.models import OutboxMessage
from deskgate.signin import reset_delivery
from deskgate.signin.models import ResetMail, ResetMailState, ResetRequest, SignInGuard
from tests.conftest import PASSWORD, sign_in
from tests.harness.net import free_port
from tests.pages import content, field_errors, page_text, without_csrf

BASE_URL = "https://deskgate.example.com"
NEW_PASSWORD = "harbour lantern seventeen owls"
LINK_RE = re.compile(r"(\S+/signin/reset/[^/\s]+/[^/\s]+/)")


def turn_reset(client: Client, on: bool) -> None:
    actions.update_client_settings(
        client, by=OPERATOR, password_reset_enabled=on, remember_device_enabled=True
    )


@pytest.fixture(autouse=True)
def _base_url(settings: Any) -> None:
    settings.DESKGATE_BASE_URL = BASE_URL


@pytest.fixture
def reset_on(tenant: Client) -> Client:
    turn_reset(tenant, True)
    return tenant


def ask(email: str, http: HttpClient | None = None, **extra: Any) -> Any:
    """Ask for a link, then run the reset mail worker's work here (the tests' transaction
    is never committed, so the worker thread would see nothing)."""
    response = (http or HttpClient()).post("/signin/reset/", {"email": email}, **extra)
    assert response.status_code == 200
    reset_delivery.deliver_pending()
    return response


def link_path(message: Any) -> str:
    links = LINK_RE.findall(message.body)
    assert len(links) == 1, message.body
    assert links[0].startswith(BASE_URL + "/signin/reset/"), links[0]
    return links[0].removeprefix(BASE_URL)


def choose(http: HttpClient, path: str, new: str = NEW_PASSWORD) -> Any:
    return http.post(path, {"new_password": new, "confirm_password": new})


def test_tests_capture_mail_in_memory_not_in_the_outbox(
    settings: Any, reset_on: Client, vera: User
) -> None:
    # The product's default backend keeps mail in OutboxMessage rows; under pytest-django the
    # locmem backend replaces it, so these tests read django.core.mail.outbox.
    assert settings.EMAIL_BACKEND == "django.core.mail.backends.locmem.EmailBackend"
    ask(vera.email)
    assert len(mail.outbox) == 1
    assert not OutboxMessage.objects.filter(channel="email").exists()


def test_request_page_has_the_email_field(db: None) -> None:
    response = HttpClient().get("/signin/reset/")
    assert response.status_code == 200
    assert 'name="email"' in content(response)
    assert 'href="/signin/reset/"' in content(HttpClient().get("/signin/"))


def test_off_by_default_no_mail(vera: User, tenant: Client) -> None:
    assert not tenant.password_reset_enabled
    response = ask(vera.email)
    assert "Check your email" in page_text(response)
    assert mail.outbox == []
    assert not AuditEvent.objects.filter(action="password.reset_requested").exists()


def test_on_one_mail_with_a_link_from_the_configured_address(
    settings: Any, reset_on: Client, vera: User
) -> None:
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "evil.example"]
    ask(vera.email, HTTP_HOST="evil.example", HTTP_X_FORWARDED_HOST="evil.example")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["vera@northwind.example"]
    assert "evil.example" not in message.body
    assert "vera.agent" in message.body
    assert "within 60 minutes" in message.body
    link_path(message)
    event = AuditEvent.objects.get(action="password.reset_requested", subject=vera)
    assert event.detail["destination"] == "v••••@northwind.example"


def test_the_address_is_matched_without_regard_to_case(reset_on: Client, vera: User) -> None:
    ask("  VERA@Northwind.EXAMPLE ")
    assert [m.to for m in mail.outbox] == [["vera@northwind.example"]]


def test_same_page_whether_or_not_the_account_exists(
    reset_on: Client,
    vera: User,
    user_factory: Callable[..., User],
    tenant_factory: Callable[..., Client],
) -> None:
    user_factory("agent", email="shared@northwind.example")
    user_factory("agent", email="shared@northwind.example")
    user_factory("agent", email="asleep@northwind.example", active=False)
    closed = tenant_factory("Closed Co")
    user_factory("agent", client=closed, email="closed@closed.example")
    answers = {
        address: without_csrf(ask(address))
        for address in (
            vera.email,
            "nobody@northwind.example",
            "shared@northwind.example",
            "asleep@northwind.example",
            "closed@closed.example",
            "not-an-address",
        )
    }
    assert len(set(answers.values())) == 1, answers.keys()
    assert "If an account uses that address" in page_text(ask("again@example.com"))
    assert [m.to for m in mail.outbox] == [[vera.email]]


def test_no_mail_when_accounts_of_one_company_share_the_address(
    reset_on: Client,
    user_factory: Callable[..., User],
    other_tenant_with_reset: Client,
) -> None:
    user_factory("agent", username="kalle.agent", email="customer.service@northwind.example")
    user_factory("agent", username="liisa.agent", email="Customer.Service@northwind.example")
    ask("customer.service@northwind.example")
    assert mail.outbox == []
    refused = AuditEvent.objects.get(action="password.reset_refused")
    assert refused.client == reset_on
    assert refused.detail["reason"] == "shared_address"


def test_one_link_per_company_when_companies_share_the_address(
    reset_on: Client,
    user_factory: Callable[..., User],
    other_tenant_with_reset: Client,
) -> None:
    # The rule "several accounts share the address" holds inside one company: another
    # company's account with the same address blocks nobody.
    user_factory("agent", username="pekka.agent", email="help@example.com")
    user_factory(
        "agent", username="olga.other", email="help@example.com", client=other_tenant_with_reset
    )
    ask("help@example.com")
    assert sorted(m.subject for m in mail.outbox) == [
        "Reset your Deskgate password (Contoso)",
        "Reset your Deskgate password (Northwind)",
    ]
    for message in mail.outbox:
        assert message.to == ["help@example.com"]
        named = "pekka.agent" if "Northwind" in message.subject else "olga.other"
        assert named in message.body
        link_path(message)
    assert not AuditEvent.objects.filter(action="password.reset_refused").exists()


@pytest.fixture
def other_tenant_with_reset(tenant_factory: Callable[..., Client]) -> Client:
    other = tenant_factory("Contoso")
    turn_reset(other, True)
    return other


def test_inactive_user_gets_no_mail(reset_on: Client, user_factory: Callable[..., User]) -> None:
    user_factory("agent", email="asleep@northwind.example", active=False)
    ask("asleep@northwind.example")
    assert mail.outbox == []


def test_link_works_once_and_never_signs_in(reset_on: Client, vera: User) -> None:
    elsewhere = HttpClient()
    sign_in(elsewhere, vera)
    assert elsewhere.get("/account/").status_code == 200
    ask(vera.email)
    path = link_path(mail.outbox[0])
    http = HttpClient()
    form = http.get(path)
    assert form.status_code == 200
    assert "Choose a new password" in page_text(form)
    done = choose(http, path)
    assert done.status_code == 302
    assert done["Location"] == "/signin/"
    assert SESSION_KEY not in http.session
    assert http.get("/account/").status_code == 302
    assert "Your password is changed. Sign in with it now." in page_text(http.get("/signin/"))
    vera.refresh_from_db()
    assert vera.check_password(NEW_PASSWORD)
    assert not vera.check_password(PASSWORD)
    # Sessions opened with the old password end.
    assert elsewhere.get("/account/").status_code == 302
    # A second use of the link.
    again = HttpClient()
    used = again.get(path)
    assert used.status_code == 400
    assert "This link does not work" in page_text(used)
    assert choose(again, path, "another fine long passphrase").status_code == 400
    vera.refresh_from_db()
    assert vera.check_password(NEW_PASSWORD)
    # The new password signs in the normal way.
    assert sign_in(HttpClient(), vera, NEW_PASSWORD)["Location"] == "/"


def test_reset_of_an_mfa_user_leaves_the_code_owed(
    reset_on: Client, user_factory: Callable[..., User]
) -> None:
    mia = user_factory("agent", "email", username="mia.mfa", email="mia@northwind.example")
    ask(mia.email)
    path = link_path(mail.outbox[-1])
    http = HttpClient()
    short = choose(http, path, "7 chars")
    assert field_errors(short, "new_password")[0].startswith(
        "Use at least 8 characters with MFA on (this one has 7)."
    )
    assert choose(http, path, "8 chars!").status_code == 302
    assert SESSION_KEY not in http.session
    after = sign_in(HttpClient(), mia, "8 chars!")
    assert after.status_code == 302
    assert after["Location"] == "/signin/code/"


def test_new_password_rules_apply_to_a_reset(reset_on: Client, vera: User) -> None:
    ask(vera.email)
    path = link_path(mail.outbox[0])
    http = HttpClient()
    short = choose(http, path, "fourteen chars")
    assert "Use at least 15 characters without MFA" in field_errors(short, "new_password")[0]
    named = choose(http, path, "vera.agent forever and ever")
    assert "must not contain your user name" in field_errors(named, "new_password")[0]
    differ = http.post(path, {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD + "x"})
    assert field_errors(differ, "confirm_password") == ["The two passwords are not the same."]
    vera.refresh_from_db()
    assert vera.check_password(PASSWORD)
    assert choose(http, path).status_code == 302  # the link still works after refusals


@pytest.mark.parametrize(("minutes", "works"), [(59, True), (61, False), (60 * 24, False)])
def test_link_expires_after_an_hour(
    clock: Callable[[timedelta], datetime], reset_on: Client, vera: User, minutes: int, works: bool
) -> None:
    ask(vera.email)
    path = link_path(mail.outbox[0])
    clock(timedelta(minutes=minutes))
    assert HttpClient().get(path).status_code == (200 if works else 400)


def test_link_stops_working_when_the_client_turns_reset_off(reset_on: Client, vera: User) -> None:
    ask(vera.email)
    path = link_path(mail.outbox[0])
    turn_reset(reset_on, False)
    assert HttpClient().get(path).status_code == 400


def test_link_of_a_deactivated_user_does_not_work(reset_on: Client, vera: User) -> None:
    ask(vera.email)
    path = link_path(mail.outbox[0])
    actions.set_user_active(vera, False, by=OPERATOR)
    assert HttpClient().get(path).status_code == 400


@pytest.mark.parametrize(
    "path",
    [
        "/signin/reset/abc/def/",
        "/signin/reset/MQ/not-a-token/",
        "/signin/reset/%00/%00/",
        "/signin/reset/OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5/1-2/",
        "/signin/reset/LTE/x-y/",
        "/signin/reset/" + "A" * 2000 + "/" + "b" * 2000 + "/",
        "/signin/reset/8J-YgA/x/",
    ],
)
def test_forged_links_are_refused_never_fail(reset_on: Client, vera: User, path: str) -> None:
    http = HttpClient()
    assert http.get(path).status_code == 400
    assert choose(http, path).status_code == 400
    vera.refresh_from_db()
    assert vera.check_password(PASSWORD)


def test_a_link_for_one_user_does_not_reset_another(
    reset_on: Client, vera: User, user_factory: Callable[..., User]
) -> None:
    other = user_factory("agent", username="otto.agent", email="otto@northwind.example")
    ask(vera.email)
    path = link_path(mail.outbox[0])
    token = path.rstrip("/").rsplit("/", 1)[1]
    forged = f"/signin/reset/{urlsafe_base64_encode(force_bytes(other.pk))}/{token}/"
    assert HttpClient().get(forged).status_code == 400


def test_at_most_three_requests_per_address_per_hour(
    reset_on: Client, vera: User, user_factory: Callable[..., User], clock
) -> None:
    pia = user_factory("agent", username="pia.agent", email="pia@northwind.example")
    for typed in ("vera@northwind.example", "VERA@northwind.example", " Vera@Northwind.Example"):
        ask(typed)
    assert len(mail.outbox) == 3
    fourth = ask(vera.email)
    assert "Check your email" in page_text(fourth)  # the same answer, but no mail
    assert len(mail.outbox) == 3
    ask(pia.email)  # another address has its own allowance
    assert len(mail.outbox) == 4
    # The next clock hour the address has its allowance again.
    clock(timedelta(hours=1))
    ask(vera.email)
    assert len(mail.outbox) == 5


@pytest.mark.parametrize(
    "email",
    [
        "\x00",
        "a\x00@example.com",
        "x" * 10_000,
        "😀@😀.example",
        "",
        " ",
        "@",
    ],
)
def test_garbage_addresses_never_fail(reset_on: Client, vera: User, email: str) -> None:
    response = HttpClient().post("/signin/reset/", {"email": email})
    assert response.status_code == 200
    assert mail.outbox == []


@pytest.mark.filterwarnings("error::django.core.cache.backends.base.CacheKeyWarning")
def test_any_typed_address_makes_a_valid_cache_key(reset_on: Client, vera: User) -> None:
    for email in ("not an address", "a" * 240 + "@example.com"):
        response = HttpClient().post("/signin/reset/", {"email": email})
        assert response.status_code == 200


# --- the queue: the request only queues, the worker decides and sends -----------------


def request_queries(address: str) -> list[str]:
    """The SQL the reset request runs, with the values left out."""
    with CaptureQueriesContext(connection) as queries:
        response = HttpClient().post("/signin/reset/", {"email": address})
    assert response.status_code == 200
    return [re.sub(r"'[^']*'|\w*\d\w*", "?", q["sql"]) for q in queries.captured_queries]


def test_the_request_does_the_same_work_for_known_and_unknown_addresses(
    reset_on: Client, vera: User, user_factory: Callable[..., User]
) -> None:
    user_factory("agent", email="shared@northwind.example")
    user_factory("agent", email="shared@northwind.example")
    known = request_queries(vera.email)
    assert known == request_queries("nobody@northwind.example")
    assert known == request_queries("shared@northwind.example")
    assert not any('"accounts_user"' in sql for sql in known), known
    # Nothing was sent inside the requests: three rows wait for the worker.
    assert mail.outbox == []
    assert ResetRequest.objects.count() == 3
    assert reset_delivery.deliver_pending() is None
    assert [m.to for m in mail.outbox] == [[vera.email]]
    assert not ResetRequest.objects.exists()


def test_the_worker_starts_once_the_request_commits(
    reset_on: Client, vera: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        HttpClient().post("/signin/reset/", {"email": vera.email})
    assert callbacks == [reset_delivery.worker.kick]
    assert mail.outbox == []


def test_a_mail_server_that_is_down_is_audited_and_tried_again(
    settings: Any, reset_on: Client, vera: User, clock: Callable[[timedelta], datetime]
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    response = HttpClient().post("/signin/reset/", {"email": vera.email})
    assert response.status_code == 200
    assert reset_delivery.deliver_pending() == pytest.approx(60, abs=2)
    failed = AuditEvent.objects.get(action="password.reset_mail_failed", subject=vera)
    assert failed.detail["destination"] == "v••••@northwind.example"
    assert "the mail server did not accept the message" in failed.detail["error"]
    assert "trying again in 60 seconds" in failed.summary
    # The server is back; the retry is due a minute later.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert reset_delivery.deliver_pending() is not None
    assert mail.outbox == []
    clock(timedelta(seconds=61))
    assert reset_delivery.deliver_pending() is None
    assert [m.to for m in mail.outbox] == [[vera.email]]
    assert ResetMail.objects.get().state == ResetMailState.SENT


def test_after_the_last_attempt_the_failure_is_final_and_the_next_request_sends(
    settings: Any, reset_on: Client, vera: User
) -> None:
    settings.DESKGATE_RESET = {**settings.DESKGATE_RESET, "mail_attempts": 1}
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    ask(vera.email)
    failed = AuditEvent.objects.get(action="password.reset_mail_failed", subject=vera)
    assert failed.detail["final"] is True
    assert ResetMail.objects.get().state == ResetMailState.FAILED
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    ask(vera.email)
    assert [m.to for m in mail.outbox] == [[vera.email]]


def test_a_row_held_by_a_worker_that_died_is_taken_over(
    reset_on: Client, vera: User, clock: Callable[[timedelta], datetime]
) -> None:
    HttpClient().post("/signin/reset/", {"email": vera.email})
    # Another process claimed the request and died.
    ResetRequest.objects.update(claimed_until=timezone.now() + timedelta(minutes=3))
    wait = reset_delivery.deliver_pending()
    assert wait is not None and 170 < wait <= 180
    assert mail.outbox == []
    clock(timedelta(minutes=4))
    assert reset_delivery.deliver_pending() is None
    assert [m.to for m in mail.outbox] == [[vera.email]]


def test_a_link_queued_before_the_email_changed_is_not_sent(reset_on: Client, vera: User) -> None:
    HttpClient().post("/signin/reset/", {"email": vera.email})
    reset_delivery._resolve(ResetRequest.objects.get())
    vera.email = "vera.new@northwind.example"
    vera.save(update_fields=["email"])
    reset_delivery.deliver_pending()
    assert mail.outbox == []
    assert ResetMail.objects.get().state == ResetMailState.DROPPED


def test_after_the_hours_allowance_a_used_or_expired_link_lets_the_owner_ask_again(
    settings: Any, reset_on: Client, vera: User, clock: Callable[[timedelta], datetime]
) -> None:
    settings.PASSWORD_RESET_TIMEOUT = 10 * 60
    now = timezone.now()
    clock(now.replace(minute=1, second=0, microsecond=0) + timedelta(hours=1) - now)
    for _ in range(5):
        ask(vera.email)
    assert len(mail.outbox) == 3  # bounded while the links work
    clock(timedelta(minutes=11))  # every link sent has expired
    ask(vera.email)
    assert len(mail.outbox) == 4
    ask(vera.email)
    assert len(mail.outbox) == 4  # that one still works
    assert choose(HttpClient(), link_path(mail.outbox[-1])).status_code == 302
    ask(vera.email)  # used: the owner may ask again
    assert len(mail.outbox) == 5


def test_a_reset_ends_the_password_lock_but_not_the_code_lock(
    reset_on: Client, user_factory: Callable[..., User]
) -> None:
    mia = user_factory("agent", "email", username="mia.mfa", email="mia@northwind.example")
    later = timezone.now() + timedelta(hours=1)
    SignInGuard.objects.create(
        user=mia,
        password_failures=3,
        password_locked_until=later,
        password_lock_count=2,
        locked_until=later,
        lock_count=1,
    )
    assert sign_in(HttpClient(), mia, PASSWORD).status_code == 200  # locked: refused
    ask(mia.email)
    assert choose(HttpClient(), link_path(mail.outbox[0])).status_code == 302
    guard = SignInGuard.objects.get(user=mia)
    assert (guard.password_failures, guard.password_lock_count) == (0, 0)
    assert guard.password_locked_until is None
    assert guard.locked_until == later  # the emailed link is no second factor
    event = AuditEvent.objects.get(action="user.password_lock_ended", subject=mia)
    assert event.summary.endswith("(mia.mfa) ended by a reset through the emailed link")
    assert sign_in(HttpClient(), mia, NEW_PASSWORD)["Location"] == "/signin/code/"


def test_an_operator_command_sends_what_is_due(
    reset_on: Client, vera: User, capsys: pytest.CaptureFixture[str]
) -> None:
    HttpClient().post("/signin/reset/", {"email": vera.email})
    capsys.readouterr()
    cli.main(["deskgate", "deliver-reset-mail"])  # as an operator's cron runs it
    assert capsys.readouterr().out.strip() == "Reset mail queue: empty."
    assert [m.to for m in mail.outbox] == [[vera.email]]
