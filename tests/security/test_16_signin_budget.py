"""16. A budget of password attempts per address and per network, in front of the hash
(issue 10, last paragraph).

200 unauthenticated sign-ins from 20 threads saturated both cores: every attempt cost an
argon2id hash. Now each attempt first takes one from its address's budget (30 per 5
minutes by default) and its network's (/24 or /56, 300), counted in the database with one
conditional UPSERT each; a spent budget answers as a wrong password does, without hashing,
and the pause is audited once per window. A right password gives its attempt back, so an
office of agents behind one address signing in at shift start spends nothing.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import close_old_connections
from django.test import Client as HttpClient

from deskgate import conf
from deskgate.accounts.audit import Actor
from deskgate.accounts.models import AuditEvent
from deskgate.signin import budget
from deskgate.signin.models import AttemptCounter
from deskgate.signin.views import WRONG_CREDENTIALS
from tests.conftest import PASSWORD
from tests.security.conftest import comparable, parallel, sessions_of, visible_text

pytestmark = pytest.mark.django_db(transaction=True)

DEFAULT = {"ip": 30, "network": 300, "window": 300}


def hashed() -> int:
    """Attempts that reached the password check: each refusal there is audited."""
    return AuditEvent.objects.filter(action="signin.failure").count()


def pauses() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="signin.paused").order_by("id"))


def test_the_defaults_are_thirty_per_address_and_three_hundred_per_network(settings) -> None:
    config = conf.load({"SECRET_KEY": "x" * 40})
    assert (
        config.signin_budget_ip,
        config.signin_budget_network,
        config.signin_budget_window,
    ) == (30, 300, 300)
    assert settings.DESKGATE_SIGNIN_BUDGET == DEFAULT  # what the tests below run with


def test_a_spent_address_budget_answers_as_a_wrong_password_and_hashes_nothing(
    browser, user_factory, clock
) -> None:
    victim = user_factory("agent", "off")
    attacker = browser()
    token = attacker.csrf_token("/signin/")
    guesses = [
        attacker.post("/signin/", {"username": f"guess{i}", "password": "x"}, csrf=token)
        for i in range(30)
    ]
    assert {r.status_code for r in guesses} == {200}
    assert hashed() == 30 and pauses() == []
    # The 31st attempt, even with the right password of a real user: the same answer.
    right = attacker.post("/signin/", {"username": victim.username, "password": PASSWORD})
    wrong = attacker.post("/signin/", {"username": "guess", "password": "x"})
    assert right.status_code == wrong.status_code == 200
    assert comparable(right, victim.username) == comparable(wrong, "guess")
    assert WRONG_CREDENTIALS in visible_text(right)
    assert sessions_of(victim) == 0
    assert hashed() == 30  # neither was hashed
    (pause,) = pauses()  # audited once per window, not per refusal
    assert pause.ip == "127.0.0.1" and "127.0.0.1" in pause.summary
    assert pause.client_id is None and PASSWORD not in str(pause.detail)
    # The next window: the right password works again.
    clock(timedelta(minutes=5))
    response = attacker.post("/signin/", {"username": victim.username, "password": PASSWORD})
    assert response.status_code == 302 and sessions_of(victim) == 1


def test_twenty_threads_cannot_hash_more_than_the_budget(browser, user_factory) -> None:
    """The issue's flood: 200 wrong attempts from 20 threads at once, default budget."""
    user = user_factory("agent", "off")
    attacker = browser()
    token = attacker.csrf_token("/signin/")
    tabs = [attacker.clone() for _ in range(200)]
    names = [user.username if i % 2 else f"nobody{i}" for i in range(200)]

    responses = parallel(
        200,
        lambda i: tabs[i].post("/signin/", {"username": names[i], "password": "x"}, csrf=token),
    )

    assert {r.status_code for r in responses} == {200}
    bodies = {comparable(r, names[i]) for i, r in enumerate(responses)}
    assert len(bodies) == 1  # one answer, paused or not
    assert hashed() == 30
    assert len(pauses()) == 1
    row = AttemptCounter.objects.get(scope="ip:127.0.0.1")
    assert row.count - row.given_back == 30


def test_right_passwords_give_their_attempt_back(user_factory) -> None:
    """An office behind one address: 32 agents sign in, then typos are still allowed."""
    agents = [user_factory("agent", "off") for _ in range(32)]
    for agent in agents:
        response = HttpClient(REMOTE_ADDR="198.51.100.7").post(
            "/signin/", {"username": agent.username, "password": PASSWORD}
        )
        assert response.status_code == 302, agent.username
    office = HttpClient(REMOTE_ADDR="198.51.100.7")
    typos = [
        office.post("/signin/", {"username": agents[i].username, "password": "typo"})
        for i in range(30)
    ]
    assert {r.status_code for r in typos} == {200} and hashed() == 30
    assert pauses() == []
    office.post("/signin/", {"username": agents[0].username, "password": PASSWORD})
    assert len(pauses()) == 1


@pytest.mark.parametrize(
    ("spent", "same_network", "other_network"),
    [
        (
            [f"203.0.113.{i}" for i in range(1, 5)],
            "203.0.113.250",
            "203.0.114.1",
        ),
        (
            ["2001:db8:0:1::1", "2001:db8:0:2::1", "2001:db8:0:3::1", "2001:db8:0:ff::9"],
            "2001:db8:0:80::1",
            "2001:db8:0:100::1",
        ),
        (
            ["192.0.2.1", "::ffff:192.0.2.2", "192.0.2.3", "192.0.2.4"],
            "::ffff:192.0.2.99",
            "192.0.3.1",
        ),
    ],
    ids=["ipv4-/24", "ipv6-/56", "ipv4-mapped"],
)
def test_a_network_shares_one_budget(settings, spent, same_network, other_network) -> None:
    settings.DESKGATE_SIGNIN_BUDGET = {"ip": 2, "network": 8, "window": 300}
    for address in spent:
        for _ in range(2):
            assert budget.take(address, by=Actor(ip=address)).allowed
        assert budget.take(address, by=Actor(ip=address)).refused_by == budget.Scope.ADDRESS
    assert budget.take(same_network, by=Actor()).refused_by == budget.Scope.NETWORK
    assert budget.take(other_network, by=Actor()).allowed
    assert Counter(e.detail["scope"] for e in pauses()) == {"ip": 4, "network": 1}


def test_parallel_attempts_from_one_network_cannot_exceed_its_budget(settings) -> None:
    """Fifty threads, fifty addresses of one /24, a network budget of 20: exactly 20."""
    settings.DESKGATE_SIGNIN_BUDGET = {"ip": 30, "network": 20, "window": 300}
    barrier = threading.Barrier(50)

    def attempt(i: int) -> bool:
        try:
            barrier.wait(timeout=60)
            return budget.take(f"10.20.30.{i + 1}", by=Actor()).allowed
        finally:
            close_old_connections()

    results = []
    threads = [threading.Thread(target=lambda i=i: results.append(attempt(i))) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Counter(results) == {True: 20, False: 30}
    row = AttemptCounter.objects.get(scope="net:10.20.30.0/24")
    assert row.count - row.given_back == 20
    # Refused attempts count nowhere: the 30 addresses turned away hold nothing.
    held = AttemptCounter.objects.filter(scope__startswith="ip:10.20.30.")
    assert sum(r.count - r.given_back for r in held) == 20
    assert len(pauses()) == 1


def test_a_network_budget_below_the_address_budget_stops_start_up() -> None:
    with pytest.raises(conf.ConfigError) as error:
        conf.load(
            {
                "SECRET_KEY": "x" * 40,
                "DESKGATE_SIGNIN_BUDGET_IP": "50",
                "DESKGATE_SIGNIN_BUDGET_NETWORK": "40",
            }
        )
    assert error.value.variable == "DESKGATE_SIGNIN_BUDGET_NETWORK"
