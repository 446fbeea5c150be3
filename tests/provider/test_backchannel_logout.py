"""Logout everywhere: OpenID Connect Back-Channel Logout 1.0 and RP-initiated logout.

Each app is a real HTTP server on loopback (`backchannel.LoopbackApp`) registered as the
app's `backchannel_logout_uri`; every logout token it receives is verified with joserfc
against Deskgate's JWKS. Tests on the `db` fixture run the queue here with
`logout.deliver_due()` (their transaction never commits, so the worker thread would see
nothing); the ones about the worker itself commit (`transactional_db`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from django.contrib.auth.tokens import default_token_generator
from django.db import connection
from django.test import Client as HttpClient
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from joserfc import jwt

from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR, Actor
from deskgate.accounts.models import AuditAction, AuditEvent, User
from deskgate.provider import logout
from deskgate.provider.models import LogoutDelivery
from tests.conftest import PASSWORD, signed_in_client
from tests.pages import controls
from tests.provider.backchannel import (
    LoopbackApp,
    RegisteredApp,
    Tokens,
    basic,
    key_set,
    refresh,
    register,
    sign_in_to,
    userinfo_status,
    verified_logout_token,
)

NEW_PASSWORD = "harbour lantern seventeen owls"


@pytest.fixture
def app_factory() -> Iterator[Callable[..., RegisteredApp]]:
    servers: list[LoopbackApp] = []

    def make(name: str, *, backchannel: bool = True) -> RegisteredApp:
        server = LoopbackApp()
        servers.append(server)
        return register(name, server, backchannel=backchannel)

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def three_apps(
    db: None, app_factory: Callable[..., RegisteredApp]
) -> tuple[RegisteredApp, RegisteredApp, RegisteredApp]:
    return app_factory("Agent desktop"), app_factory("Reports"), app_factory("Wallboard")


def sids_told(app: RegisteredApp, user: User) -> list[str]:
    """The `sid` of every logout token the app received, each verified."""
    keys = key_set()
    return sorted(
        verified_logout_token(raw, app, user, keys)["sid"] for raw in app.loopback.tokens()
    )


def signed_out(http: HttpClient) -> bool:
    answer = http.get("/account/")
    return answer.status_code == 302 and answer["Location"].startswith("/signin/")


# --- 1. signing out of Deskgate -----------------------------------------------------------


def test_sign_out_tells_each_app_of_that_session_once_and_revokes_only_its_tokens(
    three_apps: tuple[RegisteredApp, ...], vera: User
) -> None:
    desktop, reports, wallboard = three_apps
    first, second = signed_in_client(vera), signed_in_client(vera)  # two browsers
    desktop_1, reports_1 = sign_in_to(first, desktop), sign_in_to(first, reports)
    desktop_2 = sign_in_to(second, desktop)
    assert desktop_1.sid == reports_1.sid != desktop_2.sid

    answer = first.post("/signin/sign-out/")
    assert answer.status_code == 302
    logout.deliver_due()

    assert sids_told(desktop, vera) == [desktop_1.sid]
    assert sids_told(reports, vera) == [desktop_1.sid]
    assert wallboard.loopback.received == []  # never used: told nothing
    for tokens in (desktop_1, reports_1):
        assert userinfo_status(tokens) == 401
        assert refresh(tokens) == 400
    # The other browser is still signed in, to Deskgate and to the app.
    assert not signed_out(second)
    assert userinfo_status(desktop_2) == 200
    assert refresh(desktop_2) == 200
    assert userinfo_status(desktop_2) == 200
    assert logout.deliver_due() is None
    assert len(desktop.loopback.received) == 1  # nothing more is sent


def test_the_logout_token_is_posted_as_a_form_and_carries_what_the_spec_asks(
    three_apps: tuple[RegisteredApp, ...], vera: User
) -> None:
    desktop = three_apps[0]
    browser = signed_in_client(vera)
    tokens = sign_in_to(browser, desktop)
    browser.post("/signin/sign-out/")
    logout.deliver_due()

    (received,) = desktop.loopback.received
    assert received.content_type == "application/x-www-form-urlencoded"
    claims = verified_logout_token(received.logout_token, desktop, vera, key_set())
    assert claims["sid"] == tokens.sid
    assert claims["sub"] == tokens.claims["sub"] == str(vera.subject)
    assert claims["aud"] == desktop.client_id
    assert claims["exp"] - claims["iat"] <= 300  # short-lived
    assert set(claims) == {"iss", "aud", "iat", "exp", "jti", "sub", "sid", "events"}


def test_a_sign_out_after_a_password_change_tells_the_apps_signed_in_to_since(
    three_apps: tuple[RegisteredApp, ...], vera: User
) -> None:
    desktop = three_apps[0]
    browser = signed_in_client(vera)
    before = sign_in_to(browser, desktop)
    change_password(browser)
    logout.deliver_due()
    assert sids_told(desktop, vera) == [before.sid]
    after = sign_in_to(browser, desktop)  # the same session, signed in to the app again
    assert after.sid == before.sid
    browser.post("/signin/sign-out/")
    logout.deliver_due()
    assert sids_told(desktop, vera) == [before.sid, after.sid]
    assert userinfo_status(after) == 401


def test_an_app_without_a_backchannel_uri_is_not_told_but_its_tokens_are_revoked(
    db: None, app_factory: Callable[..., RegisteredApp], vera: User
) -> None:
    quiet = app_factory("Quiet app", backchannel=False)
    browser = signed_in_client(vera)
    tokens = sign_in_to(browser, quiet)
    browser.post("/signin/sign-out/")
    assert LogoutDelivery.objects.count() == 0
    assert userinfo_status(tokens) == 401


# --- 2. the ways every sign-in ends -----------------------------------------------------------


def change_password(browser: HttpClient) -> None:
    answer = browser.post(
        "/signin/password/",
        {
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
    )
    assert answer.status_code == 302, answer.content[:800]


def deactivate(user: User, admin: User, browsers: list[HttpClient]) -> None:
    actions.set_user_active(user, False, by=Actor(user=admin))


def deactivate_on_the_admin_page(user: User, admin: User, browsers: list[HttpClient]) -> None:
    http = signed_in_client(admin)
    values = dict(controls(http.get(f"/users/{user.pk}/")).values)
    values.update({"employment": "inactive", "password": ""})
    answer = http.post(f"/users/{user.pk}/", values)
    assert answer.status_code == 302, answer.content[:800]
    assert not User.objects.get(pk=user.pk).is_active


def sign_out_everywhere(user: User, admin: User, browsers: list[HttpClient]) -> None:
    assert actions.end_sessions(user) == 2


def password_change_page(user: User, admin: User, browsers: list[HttpClient]) -> None:
    change_password(browsers[0])


def password_set_by_admin(user: User, admin: User, browsers: list[HttpClient]) -> None:
    actions.set_password(user, NEW_PASSWORD, by=Actor(user=admin), temporary=True)


def password_reset_page(user: User, admin: User, browsers: list[HttpClient]) -> None:
    actions.update_client_settings(
        user.client, by=OPERATOR, password_reset_enabled=True, remember_device_enabled=True
    )
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    stored = User.objects.get(pk=user.pk)  # the link is made from the row as it is now
    path = f"/signin/reset/{uid}/{default_token_generator.make_token(stored)}/"
    answer = HttpClient().post(
        path, {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    )
    assert answer.status_code == 302, answer.content[:800]


@pytest.mark.parametrize(
    "end",
    [
        deactivate,
        deactivate_on_the_admin_page,
        sign_out_everywhere,
        password_change_page,
        password_set_by_admin,
        password_reset_page,
    ],
)
def test_every_app_is_told_once_per_session_and_every_token_is_revoked(
    three_apps: tuple[RegisteredApp, ...],
    vera: User,
    admin_user: User,
    end: Callable[[User, User, list[HttpClient]], None],
) -> None:
    desktop, reports, wallboard = three_apps
    first, second = signed_in_client(vera), signed_in_client(vera)
    held = [sign_in_to(first, desktop), sign_in_to(first, reports), sign_in_to(second, desktop)]
    sid_1, sid_2 = held[0].sid, held[2].sid

    end(vera, admin_user, [first, second])
    logout.deliver_due()

    assert sids_told(desktop, vera) == sorted([sid_1, sid_2])
    assert sids_told(reports, vera) == [sid_1]
    assert wallboard.loopback.received == []
    for tokens in held:
        assert userinfo_status(tokens) == 401
        assert refresh(tokens) == 400
    assert LogoutDelivery.objects.exclude(delivered_at=None).count() == 3
    assert logout.deliver_due() is None


# --- 3. RP-initiated logout -----------------------------------------------------------------


def rp_logout(
    browser: HttpClient, tokens: Tokens, *, uri: str | None = None, state: str = "s-1"
) -> Any:
    query = {
        "id_token_hint": tokens.id_token,
        "post_logout_redirect_uri": uri or tokens.app.loopback.post_logout_redirect_uri,
        "state": state,
    }
    return browser.get("/o/logout/?" + urlencode(query))


def test_rp_initiated_logout_returns_to_the_app_and_tells_the_others(
    three_apps: tuple[RegisteredApp, ...], vera: User
) -> None:
    desktop, reports, wallboard = three_apps
    first, second = signed_in_client(vera), signed_in_client(vera)
    desktop_1, reports_1 = sign_in_to(first, desktop), sign_in_to(first, reports)
    reports_2 = sign_in_to(second, reports)

    answer = rp_logout(first, desktop_1, state="af0ifjsldkj")
    assert answer.status_code == 302
    assert answer["Location"] == desktop.loopback.post_logout_redirect_uri + "?state=af0ifjsldkj"
    assert signed_out(first)
    logout.deliver_due()

    assert sids_told(reports, vera) == [desktop_1.sid]
    assert wallboard.loopback.received == []
    for tokens in (desktop_1, reports_1):
        assert userinfo_status(tokens) == 401
        assert refresh(tokens) == 400
    # The other browser's session, and its sign-in to the app, go on.
    assert not signed_out(second)
    assert userinfo_status(reports_2) == 200
    assert refresh(reports_2) == 200


def test_rp_initiated_logout_to_an_unregistered_uri_is_refused_without_a_redirect(
    three_apps: tuple[RegisteredApp, ...], vera: User
) -> None:
    desktop, reports, _ = three_apps
    browser = signed_in_client(vera)
    tokens = sign_in_to(browser, desktop)
    for uri in (
        "https://evil.example/",
        desktop.loopback.post_logout_redirect_uri + "/more",
        "http://127.0.0.1/elsewhere",
    ):
        answer = rp_logout(browser, tokens, uri=uri)
        assert answer.status_code == 400
        assert "Location" not in answer
    assert not signed_out(browser)
    assert userinfo_status(tokens) == 200
    logout.deliver_due()
    assert desktop.loopback.received == reports.loopback.received == []


def test_rp_initiated_logout_after_deskgate_signed_out_still_returns_to_the_app(
    three_apps: tuple[RegisteredApp, ...], vera: User
) -> None:
    """An app that was not told (no back-channel URI, or it was down) sends the person
    to the logout endpoint after Deskgate's session ended: back to the app, no error."""
    desktop = three_apps[0]
    browser = signed_in_client(vera)
    tokens = sign_in_to(browser, desktop)
    browser.post("/signin/sign-out/")
    answer = rp_logout(browser, tokens, state="after")
    assert answer.status_code == 302, answer.content[:500]
    assert answer["Location"] == desktop.loopback.post_logout_redirect_uri + "?state=after"


def test_rp_initiated_logout_after_the_session_went_idle_returns_to_the_app(
    three_apps: tuple[RegisteredApp, ...], admin_user: User, clock: Callable[[timedelta], Any]
) -> None:
    """The idle limit ends the session on this very request: the app's logout request is
    still answered with the way back to the app, and the session's apps are told."""
    desktop, reports, _ = three_apps
    browser = signed_in_client(admin_user)  # 30 idle minutes
    desktop_1, reports_1 = sign_in_to(browser, desktop), sign_in_to(browser, reports)
    clock(timedelta(hours=1))
    answer = rp_logout(browser, desktop_1, state="idle")
    assert answer.status_code == 302, answer.content[:500]
    assert answer["Location"] == desktop.loopback.post_logout_redirect_uri + "?state=idle"
    logout.deliver_due()
    assert sids_told(reports, admin_user) == [reports_1.sid]
    assert sids_told(desktop, admin_user) == [desktop_1.sid]
    assert refresh(desktop_1) == 400


def test_authorize_after_the_session_went_idle_signs_in_again_and_returns_to_the_app(
    three_apps: tuple[RegisteredApp, ...], admin_user: User, clock: Callable[[timedelta], Any]
) -> None:
    desktop = three_apps[0]
    browser = signed_in_client(admin_user)
    clock(timedelta(hours=1))
    for http in (browser, HttpClient()):  # idle, and never signed in
        silent_authorize(http, desktop)


def silent_authorize(http: HttpClient, desktop: RegisteredApp) -> None:
    answer = http.get(
        "/o/authorize/?"
        + urlencode(
            {
                "response_type": "code",
                "client_id": desktop.client_id,
                "redirect_uri": desktop.loopback.redirect_uri,
                "scope": "openid",
                "prompt": "none",
                "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                "code_challenge_method": "S256",
            }
        )
    )
    # prompt=none: the app is answered, no page is shown.
    assert answer.status_code == 302
    assert answer["Location"].startswith(desktop.loopback.redirect_uri + "?error=login_required")


def test_a_hint_from_another_browsers_session_is_asked_about_first(
    three_apps: tuple[RegisteredApp, ...], vera: User
) -> None:
    desktop = three_apps[0]
    first, second = signed_in_client(vera), signed_in_client(vera)
    tokens = sign_in_to(first, desktop)
    answer = rp_logout(second, tokens)
    assert answer.status_code == 200  # the confirmation page, not a silent sign-out
    assert not signed_out(second) and not signed_out(first)
    assert userinfo_status(tokens) == 200


def test_rp_initiated_logout_without_a_deskgate_session_revokes_that_apps_sign_in(
    three_apps: tuple[RegisteredApp, ...], vera: User
) -> None:
    """The app's browser no longer holds Deskgate's session (its cookie was lost): the
    app asked to end its sign-in, so its tokens of that sign-in are revoked; the session's
    other apps are left alone (that session may still be live elsewhere)."""
    desktop, reports, _ = three_apps
    browser = signed_in_client(vera)
    desktop_1, reports_1 = sign_in_to(browser, desktop), sign_in_to(browser, reports)
    answer = rp_logout(HttpClient(), desktop_1, state="lost")
    assert answer.status_code == 302
    assert answer["Location"] == desktop.loopback.post_logout_redirect_uri + "?state=lost"
    assert userinfo_status(desktop_1) == 401
    assert userinfo_status(reports_1) == 200
    assert not signed_out(browser)


# --- 4. delivery failures -------------------------------------------------------------------


@pytest.mark.parametrize("failure", ["answers 500", "is down"])
def test_a_failing_app_is_tried_a_bounded_number_of_times_then_audited(
    three_apps: tuple[RegisteredApp, ...],
    vera: User,
    admin_user: User,
    clock: Callable[[timedelta], Any],
    failure: str,
) -> None:
    desktop, reports, _ = three_apps
    browser = signed_in_client(vera)
    sign_in_to(browser, desktop)
    sign_in_to(browser, reports)
    if failure == "answers 500":
        desktop.loopback.status = 500
    else:
        desktop.loopback.stop()
    browser.post("/signin/sign-out/")

    tries = 1 + len(logout.LOGOUT_RETRY_AFTER)
    assert logout.deliver_due() == pytest.approx(logout.LOGOUT_RETRY_AFTER[0], abs=1)
    assert len(reports.loopback.received) == 1  # the other app is not held up
    for wait in logout.LOGOUT_RETRY_AFTER:
        clock(timedelta(seconds=wait - 1))
        logout.deliver_due()  # not due yet
        clock(timedelta(seconds=1))
        logout.deliver_due()
    sent = desktop.loopback.tokens()
    assert len(sent) == (tries if failure == "answers 500" else 0)
    clock(timedelta(hours=1))
    assert logout.deliver_due() is None  # given up: nothing more
    assert len(desktop.loopback.received) == len(sent)

    delivery = LogoutDelivery.objects.get(application__name="Agent desktop")
    assert delivery.attempts == tries and delivery.failed_at is not None
    (event,) = AuditEvent.objects.filter(action=AuditAction.OIDC_LOGOUT_FAILED)
    assert event.client_id == vera.client_id and event.subject_id == vera.pk
    assert event.detail["app"] == "Agent desktop" and event.detail["attempts"] == tries
    assert ("HTTP 500" if failure == "answers 500" else "could not reach") in event.summary
    written = event.summary + str(event.detail)
    for token in sent:
        for part in token.split("."):
            assert part not in written
    assert "eyJ" not in written
    # The admins of the user's client see it on their trail.
    trail = signed_in_client(admin_user).get("/audit/")
    assert "was not told that" in trail.content.decode()


def test_an_app_that_trickles_its_answer_is_cut_at_the_deadline(
    three_apps: tuple[RegisteredApp, ...], vera: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A byte now and then would reset a socket timeout forever: the whole POST has one
    deadline, and the other apps' logouts do not wait behind it."""
    monkeypatch.setattr(logout, "LOGOUT_TIMEOUT", 1.0)
    desktop, reports, _ = three_apps
    browser = signed_in_client(vera)
    sign_in_to(browser, desktop)
    sign_in_to(browser, reports)
    desktop.loopback.trickle = True
    browser.post("/signin/sign-out/")
    started = time.monotonic()
    logout.deliver_due()
    assert time.monotonic() - started < 4
    assert len(reports.loopback.received) == 1
    slow = LogoutDelivery.objects.get(application__name="Agent desktop")
    assert slow.delivered_at is None and slow.attempts == 1
    assert slow.last_error == "the app did not answer within 1 s"


# --- 4b and 5: the worker thread, with committed data ---------------------------------------


@pytest.fixture
def committed(transactional_db: None) -> Iterator[None]:
    yield
    assert logout.worker.wait_idle(timeout=30), "the logout worker did not finish"


def test_a_slow_app_never_holds_the_sign_out_response(
    committed: None, app_factory: Callable[..., RegisteredApp], user_factory: Callable[..., User]
) -> None:
    user = user_factory("agent")
    desktop = app_factory("Agent desktop")
    browser = signed_in_client(user)
    tokens = sign_in_to(browser, desktop)
    desktop.loopback.hold = True  # the app takes its time to answer

    started = time.monotonic()
    answer = browser.post("/signin/sign-out/")
    answered = time.monotonic()
    assert answer.status_code == 302
    # The POST to the app goes out after the response, from the worker...
    assert desktop.loopback.arrived.wait(10), "the worker did not post the logout token"
    assert desktop.loopback.received[0].at >= answered
    # ...and the app has still not answered, though the person's browser has its answer.
    assert desktop.loopback.answered == []
    assert answered - started < 5
    assert userinfo_status(tokens) == 401  # the tokens did not wait for the app
    desktop.loopback.release.set()
    assert logout.worker.wait_idle(timeout=15)
    assert len(desktop.loopback.answered) == 1
    assert LogoutDelivery.objects.get().delivered_at is not None


def test_parallel_drains_deliver_each_logout_once(
    committed: None, app_factory: Callable[..., RegisteredApp], user_factory: Callable[..., User]
) -> None:
    """Several workers (threads here, processes in production) drain the same queue: each
    delivery is claimed by one conditional UPDATE, so each app gets each logout once."""
    apps = [app_factory(f"App {n}") for n in range(4)]
    users = [user_factory("agent") for _ in range(3)]
    browsers = {user.pk: [signed_in_client(user), signed_in_client(user)] for user in users}
    for user in users:
        for browser in browsers[user.pk]:
            for app in apps:
                sign_in_to(browser, app)
    for app in apps:
        app.loopback.hold = True  # slow answers: the drains overlap
    for user in users:
        actions.end_sessions(user)  # 4 apps x 2 sessions each: 24 deliveries, worker kicked

    gate = threading.Barrier(4)
    errors: list[BaseException] = []

    def drain() -> None:
        try:
            gate.wait(10)
            logout.deliver_due()
        except BaseException as exc:  # noqa: BLE001  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=drain) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    for app in apps:
        app.loopback.release.set()
    for thread in threads:
        thread.join(60)
    assert logout.worker.wait_idle(timeout=30)
    assert errors == []

    rows = list(LogoutDelivery.objects.all())
    assert len(rows) == 24
    assert all(row.delivered_at is not None and row.attempts == 1 for row in rows)
    for app in apps:
        keys = key_set()
        told = []
        for raw in app.loopback.tokens():
            claims = verified_logout_token(raw, app, _user_of(raw, users), keys)
            told.append((claims["sub"], claims["sid"]))
        assert len(told) == 6 and len(set(told)) == 6, told


def _user_of(raw: str, users: list[User]) -> User:
    sub = jwt.decode(raw, key_set(), algorithms=["RS256"]).claims["sub"]
    return next(user for user in users if str(user.subject) == sub)


# --- each sign-in ends once ------------------------------------------------------------------


def test_an_app_told_of_a_sign_out_is_not_told_again_by_a_later_end(
    three_apps: tuple[RegisteredApp, ...], vera: User, admin_user: User
) -> None:
    desktop, reports, _ = three_apps
    first, second = signed_in_client(vera), signed_in_client(vera)
    gone = sign_in_to(first, desktop)
    live = sign_in_to(second, reports)
    first.post("/signin/sign-out/")
    logout.deliver_due()
    assert sids_told(desktop, vera) == [gone.sid]

    actions.set_user_active(vera, False, by=Actor(user=admin_user))
    logout.deliver_due()
    assert sids_told(desktop, vera) == [gone.sid]  # once, not again
    assert sids_told(reports, vera) == [live.sid]


def test_a_code_not_yet_exchanged_when_the_session_signs_out_gets_nothing(
    three_apps: tuple[RegisteredApp, ...], vera: User
) -> None:
    desktop = three_apps[0]
    browser = signed_in_client(vera)
    verifier = "v" * 50
    answer = browser.get(
        "/o/authorize/?"
        + urlencode(
            {
                "response_type": "code",
                "client_id": desktop.client_id,
                "redirect_uri": desktop.loopback.redirect_uri,
                "scope": "openid",
                "code_challenge": create_s256_code_challenge(verifier),
                "code_challenge_method": "S256",
            }
        )
    )
    code = parse_qs(urlsplit(answer["Location"]).query)["code"][0]
    browser.post("/signin/sign-out/")  # before the app exchanged its code
    exchange = HttpClient().post(
        "/o/token/",
        urlencode(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": desktop.loopback.redirect_uri,
                "code_verifier": verifier,
            }
        ),
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=basic(desktop),
    )
    assert exchange.status_code == 400
    assert exchange.json()["error"] == "invalid_grant"
    logout.deliver_due()
    assert desktop.loopback.received == []  # it never had the sign-in
    assert not AuditEvent.objects.filter(action=AuditAction.OIDC_CODE_REPLAYED).exists()
