"""Passkeys and security keys as a door (issue 14): registration cannot be reached on the
password alone; a key's id names nothing of another user or client; no key material and
no challenge reaches a log, the audit trail or a page; a challenge answered once, by many
requests at once, signs in exactly once.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import timedelta

import pytest
from django.test import Client as HttpClient

from deskgate.accounts.audit import Actor
from deskgate.accounts.models import AuditEvent, Client, UserSession
from deskgate.signin import passkeys, pipeline
from deskgate.signin.factors import FactorCheck
from deskgate.signin.models import Passkey, PasskeyChallenge, PendingSignIn, SignInVia
from tests.conftest import sign_in
from tests.mailbox import last_code
from tests.signin.test_code_concurrency import in_parallel
from tests.softkey import (
    SoftKey,
    b64u,
    enrol_key,
    sign_in_passwordless,
    signed_in_with_key,
    use_at_code_step,
)

BY = Actor(ip="127.0.0.1")
ADD = "/account/passkeys/add/"
OPTIONS = "/account/passkeys/options/"


def _cannot_register(http: HttpClient, user) -> None:
    page = http.get(ADD)
    assert page.status_code == 200 and b"data-passkey=" not in page.content
    assert http.post(OPTIONS).status_code == 403
    # An answer made for options the server never gave: nothing to check it against.
    forged = {"challenge": b64u(b"x" * 32), "rp": {"id": "127.0.0.1"}, "user": {"id": "AA"}}
    http.post(ADD, {"credential": SoftKey().create(forged), "name": "k"})
    assert not Passkey.objects.filter(user=user).exists()
    assert not PasskeyChallenge.objects.filter(user=user).exists()


def test_a_password_only_session_cannot_register(user_factory, signed_in) -> None:
    user = user_factory("agent", "off")
    http = signed_in(user)
    _cannot_register(http, user)
    assert b"Ask your admin to set your MFA to Email or SMS first" in http.get(ADD).content


def test_a_remembered_device_is_no_second_factor_for_registration(user_factory) -> None:
    user = user_factory("agent", "email")
    http = HttpClient()
    sign_in(http, user)
    http.post("/signin/code/", {"action": "verify", "code": last_code(user), "remember": "on"})
    http.post("/signin/sign-out/")
    assert sign_in(http, user)["Location"] == "/"  # the device skipped the code: pwd only
    _cannot_register(http, user)
    assert b"Your password alone is not enough" in http.get(ADD).content


def test_an_old_sign_in_must_check_a_factor_again(user_factory, signed_in, clock) -> None:
    user = user_factory("agent", "email")
    http = signed_in(user)
    clock(timedelta(minutes=16))
    _cannot_register(http, user)
    response = http.post("/account/authenticator/prove/", {"then": "passkey"})
    assert response["Location"] == "/signin/code/"
    done = http.post("/signin/code/", {"action": "verify", "code": last_code(user)})
    assert done["Location"] == ADD
    assert b"data-passkey=" in http.get(ADD).content


def test_removal_needs_a_recent_second_factor(user_factory, clock) -> None:
    user = user_factory("agent", "email")
    http = signed_in_with_key(user, enrol_key(user))
    key = Passkey.objects.get(user=user)
    clock(timedelta(minutes=16))
    page = http.post(f"/account/passkeys/{key.pk}/remove/")
    assert page.status_code == 200 and b"Your password alone is not enough" in page.content
    assert Passkey.objects.filter(pk=key.pk).exists()


def test_key_ids_name_nothing_of_another_user_or_client(
    user_factory, tenant_factory, signed_in
) -> None:
    globex = tenant_factory("Globex")
    theirs = user_factory("agent", "email", client=globex)
    neighbour = user_factory("agent", "email")
    enrol_key(theirs, name="Theirs")
    enrol_key(neighbour, name="Neighbour")
    me = user_factory("admin", "email")
    http = signed_in_with_key(me, enrol_key(me, name="Mine"))
    before = list(Passkey.objects.order_by("pk").values_list("pk", "name", "user_id"))
    for other in Passkey.objects.exclude(user=me):
        renamed = http.post(f"/account/passkeys/{other.pk}/rename/", {"name": "Pwned"}, follow=True)
        assert b"no such key on your account" in renamed.content
        removed = http.post(f"/account/passkeys/{other.pk}/remove/", follow=True)
        assert b"no such key on your account" in removed.content
    # The admin's reset: the other client's user is not found, as a missing one is.
    assert http.post(f"/users/{theirs.pk}/reset-passkeys/").status_code == 404
    assert http.post("/users/999999/reset-passkeys/").status_code == 404
    after = list(Passkey.objects.order_by("pk").values_list("pk", "name", "user_id"))
    assert after == before


def test_no_key_material_or_challenge_in_logs_audit_or_pages(
    user_factory, admin_http, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    user = user_factory("agent", "email")
    Client.objects.filter(pk=user.client_id).update(passwordless_enabled=True)
    soft = SoftKey()
    http = HttpClient()
    enrol_key(user, soft, name="Desk key")
    # The code step, once with a phishing origin, once right; then passwordless.
    sign_in(http, user)
    challenges = []
    for origin in ("https://evil.example", None):
        options = http.post("/signin/passkey/options/").json()["publicKey"]
        challenges.append(options["challenge"])
        http.post(
            "/signin/code/",
            {"action": "verify_passkey", "credential": soft.get(options, origin=origin)},
        )
    user_http = HttpClient()
    options = user_http.post("/signin/passkey/options/", {"for": "passwordless"}).json()
    challenges.append(options["publicKey"]["challenge"])
    user_http.post("/signin/passkey/", {"credential": soft.get(options["publicKey"])})
    stored = Passkey.objects.get(user=user)
    needles = [
        b64u(soft.credential_id),
        soft.credential_id.hex(),
        b64u(bytes(stored.public_key)),
        bytes(stored.public_key).hex(),
        *challenges,
    ]
    trail = " ".join(
        f"{e.summary} {json.dumps(e.detail)}" for e in AuditEvent.objects.filter(subject=user)
    )
    pages = " ".join(
        p.content.decode()
        for p in (
            user_http.get("/account/"),
            admin_http.get(f"/users/{user.pk}/"),
            admin_http.get(f"/audit/?user={user.pk}"),
        )
    )
    assert "Desk key" in pages and "Desk key" in trail
    for needle in needles:
        assert needle not in trail and needle not in caplog.text and needle not in pages


@pytest.mark.django_db(transaction=True)
def test_one_answer_in_parallel_code_steps_passes_exactly_once(user_factory) -> None:
    user = user_factory("agent", "email")
    soft = enrol_key(user)
    token, options = passkeys.signin_options(user)
    answer = soft.get(json.loads(options))
    pendings = [pipeline.create_pending(user, via=SignInVia.PASSWORD, ip=None) for _ in range(8)]
    results = in_parallel(
        8,
        lambda i: (
            passkeys.verify_second_factor(pendings[i].pk, user, answer, token=token, by=BY).reason
        ),
    )
    counts = Counter(results)
    assert counts[FactorCheck.OK] == 1 and counts[FactorCheck.WRONG] == 7
    assert PendingSignIn.objects.filter(code_passed=True).count() == 1
    assert not PasskeyChallenge.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_one_passwordless_answer_in_parallel_signs_in_exactly_once(user_factory) -> None:
    user = user_factory("agent", "email")
    Client.objects.filter(pk=user.client_id).update(passwordless_enabled=True)
    soft = enrol_key(user)
    token, options = passkeys.signin_options(None)
    answer = soft.get(json.loads(options))
    results = in_parallel(
        8, lambda i: passkeys.verify_passwordless(answer, token=token, by=BY).reason
    )
    assert Counter(results)[passkeys.Passwordless.OK] == 1


@pytest.mark.django_db(transaction=True)
def test_a_counter_raced_by_two_fresh_challenges_moves_once(user_factory) -> None:
    """Two challenges answered with the same count (a clone racing the real key): the
    conditional UPDATE lets one through."""
    user = user_factory("agent", "email")
    soft = enrol_key(user)
    tokens = [passkeys.signin_options(user) for _ in range(2)]
    answers = [soft.get(json.loads(o), count=5) for _, o in tokens]
    pendings = [pipeline.create_pending(user, via=SignInVia.PASSWORD, ip=None) for _ in range(2)]
    results = in_parallel(
        2,
        lambda i: (
            passkeys.verify_second_factor(
                pendings[i].pk, user, answers[i], token=tokens[i][0], by=BY
            ).reason
        ),
    )
    assert sorted(results) == sorted([FactorCheck.OK, FactorCheck.CLONED])
    assert Passkey.objects.get(user=user).sign_count == 5


def test_a_passwordless_session_is_not_reached_by_a_code_step_answer(user_factory) -> None:
    """An answer made for the code step's challenge cannot be replayed to passwordless."""
    user = user_factory("agent", "email")
    Client.objects.filter(pk=user.client_id).update(passwordless_enabled=True)
    soft = enrol_key(user)
    http = HttpClient()
    sign_in(http, user)
    options = http.post("/signin/passkey/options/").json()["publicKey"]
    answer = soft.get(options)
    # The session's token names a challenge bound to the user, not a passwordless one.
    http.post("/signin/passkey/", {"credential": answer})
    assert not UserSession.objects.filter(user=user).exists()
    # The code step goes on with a challenge of its own; passwordless with its own.
    assert use_at_code_step(http, soft)["Location"] == "/"
    assert sign_in_passwordless(HttpClient(), soft)["Location"] == "/"
