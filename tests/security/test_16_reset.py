"""16. Self-service password reset, attacked from outside.

- The request answers alike (status, body, timing) whether or not an account has the
  address, with the mail server fine, slow or down; the mail goes out after the response.
- One company cannot block another's reset by giving a user the same address.
- Strangers cannot use up the owner's reset; one requester is capped.
- A reset proven by the emailed link ends the password lock.
"""

from __future__ import annotations

import random
import re
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import AuditEvent, Client, User
from deskgate.signin.models import SignInGuard
from tests.conftest import PASSWORD
from tests.harness.net import LOOPBACK, free_port
from tests.harness.smtp import SlowSmtpServer, SmtpServer
from tests.security.conftest import Browser, comparable, parallel

pytestmark = pytest.mark.django_db(transaction=True)

LINK_RE = re.compile(r"https?://\S+?(/signin/reset/[^/\s]+/[^/\s]+/)")
NEW_PASSWORD = "harbour lantern seventeen owls"
SAMPLES = 48  # requests of each kind (about), after 2 * WARM_UP requests
WARM_UP = 4
MAX_ACCURACY = 0.70  # of a single-request classifier; 0.5 is chance


def turn_reset_on(client: Client) -> Client:
    actions.update_client_settings(
        client, by=OPERATOR, password_reset_enabled=True, remember_device_enabled=True
    )
    return client


@pytest.fixture(autouse=True)
def _reset_settings(settings: Any) -> Iterator[None]:
    settings.DESKGATE_RESET = {
        **getattr(settings, "DESKGATE_RESET", {}),
        "mail_attempts": 1,  # a failure is final at once: the tests need not wait for retries
    }
    yield


def use_smtp(settings: Any, host: str, port: int) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = host, port
    settings.EMAIL_TIMEOUT = 0.5


def wait_idle() -> None:
    """Wait until the reset mail worker has nothing left to do."""
    try:
        from deskgate.signin import reset_delivery
    except ImportError:  # the code before the queue sent its mail inside the request
        return
    assert reset_delivery.worker.wait_idle(timeout=120), "the reset mail worker did not finish"


def ask(b: Browser, address: str, csrf: str | None = None) -> Any:
    return b.post("/signin/reset/", {"email": address}, csrf=csrf)


def link_in(body: str) -> str:
    links = LINK_RE.findall(body)
    assert len(links) == 1, body
    return links[0]


# --- the same answer, with the mail server in three states ----------------------------


def nearest_median_accuracy(samples: list[tuple[str, float]]) -> float:
    """How often one request's time tells its kind: two-fold, the medians of one half
    classify each request of the other half by the nearer median."""
    halves = [samples[0::2], samples[1::2]]
    right = total = 0
    for train, test in ((halves[0], halves[1]), (halves[1], halves[0])):
        medians = {kind: statistics.median(t for k, t in train if k == kind) for kind in ("a", "b")}
        for kind, elapsed in test:
            guess = min(medians, key=lambda k: abs(medians[k] - elapsed))
            right += guess == kind
            total += 1
    return right / total


@pytest.mark.parametrize("state", ["fine", "slow", "down"])
def test_reset_request_answers_alike_whatever_the_mail_server_does(
    state: str,
    browser: Callable[[], Browser],
    tenant: Client,
    user_factory: Callable[..., User],
    smtp: SmtpServer,
    slow_smtp_server: SlowSmtpServer,
    settings: Any,
    record_property: Any,
) -> None:
    settings.DESKGATE_RESET = {**settings.DESKGATE_RESET, "per_ip_hour": 10_000}
    port = {"fine": smtp.port, "slow": slow_smtp_server.port, "down": free_port()}[state]
    use_smtp(settings, LOOPBACK, port)
    turn_reset_on(tenant)
    n = WARM_UP + SAMPLES
    # A fresh address each time, so that no per-address limit makes later requests cheap.
    existing = [user_factory("agent", email=f"staff{i}@northwind.example").email for i in range(n)]
    unknown = [f"nobody{i}@northwind.example" for i in range(n)]
    b = browser()
    token = b.csrf_token("/signin/reset/")
    answers: dict[str, set[tuple[int, str]]] = {"a": set(), "b": set()}
    samples: list[tuple[str, float]] = []
    # Interleaved in one shuffled order (not in pairs), so that whatever the worker does
    # after one response weighs on the next request whatever its kind.
    order = [("a", address) for address in existing] + [("b", address) for address in unknown]
    random.Random(16).shuffle(order)  # noqa: S311  # shuffling the order, not a secret
    for i, (kind, address) in enumerate(order):
        started = time.perf_counter()
        response = ask(b, address, csrf=token)
        elapsed = time.perf_counter() - started
        answers[kind].add((response.status_code, comparable(response, address)))
        if i >= 2 * WARM_UP:
            samples.append((kind, elapsed))
    assert len(answers["a"]) == 1, [status for status, _ in answers["a"]]
    assert answers["a"] == answers["b"]
    assert next(iter(answers["a"]))[0] == 200
    accuracy = nearest_median_accuracy(samples)
    medians = {kind: statistics.median(t for k, t in samples if k == kind) * 1000 for kind in "ab"}
    summary = f"{state}: existing {medians['a']:.1f} ms, unknown {medians['b']:.1f} ms, "
    summary += f"classifier accuracy {accuracy:.0%}"
    record_property("reset_timing", summary)
    print("\n" + summary)
    assert accuracy <= MAX_ACCURACY, summary
    # The mail did go out (or its failure is on record), after the answers.
    wait_idle()
    first = existing[WARM_UP]
    if state == "fine":
        assert "/signin/reset/" in smtp.wait_for(first).body
    else:
        failed = AuditEvent.objects.filter(
            action="password.reset_mail_failed", subject__email=first
        ).first()
        assert failed is not None
        assert "did not accept" in failed.detail["error"]


# --- one company cannot block another's reset -----------------------------------------


def test_each_company_gets_its_own_link_for_an_address_used_in_several(
    browser: Callable[[], Browser],
    tenant: Client,
    tenant_factory: Callable[..., Client],
    user_factory: Callable[..., User],
    smtp: SmtpServer,
    settings: Any,
) -> None:
    use_smtp(settings, LOOPBACK, smtp.port)
    turn_reset_on(tenant)
    contoso = turn_reset_on(tenant_factory("Contoso"))
    address = "vera@northwind.example"
    vera = user_factory("agent", username="vera.agent", email=address)
    # Another company's admin gives one of theirs the same address.
    olga = user_factory("agent", username="olga.contoso", email=address.upper(), client=contoso)
    ask(browser(), address)
    wait_idle()
    mails = smtp.messages
    assert len(mails) == 2, [m.body for m in mails]
    by_user = {("vera" if "vera.agent" in m.body else "olga"): m for m in mails}
    assert set(by_user) == {"vera", "olga"}
    assert "Northwind" in by_user["vera"].body
    assert "Contoso" not in by_user["vera"].body and "olga" not in by_user["vera"].body
    assert "Contoso" in by_user["olga"].body
    assert "Northwind" not in by_user["olga"].body and "vera" not in by_user["olga"].body
    # Each link resets its own account only.
    b = browser()
    path = link_in(by_user["vera"].body)
    token = b.csrf_token(path)
    data = {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    assert b.post(path, data, csrf=token).status_code == 302
    vera.refresh_from_db()
    olga.refresh_from_db()
    assert vera.check_password(NEW_PASSWORD)
    assert olga.check_password(PASSWORD)


def test_an_address_shared_inside_one_company_is_refused_there_only(
    browser: Callable[[], Browser],
    tenant: Client,
    tenant_factory: Callable[..., Client],
    user_factory: Callable[..., User],
    smtp: SmtpServer,
    settings: Any,
) -> None:
    use_smtp(settings, LOOPBACK, smtp.port)
    turn_reset_on(tenant)
    contoso = turn_reset_on(tenant_factory("Contoso"))
    address = "help@example.com"
    user_factory("agent", username="kalle.agent", email=address)
    user_factory("agent", username="liisa.agent", email=address)
    user_factory("agent", username="olga.contoso", email=address, client=contoso)
    ask(browser(), address)
    wait_idle()
    mails = smtp.messages
    assert len(mails) == 1, [m.body for m in mails]
    assert "olga.contoso" in mails[0].body
    assert "kalle" not in mails[0].body and "liisa" not in mails[0].body
    refused = AuditEvent.objects.get(action="password.reset_refused")
    assert refused.client == tenant  # on Northwind's trail, not Contoso's
    assert "Contoso" not in refused.summary


# --- strangers cannot use up the owner's reset ----------------------------------------


@pytest.mark.parametrize("last_link", ["expired", "used"])
def test_strangers_requests_do_not_block_the_owner(
    last_link: str,
    browser: Callable[[], Browser],
    tenant: Client,
    user_factory: Callable[..., User],
    smtp: SmtpServer,
    settings: Any,
    clock: Callable[[timedelta], Any],
) -> None:
    use_smtp(settings, LOOPBACK, smtp.port)
    settings.PASSWORD_RESET_TIMEOUT = 15 * 60
    turn_reset_on(tenant)
    # Start just after a clock hour, so that every request below falls in the same hour.
    now = timezone.now()
    clock(now.replace(minute=1, second=0, microsecond=0) + timedelta(hours=1) - now)
    vera = user_factory("agent", username="vera.agent", email="vera@northwind.example")
    stranger = browser()
    for _ in range(5):
        ask(stranger, vera.email)
    wait_idle()
    sent = len(smtp.messages)
    assert 1 <= sent <= 3  # the mail stays bounded
    if last_link == "expired":
        clock(timedelta(minutes=20))  # the link is dead, the hour is the same
    else:
        owner = browser()
        path = link_in(smtp.messages[-1].body)
        token = owner.csrf_token(path)
        data = {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
        assert owner.post(path, data, csrf=token).status_code == 302
    ask(browser(), vera.email)  # the owner asks
    wait_idle()
    assert len(smtp.messages) == sent + 1
    assert "/signin/reset/" in smtp.messages[-1].body


def test_parallel_requests_for_one_address_send_at_most_the_cap(
    browser: Callable[[], Browser],
    tenant: Client,
    user_factory: Callable[..., User],
    smtp: SmtpServer,
    settings: Any,
) -> None:
    use_smtp(settings, LOOPBACK, smtp.port)
    turn_reset_on(tenant)
    vera = user_factory("agent", username="vera.agent", email="vera@northwind.example")
    b = browser()
    token = b.csrf_token("/signin/reset/")
    statuses = parallel(20, lambda i: ask(b.clone(), vera.email, csrf=token).status_code)
    assert set(statuses) == {200}
    wait_idle()
    assert 1 <= len(smtp.messages) <= 3


def test_one_requester_is_capped(
    browser: Callable[[], Browser],
    tenant: Client,
    user_factory: Callable[..., User],
    smtp: SmtpServer,
    settings: Any,
) -> None:
    use_smtp(settings, LOOPBACK, smtp.port)
    settings.DESKGATE_RESET = {**settings.DESKGATE_RESET, "per_ip_hour": 5}
    turn_reset_on(tenant)
    addresses = [user_factory("agent", email=f"staff{i}@northwind.example").email for i in range(8)]
    b = browser()
    token = b.csrf_token("/signin/reset/")
    answers = {comparable(ask(b, address, csrf=token), address) for address in addresses}
    assert len(answers) == 1  # the capped requests get the same answer
    wait_idle()
    assert len(smtp.messages) == 5


# --- a reset ends the password lock ---------------------------------------------------


def test_a_reset_by_the_emailed_link_ends_the_password_lock(
    browser: Callable[[], Browser],
    tenant: Client,
    user_factory: Callable[..., User],
    smtp: SmtpServer,
    settings: Any,
) -> None:
    use_smtp(settings, LOOPBACK, smtp.port)
    turn_reset_on(tenant)
    vera = user_factory("agent", username="vera.agent", email="vera@northwind.example")
    attacker = browser()
    for _ in range(10):
        attacker.sign_in(vera.username, "not the password")
    guard = SignInGuard.objects.get(user=vera)
    assert guard.password_locked_until is not None
    ask(browser(), vera.email)
    wait_idle()
    owner = browser()
    path = link_in(smtp.wait_for(vera.email).body)
    token = owner.csrf_token(path)
    data = {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    assert owner.post(path, data, csrf=token).status_code == 302
    signed = owner.sign_in(vera.username, NEW_PASSWORD)
    assert signed.status_code == 302, signed.text[:300]
    assert signed.headers["Location"] == "/"
    event = AuditEvent.objects.get(action="user.password_lock_ended", subject=vera)
    assert "reset" in event.summary
    # A wrong password after the reset counts from zero again.
    guard.refresh_from_db()
    assert guard.password_failures == 0
    assert guard.password_lock_count == 0
