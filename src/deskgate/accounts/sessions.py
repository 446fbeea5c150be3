"""Signed-in sessions: the one module that opens, touches, rekeys and ends them.

Django's session says who is signed in in one browser; a `UserSession` row says which
session keys belong to whom, so that ending every session of a user (deactivation, a
password reset) finds them whichever engine holds them (the database, or Redis in front of
it). Every write of `UserSession`, and every read or write of Deskgate's keys in the
session, is here.

The session's clock (when it signed in, when it was last seen) is kept as Unix
timestamps under the keys below and read from `timezone.now()`, as every other clock in
Deskgate. It lives in the accounts app, beside `UserSession`, so that the accounts
actions, the sign-in app and the middleware all reach it without importing upward.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from importlib import import_module
from typing import Protocol, cast

from django.conf import settings
from django.contrib.auth import logout, update_session_auth_hash
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import salted_hmac

from deskgate import rows
from deskgate.accounts.app_settings import app_settings
from deskgate.accounts.models import User, UserSession

# Deskgate's keys in a signed-in session (Unix timestamps).
SIGNED_IN_AT = "deskgate.signed_in_at"
LAST_SEEN = "deskgate.last_seen"
# Writing the session on every request would cost a database write per page; a minute
# of precision is plenty for a 30-minute idle limit.
TOUCH_EVERY = 60
# When the session was last seen, for the sessions pages: noted in its `UserSession` row
# with one conditional UPDATE at most every 5 minutes (the time of the last note is kept
# in the session, which is saved anyway at most every TOUCH_EVERY seconds), so a busy
# session costs no write per request.
SEEN_NOTED = "deskgate.seen_noted"
SEEN_EVERY = 300


class Expiry(StrEnum):
    """Why a session ends on its own."""

    IDLE = "idle"  # no request for longer than the idle limit
    TOO_OLD = "too_old"  # signed in longer ago than SESSION_COOKIE_AGE (12 hours)


@dataclass(frozen=True)
class AuthFacts:
    """What a sign-in checked, for the apps: the methods (RFC 8176 `amr` values) and when."""

    amr: tuple[str, ...]
    at: datetime
    # The sign-in proved the user holds their Email address (a code sent there typed back,
    # or their company's SSO vouched for it).
    email_proven: bool = False


class Ended(Protocol):
    """Told when sessions of `user` end (`sids`), or when all of the user's sign-ins in
    the apps must end (`everywhere`: sign-out everywhere, deactivation, a new password)."""

    def __call__(self, user: User, sids: Sequence[str], /, *, everywhere: bool) -> None: ...


_ended: list[Ended] = []


def when_ended(listener: Ended) -> None:
    """Register a listener (the OpenID Provider's back-channel logout), once at start-up."""
    if listener not in _ended:
        _ended.append(listener)


def _tell_ended(user: User, sids: Sequence[str], *, everywhere: bool) -> None:
    for listener in _ended:
        listener(user, sids, everywhere=everywhere)


def _key(request: HttpRequest) -> str:
    key = request.session.session_key or ""
    if not key:  # a session backend that creates lazily
        request.session.save()
        key = request.session.session_key or ""
    return key


def open(request: HttpRequest, user: User, *, ip: str | None, facts: AuthFacts) -> None:
    """Record a session that `login()` just opened: its clock, whose it is, what it checked."""
    at = timezone.now()
    now = at.timestamp()
    request.session[SIGNED_IN_AT] = now
    request.session[LAST_SEEN] = now
    request.session[SEEN_NOTED] = now
    # login() created the new session row already; the middleware saves these keys.
    # One fixed INSERT (issue 17: the ORM's compiled one cost more CPU than its run), which
    # may go with the sign-in's other closing writes (`rows.waiting`).
    rows.insert(
        UserSession(
            session_key=_key(request),
            user=user,
            ip=ip,
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:500],
            last_seen_at=at,
            auth_time=facts.at,
            amr=list(facts.amr),
        ),
        later=True,
    )


def save_now(request: HttpRequest) -> None:
    """Save the request's session in the caller's transaction, with its other writes (on
    PostgreSQL in one statement: `rows.waiting`): Deskgate's stores write nothing more at
    the response unless the session changed since. Another engine saves at the response."""
    save = getattr(request.session, "save_now", None)
    if save is not None:
        save()


# Fields of a user that the next `note_sign_in` of that instance writes with last_login.
_WITH_SIGN_IN = "_deskgate_saved_with_sign_in"


def save_with_sign_in(user: User, field: str) -> None:
    """Have `field` of this user (set on the instance) written by the UPDATE of last_login
    that the sign-in about to happen (`login()`, in the caller's transaction) makes, not
    by one of its own (issue 17)."""
    user.__dict__.setdefault(_WITH_SIGN_IN, []).append(field)


def note_sign_in(
    sender: type[User], request: HttpRequest | None, user: User, **kwargs: object
) -> None:
    """`last_login` of a user who just signed in, in one fixed UPDATE (with the fields
    `save_with_sign_in` named): Django's own receiver of `user_logged_in`
    (`update_last_login`), which this one replaces, saves the user through the ORM's
    compiler (issue 17)."""
    user.last_login = timezone.now()
    rows.update(user, ["last_login", *user.__dict__.pop(_WITH_SIGN_IN, ())], later=True)


def current(request: HttpRequest) -> UserSession | None:
    """The record of this browser's signed-in session (None when not signed in): the one
    read with the request's user (`reading_user_of`), else one fixed statement (the ORM's
    compile of the question cost more than its answer: issue 17)."""
    key = request.session.session_key
    if not key or not request.user.is_authenticated:
        return None
    read = getattr(request.user, _READ_WITH_USER, None)
    if read is not None and read[0] == key:
        # Read under this very key: a key that moved since (a new sign-in, a step-up, a
        # new password) no longer matches, and the record is read again.
        return cast(UserSession | None, read[1])
    return _CURRENT.first([key, request.user.pk])


# The session key of the request whose user is being read (`reading_user_of`).
_READING: ContextVar[str | None] = ContextVar("deskgate_reading_user_of", default=None)
# On a user read with their session's record: (the key, the record or None).
_READ_WITH_USER = "_deskgate_session_record"


@contextmanager
def reading_user_of(key: str | None) -> Iterator[None]:
    """The request's user is read (Django's `auth.get_user`, through the sign-in's
    backend) for the session with this key: the backend reads the session's record in the
    same statement (`with_record`), and `current` answers it without a second read
    (issue 17: the authorization endpoint asks on every request)."""
    token = _READING.set(key)
    try:
        yield
    finally:
        _READING.reset(token)


def record_wanted() -> str | None:
    """The session key whose record the user's read should bring along (None: none)."""
    return _READING.get()


def with_record(user: User, key: str, record: UserSession | None) -> None:
    """This user was read with the record (None: there is none) of the session `key`."""
    setattr(user, _READ_WITH_USER, (key, record))


# The key is the primary key: one row at most, as the ORM's `.first()` found it.
_CURRENT: rows.Joined[UserSession] = rows.Joined(
    UserSession, [], 't0."session_key" = %s AND t0."user_id" = %s'
)


def cycle(request: HttpRequest) -> None:
    """Give this session a new key (a sign-in step begins in it); its record follows."""
    old = request.session.session_key
    request.session.cycle_key()
    if old and request.user.is_authenticated:
        UserSession.objects.filter(session_key=old).update(session_key=_key(request))


def reauthenticated(request: HttpRequest, user: User, *, old_key: str, facts: AuthFacts) -> None:
    """The signed-in user passed sign-in steps again in this session (an app asked them
    to): the session keeps its `sid` under its new key, with the new facts."""
    now = timezone.now().timestamp()
    request.session[SIGNED_IN_AT] = now
    request.session[LAST_SEEN] = now
    key = _key(request)
    updated = UserSession.objects.filter(session_key=old_key, user=user).update(
        session_key=key, auth_time=facts.at, amr=list(facts.amr)
    )
    if not updated:
        UserSession.objects.update_or_create(
            session_key=key,
            defaults={"user": user, "auth_time": facts.at, "amr": list(facts.amr)},
        )


def idle_limit(user: User) -> int:
    """Seconds without a request after which the user's session ends (DESKGATE_IDLE_TIMEOUT):
    30 minutes for whoever may open the admin pages, longer for the others."""
    limits = app_settings.IDLE_TIMEOUT
    return limits.admin_pages if user.can_open_admin_pages else limits.other


def touch(request: HttpRequest, *, idle: int, ip: str | None = None) -> Expiry | None:
    """A request of the signed-in session: answer why it has expired (`idle` seconds
    without a request, or the absolute limit), or note the activity and answer None.

    Every SEEN_EVERY seconds the session's record notes when and from where (`ip`) it was
    last seen; other requests write nothing to it."""
    at = timezone.now()
    now = at.timestamp()
    session = request.session
    last = float(session.get(LAST_SEEN, now))
    started = float(session.get(SIGNED_IN_AT, now))
    if now - last > idle:
        return Expiry.IDLE
    if now - started > settings.SESSION_COOKIE_AGE:
        return Expiry.TOO_OLD
    if now - last > TOUCH_EVERY:
        session[LAST_SEEN] = now
        if now - float(session.get(SEEN_NOTED, 0)) >= SEEN_EVERY:
            session[SEEN_NOTED] = now
            _note_seen(session.session_key, at, ip)
    return None


def _note_seen(key: str | None, at: datetime, ip: str | None) -> None:
    # Conditional: of two processes serving the same session at once, one writes.
    fields: dict[str, object] = {"last_seen_at": at}
    if ip:
        fields["ip"] = ip
    UserSession.objects.filter(
        session_key=key or "", last_seen_at__lt=at - timedelta(seconds=SEEN_EVERY // 2)
    ).update(**fields)


def rekey(request: HttpRequest, user: User) -> None:
    """The user changed their password in this session: it stays signed in under a new key
    (the old one is void), and its record follows it."""
    old = request.session.session_key
    update_session_auth_hash(request, user)
    new = request.session.session_key
    if not UserSession.objects.filter(session_key=old).update(session_key=new):
        UserSession.objects.update_or_create(session_key=new, defaults={"user": user})


def end(request: HttpRequest) -> None:
    """Sign this browser out: its session, the record of it, and its sign-ins in the apps."""
    row = None
    if request.session.session_key:
        row = (
            UserSession.objects.select_related("user")
            .filter(session_key=request.session.session_key)
            .first()
        )
        UserSession.objects.filter(session_key=request.session.session_key).delete()
    logout(request)
    if row is not None:
        _tell_ended(row.user, [row.sid], everywhere=False)


def end_all(user: User) -> int:
    """End every session of `user` on the server, and every sign-in of theirs in the apps;
    answer how many sessions there were."""
    with transaction.atomic():
        # Locked: of two requests ending them at once, the second finds none left.
        rows = list(UserSession.objects.select_for_update().filter(user=user))
        _delete(rows)
    _tell_ended(user, [r.sid for r in rows], everywhere=True)
    return len(rows)


def live(user: User) -> list[UserSession]:
    """The user's sessions that are still signed in, the latest seen first.

    A record whose session idled out or grew too old stays until its browser's next request
    ends it; it is not shown (its last note may be up to SEEN_EVERY seconds behind)."""
    now = timezone.now()
    idle = idle_limit(user) + SEEN_EVERY
    return list(
        UserSession.objects.filter(
            user=user,
            last_seen_at__gt=now - timedelta(seconds=idle),
            auth_time__gt=now - timedelta(seconds=settings.SESSION_COOKIE_AGE),
        ).order_by("-last_seen_at", "-created_at")
    )


def forget_over(now: datetime | None = None) -> int:
    """Remove the records (addresses, browsers) of sessions past the absolute limit: they
    have ended, whether or not their browser came back to be told. Answer how many."""
    now = now or timezone.now()
    old = now - timedelta(seconds=settings.SESSION_COOKIE_AGE)
    removed, _ = UserSession.objects.filter(auth_time__lt=old).delete()
    return removed


def handle(record: UserSession) -> str:
    """What a page names a session by when it asks to end it: neither its key (a bearer
    credential) nor its `sid` (what the apps know it by), but a keyed digest of the sid."""
    return salted_hmac("deskgate.session-handle", record.sid).hexdigest()[:32]


def end_one(user: User, session_handle: str) -> UserSession | None:
    """End one session of `user` named by its `handle`; answer its record, or None when
    no session of theirs has that handle (already ended: ending twice does nothing)."""
    with transaction.atomic():
        # Locked: a second request ending the same session waits, then finds nothing.
        rows = list(UserSession.objects.select_for_update().filter(user=user))
        given = session_handle.encode()  # compare_digest refuses non-ASCII str: bytes
        row = next((r for r in rows if secrets.compare_digest(handle(r).encode(), given)), None)
        if row is None:
            return None
        _delete([row])
    _tell_ended(user, [row.sid], everywhere=False)
    return row


def end_others(user: User, keep_key: str) -> int:
    """End every session of `user` but the one with key `keep_key` (this browser's);
    answer how many of them were still signed in."""
    alive = {r.sid for r in live(user)}
    with transaction.atomic():
        rows = list(
            UserSession.objects.select_for_update().filter(user=user).exclude(session_key=keep_key)
        )
        _delete(rows)
    _tell_ended(user, [r.sid for r in rows], everywhere=False)
    return sum(1 for r in rows if r.sid in alive)


def _delete(rows: Sequence[UserSession]) -> None:
    store = import_module(settings.SESSION_ENGINE).SessionStore
    for row in rows:  # whichever backend holds them: the database, or Redis
        store(session_key=row.session_key).delete()
    UserSession.objects.filter(session_key__in=[r.session_key for r in rows]).delete()


def end_in_apps(user: User) -> None:
    """The user's password changed: their sign-ins in the apps end (the sessions here are
    dealt with by the caller: this one rekeyed, the others void by Django's hash)."""
    sids = list(UserSession.objects.filter(user=user).values_list("sid", flat=True))
    _tell_ended(user, sids, everywhere=True)
