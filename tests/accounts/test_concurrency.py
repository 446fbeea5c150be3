"""R4 under concurrent writes: two admins at the same moment cannot leave two active users of
one client receiving their codes at one address or number.

Each writer is a thread with its own database connection; a barrier starts them together.
The partial unique indexes alone would catch two users *enabling* MFA at one address, but
not one enabling it while another user's contact field is edited to that address: only
the serialised check-then-write does, so the loser must get the rule's message.

The races run on both databases. On PostgreSQL they exercise the `select_for_update` lock
on the client row; on SQLite they exercise the IMMEDIATE transactions the settings ask for
(without them, the deferred transactions interleave and these tests fail).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import Client, User
from tests.accounts.conftest import shared_recipients

pytestmark = pytest.mark.django_db(transaction=True)

ROUNDS = 6
Write = Callable[[], object]


def race(*writes: Write) -> list[object]:
    """Start the writes together, each in its own thread and connection; answer each outcome:
    None for success, or the exception it raised."""
    barrier = threading.Barrier(len(writes))
    outcomes: list[object] = [None] * len(writes)

    def run(i: int, write: Write) -> None:
        try:
            barrier.wait(timeout=10)
            write()
        except Exception as exc:  # recorded and asserted on by the test
            outcomes[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(writes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive(), "a writer hung"
    return outcomes


def _edit(user: User, **changes: object) -> Write:
    def write() -> object:
        data = actions.UserInput.of(user)
        for name, value in changes.items():
            setattr(data, name, value)
        return actions.update_user(user, data, by=OPERATOR)

    return write


def _mfa(user: User, method: str) -> Write:
    return lambda: actions.change_mfa_method(user, method, by=OPERATOR)


def _create(client: Client, username: str, **fields: Any) -> Write:
    return lambda: actions.create_user(
        client,
        actions.UserInput(username=username, full_name=f"Racer {username}", **fields),
        by=OPERATOR,
    )


@dataclass
class Ctx:
    client: Client
    make: Callable[..., User]
    email: str
    phone: str
    round: int


Scenario = Callable[[Ctx], tuple[Write, Write]]


def email_both_enable(c: Ctx) -> tuple[Write, Write]:
    a, b = c.make(), c.make()
    return (
        _edit(a, email=c.email, mfa_method="email"),
        _edit(b, email=c.email.upper(), mfa_method="email"),
    )


def email_enable_while_other_edited(c: Ctx) -> tuple[Write, Write]:
    a = c.make(email=c.email)
    b = c.make()
    return _mfa(a, "email"), _edit(b, email=c.email.title())


def email_both_created(c: Ctx) -> tuple[Write, Write]:
    return (
        _create(c.client, f"ea{c.round}", email=c.email, mfa_method="email"),
        _create(c.client, f"eb{c.round}", email=c.email, mfa_method="email"),
    )


def email_reactivate_while_other_edited(c: Ctx) -> tuple[Write, Write]:
    a = c.make("agent", "email", email=c.email, active=False)
    b = c.make()
    return (lambda: actions.set_user_active(a, True, by=OPERATOR)), _edit(b, email=c.email)


def sms_both_enable(c: Ctx) -> tuple[Write, Write]:
    a, b = c.make(), c.make()
    national = "0" + c.phone.removeprefix("+358")
    return (
        _edit(a, work_phone=c.phone, mfa_method="sms"),
        _edit(b, work_phone=national, mfa_method="sms"),
    )


def sms_enable_while_other_edited(c: Ctx) -> tuple[Write, Write]:
    a = c.make(work_phone=c.phone)
    b = c.make()
    national = "0" + c.phone.removeprefix("+358")
    return _mfa(a, "sms"), _edit(b, work_phone=national)


def sms_both_created(c: Ctx) -> tuple[Write, Write]:
    return (
        _create(c.client, f"sa{c.round}", work_phone=c.phone, mfa_method="sms"),
        _create(c.client, f"sb{c.round}", work_phone=c.phone, mfa_method="sms"),
    )


def sms_reactivate_while_other_edited(c: Ctx) -> tuple[Write, Write]:
    a = c.make("agent", "sms", work_phone=c.phone, active=False)
    b = c.make()
    return (lambda: actions.set_user_active(a, True, by=OPERATOR)), _edit(b, work_phone=c.phone)


SCENARIOS: dict[str, Scenario] = {
    "email-both-enable-mfa-at-one-address": email_both_enable,
    "email-enable-mfa-while-other-email-edited": email_enable_while_other_edited,
    "email-both-created-with-mfa": email_both_created,
    "email-reactivate-while-other-email-edited": email_reactivate_while_other_edited,
    "sms-both-enable-mfa-at-one-number": sms_both_enable,
    "sms-enable-mfa-while-other-phone-edited": sms_enable_while_other_edited,
    "sms-both-created-with-mfa": sms_both_created,
    "sms-reactivate-while-other-phone-edited": sms_reactivate_while_other_edited,
}


@pytest.mark.parametrize("scenario", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_concurrent_writes_leave_one_recipient_per_code(
    tenant: Client, user_factory: Callable[..., User], scenario: Scenario
) -> None:
    for n in range(ROUNDS):
        ctx = Ctx(
            client=tenant,
            make=user_factory,
            email=f"race{n}@example.com",
            phone=f"+35840555{n:04d}",
            round=n,
        )
        first, second = scenario(ctx)
        outcomes = race(first, second)

        failures = [o for o in outcomes if o is not None]
        assert len(failures) == 1, f"round {n}: {outcomes}"
        (failure,) = failures
        assert isinstance(failure, ValidationError), repr(failure)
        # The loser waited for the winner and was refused by the rule itself, naming
        # the winner, not by the index as a last resort.
        assert "exactly one person" in " ".join(failure.messages), failure.messages
        assert shared_recipients(tenant) == [], f"round {n}"
