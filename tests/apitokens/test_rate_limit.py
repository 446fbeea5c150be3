"""The per-token rate limit: an exact count per one-minute window, a new window starts
afresh, a refusal says when to come back, and the first refusal of a window is audited once;
parallel requests on their own database connections cannot pass the limit."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from django.db import close_old_connections, connection
from django.http import HttpRequest, HttpResponse, JsonResponse

from deskgate.accounts.audit import Via
from deskgate.accounts.models import AuditEvent
from deskgate.apitokens import tokens
from deskgate.apitokens.models import ApiToken
from tests.apitokens.conftest import SCIM, bearer

Issue = Callable[..., tokens.Issued]
Clock = Callable[[timedelta], datetime]


def tiny_view(request: HttpRequest) -> HttpResponse:
    """A door as SCIM and the REST API are: a refusal's status, words and Retry-After."""
    try:
        use = tokens.authenticate(request, door=Via.SCIM, needs=SCIM)
    except tokens.Refused as refused:
        response = JsonResponse({"detail": refused.reason}, status=refused.status)
        if refused.retry_after is not None:
            response["Retry-After"] = str(refused.retry_after)
        return response
    return JsonResponse({"client": use.client.name})


def to_window_start(clock: Clock) -> datetime:
    """Move the stopped clock to the first second of the next minute."""
    now = clock(timedelta())
    return clock(timedelta(seconds=60 - now.second, microseconds=-now.microsecond))


def limited() -> list[AuditEvent]:
    return [
        e for e in AuditEvent.objects.filter(action="token.refused") if e.detail["status"] == 429
    ]


@pytest.mark.django_db
def test_exactly_the_limit_passes_in_a_window(issue: Issue, clock: Clock, settings: object) -> None:
    settings.DESKGATE_API_RATE_LIMIT = 5  # type: ignore[attr-defined]
    issued = issue()
    start = to_window_start(clock)
    statuses = []
    for _ in range(8):
        statuses.append(tiny_view(bearer(issued.secret)).status_code)
        clock(timedelta(seconds=5))
    assert statuses == [200] * 5 + [429] * 3
    # The first refusal of the window is audited, once, with the limit.
    [event] = limited()
    assert event.detail["limit"] == 5 and event.detail["token"] == "Entra ID"
    assert event.summary.startswith("Request with API token Entra ID refused: This token made")
    # 40 s into the window: Retry-After says until its end, not less.
    assert clock(timedelta()) == start + timedelta(seconds=40)
    response = tiny_view(bearer(issued.secret))
    assert response.status_code == 429
    assert int(response["Retry-After"]) == 20
    assert "more than 5 requests in a minute; try again in 20 s" in response.content.decode()


@pytest.mark.django_db
def test_a_new_window_starts_afresh(issue: Issue, clock: Clock, settings: object) -> None:
    settings.DESKGATE_API_RATE_LIMIT = 3  # type: ignore[attr-defined]
    issued = issue()
    to_window_start(clock)
    clock(timedelta(seconds=58))
    assert [tiny_view(bearer(issued.secret)).status_code for _ in range(4)] == [200] * 3 + [429]
    refused = tiny_view(bearer(issued.secret))
    assert refused["Retry-After"] == "2"
    clock(timedelta(seconds=2))  # the next minute
    assert [tiny_view(bearer(issued.secret)).status_code for _ in range(5)] == [200] * 3 + [429] * 2
    # Two windows, two audited refusals: one each.
    assert len(limited()) == 2
    stored = ApiToken.objects.get(pk=issued.token.pk)
    assert stored.window_count == 4  # the cap, and the one step past it that marks the audit


@pytest.mark.django_db
def test_tokens_are_counted_apart(issue: Issue, clock: Clock, settings: object) -> None:
    settings.DESKGATE_API_RATE_LIMIT = 2  # type: ignore[attr-defined]
    first, second = issue("First"), issue("Second")
    to_window_start(clock)
    assert [tiny_view(bearer(first.secret)).status_code for _ in range(3)] == [200, 200, 429]
    assert [tiny_view(bearer(second.secret)).status_code for _ in range(3)] == [200, 200, 429]


@pytest.mark.django_db
def test_the_default_limit_is_1200_a_minute(issue: Issue) -> None:
    assert tokens.rate_limit() == 1200


def parallel(n: int, work: Callable[[int], int]) -> list[int]:
    """work(0..n-1) on n threads released together, each on its own database connection."""
    barrier = threading.Barrier(n)

    def run(i: int) -> int:
        try:
            barrier.wait(timeout=60)
            return work(i)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=n) as pool:
        results = list(pool.map(run, range(n)))
    close_old_connections()
    return results


@pytest.mark.django_db(transaction=True)
def test_forty_parallel_requests_against_a_limit_of_25(
    issue: Issue, clock: Clock, settings: object
) -> None:
    settings.DESKGATE_API_RATE_LIMIT = 25  # type: ignore[attr-defined]
    issued = issue()
    to_window_start(clock)  # the stopped clock: all forty fall in one window

    statuses = parallel(40, lambda i: tiny_view(bearer(issued.secret)).status_code)

    assert Counter(statuses) == {200: 25, 429: 15}
    assert len(limited()) == 1  # the first refusal, once, however many raced for it
    stored = ApiToken.objects.get(pk=issued.token.pk)
    assert stored.window_count == 26


@pytest.mark.django_db(transaction=True)
def test_parallel_requests_across_a_window_change(
    issue: Issue, clock: Clock, settings: object
) -> None:
    settings.DESKGATE_API_RATE_LIMIT = 10  # type: ignore[attr-defined]
    issued = issue()
    to_window_start(clock)
    assert Counter(parallel(20, lambda i: tiny_view(bearer(issued.secret)).status_code)) == {
        200: 10,
        429: 10,
    }
    clock(timedelta(seconds=60))
    assert Counter(parallel(20, lambda i: tiny_view(bearer(issued.secret)).status_code)) == {
        200: 10,
        429: 10,
    }
    assert len(limited()) == 2
