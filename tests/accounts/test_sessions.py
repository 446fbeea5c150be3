"""accounts/sessions.py: who owns which session, through the real pages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.sessions.middleware import SessionMiddleware
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.test import Client as HttpClient
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from deskgate.accounts import actions, sessions
from deskgate.accounts.audit import Actor
from deskgate.accounts.models import User, UserSession
from deskgate.http.middleware import AuthenticationMiddleware
from tests.conftest import PASSWORD, signed_in_client

NEW_PASSWORD = "a quite different passphrase 2026"


def signed_in_with_key(user: User) -> tuple[HttpClient, str]:
    http = signed_in_client(user)
    return http, http.cookies["deskgate_session"].value


def test_signing_in_records_the_session_and_its_clock(
    user_factory: Callable[..., User],
) -> None:
    user = user_factory("agent")
    before = timezone.now().timestamp()
    http, key = signed_in_with_key(user)
    row = UserSession.objects.get(user=user)
    assert (row.session_key, row.ip) == (key, "127.0.0.1")
    stamps = {http.session[sessions.SIGNED_IN_AT], http.session[sessions.LAST_SEEN]}
    assert len(stamps) == 1 and before <= stamps.pop() <= timezone.now().timestamp()


def test_a_new_password_rekeys_the_session_and_its_record(
    user_factory: Callable[..., User],
) -> None:
    user = user_factory("agent")
    http, old_key = signed_in_with_key(user)
    response = http.post(
        "/signin/password/",
        {
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
    )
    assert response["Location"] == "/account/"
    new_key = http.cookies["deskgate_session"].value
    assert new_key != old_key
    assert http.get("/account/").status_code == 200  # still signed in, under the new key
    # One record, of the live key; the void key's record went with it.
    assert list(UserSession.objects.filter(user=user).values_list("session_key", "ip")) == [
        (new_key, "127.0.0.1")
    ]


def test_signing_out_ends_the_session_and_its_record(user_factory: Callable[..., User]) -> None:
    user = user_factory("agent")
    http, key = signed_in_with_key(user)
    http.post("/signin/sign-out/")
    assert not UserSession.objects.filter(session_key=key).exists()
    assert http.get("/account/")["Location"].startswith("/signin/")


def test_end_all_ends_every_browser_of_the_user_only(user_factory: Callable[..., User]) -> None:
    user, other = user_factory("agent"), user_factory("agent")
    browsers = [signed_in_with_key(user)[0] for _ in range(2)]
    bystander, _ = signed_in_with_key(other)
    assert sessions.end_all(user) == 2
    assert not UserSession.objects.filter(user=user).exists()
    for http in browsers:
        assert http.get("/account/").status_code == 302
    assert bystander.get("/account/").status_code == 200
    assert Session.objects.count() == 1


def _session_updates(http: HttpClient, path: str = "/account/") -> list[str]:
    """The UPDATEs of UserSession rows that one request made."""
    with CaptureQueriesContext(connection) as queries:
        assert http.get(path).status_code == 200
    return [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith("UPDATE") and "accounts_usersession" in q["sql"]
    ]


def test_last_seen_is_noted_at_most_every_five_minutes(
    user_factory: Callable[..., User], clock: Callable[[timedelta], datetime]
) -> None:
    user = user_factory("agent")
    http = HttpClient(REMOTE_ADDR="81.90.1.2")
    http.post("/signin/", {"username": user.username, "password": PASSWORD})
    signed_in_at = UserSession.objects.get(user=user).last_seen_at
    # Requests within five minutes (the session's own clock moves each minute) write nothing
    # to the record.
    for _ in range(4):
        clock(timedelta(seconds=70))
        assert _session_updates(http) == []
    assert UserSession.objects.get(user=user).last_seen_at == signed_in_at
    clock(timedelta(seconds=70))
    assert len(_session_updates(http)) == 1
    row = UserSession.objects.get(user=user)
    assert row.last_seen_at == clock(timedelta()) and row.ip == "81.90.1.2"
    assert _session_updates(http) == []  # the next request: nothing again


def test_last_seen_note_is_one_conditional_update(
    user_factory: Callable[..., User], clock: Callable[[timedelta], datetime]
) -> None:
    """Two processes noting the same session at once: the condition lets one write."""
    user = user_factory("agent")
    http, key = signed_in_with_key(user)
    now = clock(timedelta(minutes=6))
    sessions._note_seen(key, now, "81.90.1.2")
    later = clock(timedelta(seconds=1))
    sessions._note_seen(key, later, "81.90.9.9")
    row = UserSession.objects.get(session_key=key)
    assert (row.last_seen_at, row.ip) == (now, "81.90.1.2")


def test_sessions_that_idled_out_are_not_listed_as_signed_in(
    user_factory: Callable[..., User], clock: Callable[[timedelta], datetime]
) -> None:
    user = user_factory("agent")
    signed_in_with_key(user)
    assert len(sessions.live(user)) == 1
    clock(timedelta(hours=8, minutes=6))  # the agents' idle limit, and a note's lag, passed
    assert sessions.live(user) == []


def test_the_daily_run_forgets_sessions_past_the_absolute_limit(
    user_factory: Callable[..., User],
    clock: Callable[[timedelta], datetime],
    capsys: pytest.CaptureFixture[str],
) -> None:
    user = user_factory("agent")
    signed_in_with_key(user)
    clock(timedelta(hours=11))
    _, fresh = signed_in_with_key(user)
    clock(timedelta(hours=1, seconds=1))  # the first is past 12 hours, the second is not
    call_command("purge_audit")
    assert "Ended sessions: 1 record removed." in capsys.readouterr().out
    assert list(UserSession.objects.values_list("session_key", flat=True)) == [fresh]
    with pytest.raises(PermissionDenied):
        actions.forget_ended_sessions(by=Actor(user=user))


def _request_in(http: HttpClient) -> HttpRequest:
    """A request of this browser, through the session and authentication middleware."""
    request = RequestFactory().get("/account/")
    request.COOKIES["deskgate_session"] = http.cookies["deskgate_session"].value
    SessionMiddleware(lambda r: HttpResponse()).process_request(request)
    AuthenticationMiddleware(lambda r: HttpResponse()).process_request(request)
    return request


def test_the_sessions_record_comes_with_its_user_and_follows_a_new_key(
    user_factory: Callable[..., User], settings: Any
) -> None:
    settings.SESSION_ENGINE = "deskgate.accounts.session_store.db"
    user = user_factory("agent")
    http, key = signed_in_with_key(user)
    request = _request_in(http)
    with CaptureQueriesContext(connection) as reads:
        assert request.user.pk == user.pk
        record = sessions.current(request)
    # The session's row, then the user with their client and this session's record.
    assert len(reads) == 2, [q["sql"] for q in reads.captured_queries]
    assert record is not None and record.session_key == key and record.user_id == user.pk
    assert record.sid == UserSession.objects.get(session_key=key).sid

    # The key moves (a sign-in step begins in the session): the record read under the old
    # one is not answered; the record is read again under the new key.
    sessions.cycle(request)
    with CaptureQueriesContext(connection) as again:
        moved = sessions.current(request)
    assert len(again) == 1
    assert moved is not None and moved.sid == record.sid
    assert moved.session_key == request.session.session_key != key


def test_a_session_without_its_record_has_none_without_asking_again(
    user_factory: Callable[..., User],
) -> None:
    user = user_factory("agent")
    http, key = signed_in_with_key(user)
    UserSession.objects.filter(session_key=key).delete()  # ended elsewhere meanwhile
    request = _request_in(http)
    assert request.user.is_authenticated
    with CaptureQueriesContext(connection) as reads:
        assert sessions.current(request) is None
    assert len(reads) == 0
