"""Sign-in as a pipeline of stages: password (or SSO), then code, then the set-up of a
strong factor when the client's policy requires one (issue 14), then new password, done.

The session carries only the opaque token of a `PendingSignIn`; the user at every stage
after the password comes from that server-side row, never from the request.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from enum import StrEnum
from typing import Any, cast
from urllib.parse import urlsplit

from django.contrib.auth import login
from django.db import connection, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from deskgate import rows
from deskgate.accounts import actions, audit, rules, sessions
from deskgate.accounts.models import AuditAction, Client, MfaMethod, User
from deskgate.http.actors import actor_for, client_ip
from deskgate.http.middleware import FORM_LEADS_TO_KEY
from deskgate.rows import insert as insert_row
from deskgate.signin import challenge, devices, factors, policy
from deskgate.signin.models import PendingSignIn, SecondFactor, SignInGuard, SignInVia
from deskgate.signin.policy import owes_code
from deskgate.signin.throttle import Lock

SESSION_KEY = "deskgate.pending"
FIRST_SEND_KEY = "deskgate.first-send"
# Where to go when the sign-in is done (an app's authorization request waiting for it).
RETURN_TO_KEY = "deskgate.return-to"
# The signed-in user is asked to sign in again (an app sent prompt=login or max_age).
REAUTH_KEY = "deskgate.reauth"
PENDING_LIFETIME = timedelta(minutes=15)
BACKEND = "deskgate.signin.backends.DeskgateBackend"


class Stage(StrEnum):
    CODE = "code"
    ENROL = "enrol"  # the factor policy: set up a strong factor before the session
    NEW_PASSWORD = "new_password"  # noqa: S105  # a stage name, not a secret
    DONE = "done"


STAGE_URLS = {
    Stage.CODE: "signin:code",
    Stage.ENROL: "signin:enrol",
    Stage.NEW_PASSWORD: "signin:new_password",
}


def _delete(found: QuerySet[PendingSignIn]) -> int:
    """Delete these pending sign-ins in one statement; answer how many there were.

    `QuerySet.delete()` wraps even a lone DELETE in BEGIN and COMMIT, for the cascades and
    signals its collector may have to run: a pending sign-in has neither (no row refers
    to one, no signal listens), and its DELETE is atomic by itself.
    """
    return int(found._raw_delete(found.db))


def _delete_one(column: str, value: int | str, *, later: bool = False) -> int | None:
    """Delete the pending sign-in with this `id` or `token` in one fixed statement (without
    the ORM's compiler: issue 17); answer whether there was one. `later`: with the block's
    other writes (`rows.waiting`, answering None), the row known to be there."""
    table = PendingSignIn._meta.db_table
    sql = f"DELETE FROM {table} WHERE {column} = %s"  # noqa: S608  # our names
    return rows.write(sql, [value], later=later, must_change=later)


# Set on an attempt read locked (`checking`, on a database that locks rows): no other
# transaction can delete its row until this one ends, so its claim cannot fail.
_READ_LOCKED = "_deskgate_read_locked"


# Set on a user read with the knowledge that they have no expired pending sign-ins
# (`credentials`' read of the password step asks it): `create_pending` then deletes none.
_NO_EXPIRED = "_deskgate_no_expired_sign_ins"


def note_no_expired_sign_ins(user: User) -> None:
    """This user (instance) has no expired pending sign-ins: the next `create_pending` for
    it skips their DELETE (one statement fewer at every password step)."""
    setattr(user, _NO_EXPIRED, True)


_DELETE_EXPIRED = (
    f"DELETE FROM {PendingSignIn._meta.db_table} WHERE user_id = %s AND expires_at < %s"  # noqa: S608  # our table
)
# Where rows have locks (PostgreSQL): the expired attempts no other request holds. The
# password step runs this with the user's guard row locked, and a code check locks its
# attempt, then the guard row (`checking`): waiting here for an attempt a check holds would
# close the circle (a deadlock, one of the two answering 500). A skipped one goes next time.
_DELETE_EXPIRED_UNHELD = (
    f"DELETE FROM {PendingSignIn._meta.db_table} WHERE id IN ("  # noqa: S608  # our table
    f"SELECT id FROM {PendingSignIn._meta.db_table} WHERE user_id = %s AND expires_at < %s"
    " FOR UPDATE SKIP LOCKED)"
)


def create_pending(
    user: User,
    *,
    via: SignInVia,
    ip: str | None,
    idp_did_mfa: bool = False,
    step_up: bool = False,
    via_link: bool = False,
) -> PendingSignIn:
    pending = _new_pending(
        user, via=via, ip=ip, idp_did_mfa=idp_did_mfa, step_up=step_up, via_link=via_link
    )
    insert_row(pending)  # one fixed statement, not the ORM's compiled INSERT (issue 17)
    return pending


def _new_pending(
    user: User,
    *,
    via: SignInVia,
    ip: str | None,
    idp_did_mfa: bool = False,
    step_up: bool = False,
    via_link: bool = False,
) -> PendingSignIn:
    """A new attempt of this user, not saved yet (their expired ones deleted)."""
    now = timezone.now()
    if not user.__dict__.pop(_NO_EXPIRED, False):
        unheld = connection.features.has_select_for_update_skip_locked
        with connection.cursor() as cursor:
            cursor.execute(
                _DELETE_EXPIRED_UNHELD if unheld else _DELETE_EXPIRED,
                [user.pk, connection.ops.adapt_datetimefield_value(now)],
            )
    return PendingSignIn(
        token=secrets.token_urlsafe(32),
        user=user,
        via=via,
        idp_did_mfa=idp_did_mfa,
        step_up=step_up,
        via_link=via_link,
        # The enrolment link and the password are both factors checked: no code is owed.
        code_passed=via_link,
        created_at=now,
        expires_at=now + PENDING_LIFETIME,
        ip=ip,
    )


def _origin(uri: str) -> str:
    """scheme://host[:port] of an app's (registered, checked) redirect URI; "" if odd."""
    parts = urlsplit(uri)
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        return ""
    origin = f"{parts.scheme}://{parts.netloc}"
    # It goes into a header: nothing that could end or extend the directive.
    return "" if any(ch in origin for ch in " ;,'\"\r\n") else origin


def return_after(request: HttpRequest, url: str, *, leads_to: str = "") -> None:
    """Come back to `url` (a path on this site) when the sign-in is done, and from there on
    to `leads_to` (an app's redirect URI): the sign-in pages' forms may lead there."""
    if url.startswith("/") and url_has_allowed_host_and_scheme(url, allowed_hosts=None):
        request.session[RETURN_TO_KEY] = url
        origin = _origin(leads_to) if leads_to else ""
        if origin:
            request.session[FORM_LEADS_TO_KEY] = origin
        else:
            request.session.pop(FORM_LEADS_TO_KEY, None)


def landing(request: HttpRequest) -> str:
    """Where a finished sign-in goes: back to the app that asked for it, else home."""
    url = request.session.pop(RETURN_TO_KEY, None)
    request.session.pop(REAUTH_KEY, None)
    request.session.pop(FORM_LEADS_TO_KEY, None)
    if isinstance(url, str) and url.startswith("/"):
        return url
    return reverse("home")


def ask_again(request: HttpRequest, url: str, *, leads_to: str = "") -> None:
    """The signed-in user must pass the sign-in again (prompt=login, max_age), then `url`
    (and on to `leads_to`, as in `return_after`)."""
    request.session[REAUTH_KEY] = True
    return_after(request, url, leads_to=leads_to)


def asked_again(request: HttpRequest) -> bool:
    return bool(request.session.get(REAUTH_KEY))


# How recent a second factor must be to set up or remove one (issue 14: enrolment is
# never weaker than what it protects).
PROOF_WINDOW = timedelta(minutes=15)


def second_factor_recent(request: HttpRequest, window: timedelta = PROOF_WINDOW) -> bool:
    """Whether this session's sign-in (or a step-up in it) checked a second factor within
    `window`: its record has `mfa` in amr and an auth_time that recent."""
    record = sessions.current(request)
    if record is None or "mfa" not in record.amr:
        return False
    return record.auth_time >= timezone.now() - window


def can_step_up(user: User) -> bool:
    """Whether a second factor can be asked of this user (an app wants two factors, or the
    user sets up or removes a factor): an Email or SMS code, their authenticator app or a
    passkey."""
    return user.mfa_applies or (user.client.supports_mfa and factors.has_strong_factor(user))


def begin_step_up(request: HttpRequest, user: User) -> PendingSignIn:
    """The signed-in user owes the code step to an app that wants two factors; answer the
    pending sign-in that asks only for it (a remembered device does not skip it)."""
    pending = create_pending(user, via=SignInVia.PASSWORD, ip=client_ip(request), step_up=True)
    sessions.cycle(request)
    request.session[SESSION_KEY] = pending.token
    return pending


CODE_AMR = {MfaMethod.EMAIL: "otp", MfaMethod.SMS: "sms"}
# The authenticator app is RFC 6238, which RFC 8176 names under `otp`. A recovery code is a
# single-use secret the user holds (NIST's "look-up secret"): RFC 8176 lists no value of its
# own for it, and its `otp` ("one-time password", specifications "include" HOTP and TOTP,
# not only them) is the one that says what it is; it is not `pwd` (not memorised, single
# use), not `hwk`/`swk` (no key proves possession).
FACTOR_AMR = {SecondFactor.APP: "otp", SecondFactor.RECOVERY: "otp"}


def code_checked(pending: PendingSignIn) -> bool:
    """A code was sent and typed back in this attempt (not skipped as not owed)."""
    return pending.code_passed and pending.codes_sent > 0 and bool(pending.code_channel)


def facts_for(request: HttpRequest, pending: PendingSignIn) -> sessions.AuthFacts:
    """What this attempt checked, as RFC 8176 `amr` values (docs/oidc.md has the table).

    `pwd` for the password, `fed` for the company's SSO; `otp` for a code by Email, a code
    of the authenticator app or a recovery code, `sms` for a code by SMS; for a passkey,
    `hwk` (a key bound to one device) or `swk` (a synced passkey) and `user` when it
    verified the user; `mfa` when two factors were used (a code or a key after the
    password, an SSO provider that said it did MFA, or a passkey that verified the user,
    alone: possession and the PIN or biometric). A remembered device is no factor.
    A step-up keeps what the session had checked and adds the code.
    """
    if pending.via == SignInVia.PASSKEY:
        # Passwordless is allowed only with user verification: both factors in one.
        amr = [*pending.key_amr.split(), "mfa"]
        return sessions.AuthFacts(amr=tuple(dict.fromkeys(amr)), at=timezone.now())
    if pending.step_up:
        record = sessions.current(request)
        amr = list(record.amr) if record is not None else []
    else:
        amr = ["fed"] if pending.via == SignInVia.SSO else ["pwd"]
        if pending.via == SignInVia.SSO and pending.idp_did_mfa:
            amr.append("mfa")
    second = pending.code_passed and (
        pending.second_factor in FACTOR_AMR or pending.second_factor == SecondFactor.PASSKEY
    )
    if second and pending.second_factor == SecondFactor.PASSKEY:
        amr.extend(pending.key_amr.split())
    elif second:
        amr.append(FACTOR_AMR[SecondFactor(pending.second_factor)])
    elif code_checked(pending):
        amr.append(CODE_AMR.get(MfaMethod(pending.code_channel), "otp"))
    if (second or code_checked(pending)) and "mfa" not in amr:
        amr.append("mfa")
    if pending.via_link:
        # The single-use link to the Email is a one-time secret sent there, as an Email
        # code is (RFC 8176 `otp`), and the second factor after the password.
        amr += ["otp", "mfa"]
    # An Email code typed back proves the address (the app and recovery codes do not); so
    # does the link.
    email_proven = (
        pending.via == SignInVia.SSO
        or pending.via_link
        or (not second and code_checked(pending) and pending.code_channel == MfaMethod.EMAIL)
    )
    return sessions.AuthFacts(
        amr=tuple(dict.fromkeys(amr)), at=timezone.now(), email_proven=email_proven
    )


def begin(
    request: HttpRequest,
    user: User,
    *,
    via: SignInVia = SignInVia.PASSWORD,
    idp_did_mfa: bool = False,
    via_link: bool = False,
) -> PendingSignIn:
    """The first factor passed: remember that server-side, and only a token in the session.
    `via_link`: the password came with a live enrolment link (`signin.enrolment`)."""
    pending = create_pending(
        user, via=via, ip=client_ip(request), idp_did_mfa=idp_did_mfa, via_link=via_link
    )
    if request.session.session_key is not None:
        sessions.cycle(request)  # a new key for the new privilege; none yet: new anyway
    request.session[SESSION_KEY] = pending.token
    return pending


def begin_passwordless(request: HttpRequest, user: User, *, key_amr: str) -> PendingSignIn:
    """A passkey that verified the user passed both factors at once (passwordless)."""
    pending = begin(request, user, via=SignInVia.PASSKEY)
    pending.code_passed = True
    pending.second_factor = SecondFactor.PASSKEY
    pending.key_amr = key_amr
    pending.save(update_fields=["code_passed", "second_factor", "key_amr"])
    return pending


# Every step after the password reads its attempt with the user and their client: one fixed
# statement (issue 17: the ORM's select_related of the three took most of the code page's CPU).
_ATTEMPT = rows.Shape((PendingSignIn, "p"), (User, "u"), (Client, "c"))
_JOIN_ATTEMPT = (
    f" FROM {PendingSignIn._meta.db_table} p"
    f" JOIN {User._meta.db_table} u ON u.id = p.user_id"
    f" JOIN {Client._meta.db_table} c ON c.id = u.client_id"
)
_FROM_ATTEMPT = f"{_JOIN_ATTEMPT} WHERE p.token = %s"
_CURRENT = f"SELECT {_ATTEMPT.columns()}{_FROM_ATTEMPT}"  # noqa: S608  # our tables
# The code page asks the user's strong factors on every request: in the same statement.
_CURRENT_WITH_FACTORS = (
    f"SELECT {_ATTEMPT.columns()}, {factors.strong_factor_columns('p.user_id')}{_FROM_ATTEMPT}"  # noqa: S608  # our tables
)
# A code's check (`checking`): the same, with the user's guard row; the attempt and the
# guard row locked where the database locks rows (SQLite: the write transaction locks it).
_ATTEMPT_AND_GUARD = rows.Shape(
    (PendingSignIn, "p"), (User, "u"), (Client, "c"), (SignInGuard, "g")
)
_CHECKING = (
    f"SELECT {_ATTEMPT_AND_GUARD.columns()}, {factors.strong_factor_columns('p.user_id')}"  # noqa: S608  # our tables
    f"{_JOIN_ATTEMPT} JOIN {SignInGuard._meta.db_table} g ON g.user_id = p.user_id"
    " WHERE p.token = %s"
)


def _current(
    request: HttpRequest, sql: str, shape: rows.Shape = _ATTEMPT, *, forget: bool = True
) -> tuple[PendingSignIn, tuple[Any, ...]] | None:
    """The attempt of this browser's session as `sql` reads it (the shape's first three
    models: the attempt, its user and their client), with the statement's other values
    (the shape's further models, then the columns after them). None when there is none
    (`forget`: the session forgets it) or it is over."""
    token = request.session.get(SESSION_KEY)
    if not isinstance(token, str):
        return None
    found = shape.one_and_rest(sql, [token])
    if found is None:
        if forget:
            abandon(request)
        return None
    pending, user, client = cast(tuple[PendingSignIn, User, Client], found[0][:3])
    rows.attach(user, "client", client)
    rows.attach(pending, "user", user)
    if pending.expires_at <= timezone.now() or not user.is_active:
        abandon(request)
        return None
    return pending, (*found[0][3:], *found[1])


def current(request: HttpRequest) -> PendingSignIn | None:
    """The sign-in in progress in this browser, if it has not expired."""
    found = _current(request, _CURRENT)
    return None if found is None else found[0]


def current_with_factors(request: HttpRequest) -> tuple[PendingSignIn, bool, bool] | None:
    """`current`, and whether its user has an authenticator app and a passkey (as
    `factors.strong_factors` answers), read in the same statement."""
    found = _current(request, _CURRENT_WITH_FACTORS)
    if found is None:
        return None
    pending, (app, key) = found
    return pending, bool(app), bool(key)


Checking = tuple[PendingSignIn, bool, bool, SignInGuard | None]


@contextmanager
def checking(request: HttpRequest) -> Iterator[Checking | None]:
    """A transaction for a code's check (`check_code`), and what the code page reads
    (`current_with_factors`) with the user's guard row, read once in it: the attempt and
    the guard row locked (issue 17: the code step read its attempt twice, unlocked for the
    page, then locked for the check). The guard is None when the user has no guard row yet
    (the check then reads and creates it).

    A session the check changed (a passed sign-in's, under its new key) is saved in this
    transaction, and on PostgreSQL the sign-in's closing writes and the session's row are
    one statement (`rows.waiting`)."""
    lock = " FOR UPDATE OF p, g" if connection.features.has_select_for_update_of else ""
    with transaction.atomic(), rows.waiting():
        found = _current(request, _CHECKING + lock, _ATTEMPT_AND_GUARD, forget=False)
        if found is not None:
            pending, (guard, app, key) = found
            if lock:
                pending.__dict__[_READ_LOCKED] = True
            yield pending, bool(app), bool(key), cast(SignInGuard, guard)
            if request.session.modified:
                sessions.save_now(request)
            return
        plain = current_with_factors(request)
        yield None if plain is None else (*plain, None)


def abandon(request: HttpRequest) -> None:
    token = request.session.pop(SESSION_KEY, None)
    if isinstance(token, str):
        _delete_one("token", token)


def proved(pending: PendingSignIn) -> bool:
    """Whether this attempt checked something besides the password: a code (Email, SMS,
    the app, a recovery code), the company's SSO, or an enrolment link. A strong factor is
    set up only after one of these, never on the password alone."""
    if pending.via == SignInVia.SSO or pending.via_link:
        return True
    return pending.code_passed and (code_checked(pending) or pending.second_factor in FACTOR_AMR)


def enrolment_owed(pending: PendingSignIn) -> bool:
    """The attempt must set up a strong factor before its session (the client's policy
    for the user's level, or an enrolment link); asks the database only when it may."""
    user = pending.user
    if pending.step_up or not (pending.via_link or policy.strong_factor_required(user)):
        return False
    return policy.owes_enrolment(
        user, has_strong_factor=factors.has_strong_factor(user), via_link=pending.via_link
    )


def next_stage(pending: PendingSignIn) -> Stage:
    user = pending.user
    if not pending.code_passed:
        return Stage.CODE
    if enrolment_owed(pending):
        return Stage.ENROL
    if user.must_change_password and pending.via == SignInVia.PASSWORD:
        return Stage.NEW_PASSWORD
    return Stage.DONE


def stage_url(stage: Stage) -> str:
    return reverse(STAGE_URLS[stage]) if stage in STAGE_URLS else reverse("home")


def claim(pending: PendingSignIn) -> bool:
    """Claim a passed attempt by deleting it: of parallel requests, exactly one gets True.

    An attempt this transaction holds locked (`checking`) is ours to delete: its DELETE may
    wait to go with the sign-in's other closing writes (`rows.waiting`), and would raise
    (rolling back the transaction) were the row gone after all."""
    if pending.__dict__.get(_READ_LOCKED):
        _delete_one("id", pending.pk, later=True)
        return True
    return bool(_delete_one("id", pending.pk))


def finish(
    request: HttpRequest,
    user: User,
    *,
    via: SignInVia,
    facts: sessions.AuthFacts,
    pending: PendingSignIn | None = None,
) -> bool:
    """Every stage passed: open the session (a new key) and record it with what this
    sign-in checked. A user signing in again in their own session (an app asked) keeps it,
    under a new key, with the new facts.

    The pending sign-in is claimed by deleting it: of parallel requests carrying the same
    passed attempt, exactly one deletes the row and gets a session.
    """
    # One transaction: the claim, the old session's row, last_login, the session's record
    # and the audit event are one commit (one WAL flush) instead of one each; within the
    # caller's (the code step's, `check_code`) no savepoint: nothing here is undone while
    # the rest stays, an error ends the whole transaction. On PostgreSQL the claim of an
    # attempt held locked, last_login, the record and the event go as one statement.
    with transaction.atomic(savepoint=False), rows.waiting():
        if pending is not None and not claim(pending):
            request.session.pop(SESSION_KEY, None)
            return False
        if pending is not None and request.session.get(SESSION_KEY) == pending.token:
            request.session.pop(SESSION_KEY)  # its row is the one just claimed
        else:
            abandon(request)
        again = request.user.is_authenticated and request.user.pk == user.pk
        old_key = request.session.session_key or ""
        if facts.email_proven:
            # Written with last_login by login()'s receiver: one UPDATE of the user.
            actions.note_email_proven(user, user.email, with_sign_in=True)
        login(request, user, backend=BACKEND)  # rotates the session key
        if again:
            sessions.reauthenticated(request, user, old_key=old_key, facts=facts)
        else:
            sessions.open(request, user, ip=client_ip(request), facts=facts)
        audit.record(
            AuditAction.SIGNIN_SUCCESS,
            client=user.client,
            by=actor_for(request, user),
            subject=user,
            summary=f"{user.label} signed in ({via})",
            method=via,
        )
    return True


def check_code(
    request: HttpRequest,
    pending: PendingSignIn,
    submitted: str,
    *,
    by: audit.Actor,
    guard: SignInGuard | None = None,
) -> tuple[challenge.Answer, str | None]:
    """Check a code typed on the code page and, when it is right, move the sign-in on (to
    its session, when no stage is left): the check and the sign-in's closing writes are
    one transaction, one commit. `guard`: the user's guard row, when `checking` read it and
    the attempt locked in this transaction (the check reads neither again, and `pending`
    is left as the check left the row). Answer the check's answer, and the URL to go to
    when the code was right."""
    # Within `checking`'s transaction, the same transaction (no savepoint).
    with transaction.atomic(savepoint=False):
        answer = challenge.verify(
            pending.pk,
            submitted,
            by=by,
            user=pending.user,
            fresh=pending,
            save_pass=False,
            locked=None if guard is None else (pending, guard),
        )
        if answer.reason != challenge.Check.OK:
            return answer, None
        stage = next_stage(pending)
        if stage != Stage.DONE:
            # The attempt goes on to another stage: its row keeps the pass. When done,
            # `finish` claims (deletes) the row in this transaction: nothing is written to
            # it first, the spent code goes with it (issue 17).
            challenge.save_passed(pending)
        return answer, _onward(request, pending, stage, has_strong=None)


def factor_passed(request: HttpRequest, pending: PendingSignIn) -> str:
    """A second factor (the app, a recovery code, a passkey) passed on the attempt read in
    `checking` (`factors.check_factor(locked=)`): in that transaction, move the sign-in on,
    as `check_code` does; answer the URL to go to."""
    stage = next_stage(pending)
    if stage != Stage.DONE:
        # The attempt goes on to another stage: its row keeps the pass (else `finish`
        # claims the row in this transaction, with nothing written to it first).
        rows.update(pending, list(factors.FACTOR_PASSED))
    return _onward(request, pending, stage, has_strong=None)


def _settle_code_owed(request: HttpRequest, pending: PendingSignIn, *, save: bool) -> bool | None:
    """While the code step may lie ahead, decide whether it is owed at all (a code not
    owed passes it: saved on the row when `save`, else left to the caller's INSERT); answer
    whether the user has a strong factor (None: not asked)."""
    user = pending.user
    # One query, asked only while the code step may lie ahead (it decides what it asks).
    has_strong = None
    if not pending.code_passed and pending.codes_sent == 0:
        has_strong = factors.has_strong_factor(user)
    if not pending.code_passed and pending.codes_sent == 0 and not pending.step_up:
        via_sso = pending.via == SignInVia.SSO
        # Who must still set up a strong factor proves a code now, even on a remembered
        # device: the set-up is never reached on the password alone.
        enrolling = not has_strong and policy.strong_factor_required(user)
        owed = owes_code(
            user,
            via_sso=via_sso,
            sso_requires_idp_mfa=via_sso and rules.sso_requires_idp_mfa(user.client),
            idp_did_mfa=pending.idp_did_mfa,
            remembered_device=not via_sso
            and not enrolling
            and devices.is_remembered(request, user),
            has_strong_factor=bool(has_strong),
        )
        if not owed:
            pending.code_passed = True  # nothing owed: the code step is passed
            if save:
                pending.save(update_fields=["code_passed"])
    return has_strong


def advance(request: HttpRequest, pending: PendingSignIn) -> str:
    """Move the sign-in on by one stage; answer the URL to go to."""
    has_strong = _settle_code_owed(request, pending, save=True)
    return _onward(request, pending, next_stage(pending), has_strong=has_strong)


def _onward(
    request: HttpRequest, pending: PendingSignIn, stage: Stage, *, has_strong: bool | None
) -> str:
    """Go to `stage` (`next_stage`'s answer): send the first code, or finish; its URL."""
    user = pending.user
    # A user with an authenticator app or a passkey is asked for it first: no Email or SMS
    # is sent (an SMS costs money) unless they ask for one on the code page.
    if stage == Stage.CODE and pending.codes_sent == 0 and not has_strong:
        answer = challenge.issue(pending.pk, by=actor_for(request, user), user=user)
        if answer.reason != challenge.Issue.SENT:  # a sent code is said by the page itself
            request.session[FIRST_SEND_KEY] = answer.as_dict()
    if stage == Stage.DONE:
        facts = facts_for(request, pending)
        if not finish(
            request, pending.user, via=SignInVia(pending.via), facts=facts, pending=pending
        ):
            return reverse("signin:password")
        return landing(request)
    return stage_url(stage)


def _insert_later(pending: PendingSignIn) -> None:
    """Insert the attempt's row with the password check's last writes (`rows.waiting`)."""
    insert_row(pending, later=True)


class PasswordPassed:
    """What a right password on the sign-in page leads to, run as
    `credentials.sign_in_with_password`'s `then`, in the password check's transaction: the
    attempt and its first code (or the session, when nothing more is owed) commit with the
    check, one commit, and the attempt's row is inserted with its code in it (issue 17: no
    INSERT, locked read and UPDATE of one new row, in two transactions). `onward()`, after
    that commit, sends the code and answers where the browser goes (None: no right
    password, nothing begun)."""

    def __init__(self, request: HttpRequest) -> None:
        self.request = request
        self._url: str | None = None
        self._code: challenge.Issued | None = None

    def __call__(self, user: User, code_lock: Lock) -> None:
        """The password is right (inside its transaction); `code_lock`: the user's code
        lock as that transaction read their guard row, locked."""
        request = self.request
        pending = _new_pending(user, via=SignInVia.PASSWORD, ip=client_ip(request))
        has_strong = _settle_code_owed(request, pending, save=False)
        stage = next_stage(pending)
        if stage == Stage.DONE:
            # Nothing more is owed: the session now, and no attempt row to claim (it would
            # be inserted and deleted in this transaction).
            facts = facts_for(request, pending)
            finish(request, user, via=SignInVia.PASSWORD, facts=facts)
            self._url = landing(request)
            sessions.save_now(request)  # with the sign-in's closing writes
            return
        if stage == Stage.CODE and not has_strong:
            found = challenge.issue_first(
                pending, code_lock, by=actor_for(request, user), insert=_insert_later
            )
            if isinstance(found, challenge.Answer):  # refused: the code page says why
                request.session[FIRST_SEND_KEY] = found.as_dict()
            else:
                self._code = found
        else:
            _insert_later(pending)
        if request.session.session_key is not None:
            sessions.cycle(request)  # a new key for the new privilege; none yet: new anyway
        request.session[SESSION_KEY] = pending.token
        self._url = stage_url(stage)
        # The session with the attempt's row (on PostgreSQL in one statement with it and
        # the budget's give-back: `rows.waiting`), not after the commit by the response.
        sessions.save_now(request)

    def onward(self) -> str | None:
        """After the commit: the first code sent (its failure shown on the code page); the
        URL to go to."""
        if self._code is not None:
            answer = challenge.deliver(self._code)
            self._code = None
            if answer.reason != challenge.Issue.SENT:
                self.request.session[FIRST_SEND_KEY] = answer.as_dict()
        return self._url
