"""27. Sessions and remembered devices (issue 16): each user sees where they are signed in
and ends any or all of it; an admin signs a user out everywhere.

The doors: Your account > Your sessions (end one, end all others, forget a device) and
the user page's Sign out everywhere. Each goes through an action, is audited, idempotent,
POST with CSRF only; a session is named on the page by a keyed digest, never its key;
another client's user answers as a missing one; an agent ends nobody else's sessions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.db import OperationalError, connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext

from deskgate.accounts import sessions
from deskgate.accounts.models import AuditEvent, Client, User, UserSession
from deskgate.signin.models import RememberedDevice
from tests.conftest import PASSWORD
from tests.harness import geoip
from tests.mailbox import last_code
from tests.pages import page_text
from tests.security.conftest import full_sign_in, parallel

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


@pytest.fixture(autouse=True)
def _places(tmp_path: Path, settings: Any) -> None:
    settings.DESKGATE_GEOIP_DB = str(geoip.write(tmp_path / "GeoLite2-City.mmdb"))


def browser_as(
    user: User, *, ip: str = geoip.HELSINKI, agent: str = FIREFOX, remember: bool = False
) -> HttpClient:
    """A browser at `ip` signed in as `user` through the real pages (the code when owed)."""
    http = HttpClient(REMOTE_ADDR=ip, HTTP_USER_AGENT=agent)
    response = http.post("/signin/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302, response.content[:500]
    if response["Location"] == "/signin/code/":
        data = {"action": "verify", "code": last_code(user)}
        if remember:
            data["remember"] = "on"
        response = http.post("/signin/code/", data)
    assert response["Location"] == "/", response["Location"]
    return http


def key_of(http: HttpClient) -> str:
    return http.cookies["deskgate_session"].value


def signed_in(http: HttpClient) -> bool:
    return http.get("/account/").status_code == 200


def handles(response: Any) -> list[str]:
    return re.findall(r'name="session" value="([0-9a-f]+)"', response.content.decode())


def ended_events(user: User) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(subject=user, action="sessions.ended"))


def test_the_account_page_lists_each_session_with_device_place_and_times(
    user_factory: Callable[..., User],
) -> None:
    user = user_factory("agent")
    here = browser_as(user, ip=geoip.HELSINKI, agent=FIREFOX)
    browser_as(user, ip=geoip.SWEDEN, agent=SAFARI)
    browser_as(user, ip="127.0.0.1", agent="")
    page = here.get("/account/")
    text = page_text(page)
    table = re.search(r'<table id="sessions">.*?</table>', page.content.decode(), re.S)
    assert table is not None
    rows = re.findall(r"<tr>(.*?)</tr>", table.group(0), re.S)[1:]
    assert len(rows) == 3
    assert "Firefox on Linux (this session)" in text
    assert "Helsinki, Finland" in text and geoip.HELSINKI in text
    assert "Mobile Safari on iOS" in text and "Sweden" in text
    assert "A browser" in text and "Local network" in text
    assert text.count("this session") == 1
    assert len(handles(page)) == 2  # no End button on this session: Sign out is that
    assert "End all other sessions" in text


def test_no_session_key_or_sid_reaches_the_page(user_factory: Callable[..., User]) -> None:
    user = user_factory("agent")
    here, there = browser_as(user), browser_as(user, agent=SAFARI)
    body = here.get("/account/").content.decode()
    for row in UserSession.objects.filter(user=user):
        assert row.session_key not in body
        assert row.sid not in body
    assert key_of(there) not in body


def test_a_user_ends_another_session_and_its_cookie_no_longer_works(
    user_factory: Callable[..., User],
) -> None:
    user = user_factory("agent")
    here, there = browser_as(user), browser_as(user, agent=SAFARI)
    stolen_key = key_of(there)
    [handle] = handles(here.get("/account/"))
    response = here.post("/account/sessions/end/", {"session": handle})
    assert response.status_code == 302 and response["Location"] == "/account/"
    assert "The session on Mobile Safari on iOS is ended" in page_text(here.get("/account/"))
    assert not signed_in(there)
    replay = HttpClient()
    replay.cookies["deskgate_session"] = stolen_key
    assert not signed_in(replay)
    assert not Session.objects.filter(session_key=stolen_key).exists()
    assert signed_in(here)
    [event] = ended_events(user)
    assert event.actor == user and event.detail["sessions"] == 1
    assert stolen_key not in event.summary
    # Again (a double click, a second tab): nothing more happens and nothing is recorded.
    again = here.post("/account/sessions/end/", {"session": handle}, follow=True)
    assert "That session had already ended." in page_text(again)
    assert len(ended_events(user)) == 1


def test_ending_this_session_signs_this_browser_out(user_factory: Callable[..., User]) -> None:
    user = user_factory("agent")
    here = browser_as(user)
    this = sessions.handle(UserSession.objects.get(session_key=key_of(here)))
    response = here.post("/account/sessions/end/", {"session": this})
    assert response["Location"] == "/signin/"
    assert not signed_in(here)
    assert not UserSession.objects.filter(user=user).exists()


def test_end_all_others_keeps_this_session(user_factory: Callable[..., User]) -> None:
    user = user_factory("agent")
    someone = user_factory("agent")
    here = browser_as(user)
    others = [browser_as(user, agent=SAFARI) for _ in range(3)]
    bystander = browser_as(someone)
    response = here.post("/account/sessions/end-others/", follow=True)
    assert "3 other sessions ended: only this one is signed in." in page_text(response)
    assert signed_in(here) and signed_in(bystander)
    assert not any(signed_in(o) for o in others)
    assert list(UserSession.objects.filter(user=user).values_list("session_key", flat=True)) == [
        key_of(here)
    ]
    [event] = ended_events(user)
    assert (event.detail["sessions"], event.detail["others"]) == (3, True)
    again = here.post("/account/sessions/end-others/", follow=True)
    assert "No other session was signed in." in page_text(again)
    assert len(ended_events(user)) == 1


def test_a_handle_from_someone_elses_page_ends_nothing(user_factory: Callable[..., User]) -> None:
    victim, attacker = user_factory("agent"), user_factory("agent")
    victim_here = browser_as(victim)
    browser_as(victim, agent=SAFARI)
    [victims_other] = handles(victim_here.get("/account/"))
    mine = browser_as(attacker)
    response = mine.post("/account/sessions/end/", {"session": victims_other}, follow=True)
    assert "That session had already ended." in page_text(response)
    assert UserSession.objects.filter(user=victim).count() == 2
    for junk in ("", "x" * 5000, "' OR 1=1 --", "\x00", "ääkkönen", "\U0001f600" * 40):
        assert mine.post("/account/sessions/end/", {"session": junk}).status_code == 302
    assert UserSession.objects.filter(user=victim).count() == 2
    assert not AuditEvent.objects.filter(action="sessions.ended").exists()


def test_a_user_forgets_one_remembered_device(user_factory: Callable[..., User]) -> None:
    user = user_factory("agent", "email")
    other = user_factory("agent", "email")
    here = browser_as(user, remember=True)
    browser_as(user, agent=SAFARI, ip=geoip.SWEDEN, remember=True)
    browser_as(other, remember=True)
    page = page_text(here.get("/account/"))
    assert "Mobile Safari on iOS" in page and "Sweden" in page
    safari = RememberedDevice.objects.get(user=user, label=SAFARI)
    theirs = RememberedDevice.objects.get(user=other)
    # Someone else's device id is no device of this user: nothing is forgotten.
    response = here.post(f"/account/devices/{theirs.pk}/forget/", follow=True)
    assert "That device was forgotten already." in page_text(response)
    assert RememberedDevice.objects.filter(pk=theirs.pk).exists()
    response = here.post(f"/account/devices/{safari.pk}/forget/", follow=True)
    assert "The device is forgotten" in page_text(response)
    assert list(RememberedDevice.objects.filter(user=user).values_list("label", flat=True)) == [
        FIREFOX
    ]
    event = AuditEvent.objects.filter(subject=user, action="devices.revoked").get()
    assert "Mobile Safari on iOS" in event.summary
    here.post(f"/account/devices/{safari.pk}/forget/")
    assert AuditEvent.objects.filter(subject=user, action="devices.revoked").count() == 1
    huge = here.post("/account/devices/99999999999999999999/forget/")  # past any id column
    assert huge.status_code == 302


def test_an_admin_sees_a_users_sessions_and_signs_them_out_everywhere(
    user_factory: Callable[..., User], admin_user: User
) -> None:
    agent = user_factory("agent", "email")
    one = browser_as(agent, remember=True)
    two = browser_as(agent, agent=SAFARI, ip=geoip.SWEDEN)
    admin = browser_as(admin_user)
    page = admin.get(f"/users/{agent.pk}/")
    text = page_text(page)
    assert "Signed-in sessions" in text
    assert "Firefox on Linux" in text and "Helsinki, Finland" in text and "Sweden" in text
    assert "this session" not in text
    for row in UserSession.objects.filter(user=agent):
        assert row.session_key not in page.content.decode()
    response = admin.post(f"/users/{agent.pk}/sign-out-everywhere/", follow=True)
    assert (
        f"{agent.label} is signed out everywhere: 2 sessions ended and their remembered "
        "devices forgotten." in page_text(response)
    )
    assert not signed_in(one) and not signed_in(two)
    assert signed_in(admin)
    assert not UserSession.objects.filter(user=agent).exists()
    assert not RememberedDevice.objects.filter(user=agent).exists()
    actions = set(
        AuditEvent.objects.filter(subject=agent, actor=admin_user).values_list("action", flat=True)
    )
    assert {"signin.signed_out", "devices.revoked"} <= actions
    assert "Not signed in anywhere." in page_text(admin.get(f"/users/{agent.pk}/"))
    # Again: harmless, nothing left to end.
    again = admin.post(f"/users/{agent.pk}/sign-out-everywhere/", follow=True)
    assert "0 sessions ended" in page_text(again)


def test_another_clients_user_answers_as_a_missing_one(
    user_factory: Callable[..., User], admin_user: User, tenant_factory: Callable[..., Client]
) -> None:
    other_client = tenant_factory("Contoso")
    stranger = user_factory("agent", client=other_client)
    theirs = browser_as(stranger)
    admin = browser_as(admin_user)
    missing = admin.post("/users/999999/sign-out-everywhere/")
    foreign = admin.post(f"/users/{stranger.pk}/sign-out-everywhere/")
    assert missing.status_code == foreign.status_code == 404
    assert page_text(missing) == page_text(foreign)
    assert admin.get(f"/users/{stranger.pk}/").status_code == 404
    assert signed_in(theirs)


def test_an_agent_or_a_manager_below_cannot_sign_anyone_out(
    user_factory: Callable[..., User], admin_user: User
) -> None:
    agent = user_factory("agent")
    manager = user_factory("manager")
    victims = [browser_as(admin_user), browser_as(manager)]
    agents_browser = browser_as(agent)
    response = agents_browser.post(f"/users/{manager.pk}/sign-out-everywhere/")
    assert response.status_code == 403
    managers_browser = browser_as(manager)
    response = managers_browser.post(f"/users/{admin_user.pk}/sign-out-everywhere/")
    assert response.status_code == 403
    assert all(signed_in(v) for v in victims)
    assert not AuditEvent.objects.filter(action="signin.signed_out").exists()
    # A manager may sign an agent out (R10: the same rights as other changes of an agent).
    assert managers_browser.post(f"/users/{agent.pk}/sign-out-everywhere/").status_code == 302
    assert not signed_in(agents_browser)


@pytest.mark.parametrize(
    "path",
    [
        "/account/sessions/end/",
        "/account/sessions/end-others/",
        "/account/devices/1/forget/",
        "/users/1/sign-out-everywhere/",
    ],
)
def test_only_a_post_with_the_csrf_token_ends_anything(
    path: str, user_factory: Callable[..., User], admin_user: User
) -> None:
    victim = browser_as(admin_user, agent=SAFARI)
    admin = browser_as(admin_user)
    path = path.replace("/users/1/", f"/users/{admin_user.pk}/")
    assert admin.get(path).status_code == 405
    strict = HttpClient(enforce_csrf_checks=True)
    strict.cookies["deskgate_session"] = key_of(admin)
    assert strict.post(path, {}).status_code == 403
    assert signed_in(victim)
    assert UserSession.objects.filter(user=admin_user).count() == 2


def test_signed_out_visitors_are_sent_to_sign_in(db: None) -> None:
    for path in ("/account/sessions/end/", "/account/sessions/end-others/"):
        response = HttpClient().post(path, {"session": "0" * 32})
        assert response.status_code == 302 and response["Location"].startswith("/signin/")


@pytest.mark.django_db(transaction=True)
def test_parallel_ends_of_one_session_end_it_once(browser: Any, user_factory: Any) -> None:
    user = user_factory("agent")
    here = full_sign_in(browser(), user)
    there = full_sign_in(browser(), user)
    page = here.get("/account/")
    [handle] = re.findall(r'name="session" value="([0-9a-f]+)"', page.text)
    token = here.csrf_token("/account/")
    tabs = [here.clone() for _ in range(10)]

    answers = parallel(
        10, lambda i: tabs[i].post("/account/sessions/end/", {"session": handle}, csrf=token)
    )

    assert {a.status_code for a in answers} == {302}, [a.status_code for a in answers]
    assert len(ended_events(user)) == 1
    assert there.whoami() is None and here.whoami() == user.full_name


@pytest.mark.django_db(transaction=True)
def test_a_user_and_an_admin_ending_sessions_at_once_is_harmless(
    browser: Any, user_factory: Any, admin_user: User
) -> None:
    user = user_factory("agent")
    here = full_sign_in(browser(), user)
    others = [full_sign_in(browser(), user) for _ in range(3)]
    admin = full_sign_in(browser(), admin_user)
    mine, theirs = here.csrf_token("/account/"), admin.csrf_token(f"/users/{user.pk}/")
    tabs = [(here if i % 2 else admin).clone() for i in range(8)]

    def work(i: int) -> int:
        if i % 2:
            return tabs[i].post("/account/sessions/end-others/", {}, csrf=mine).status_code
        return tabs[i].post(f"/users/{user.pk}/sign-out-everywhere/", {}, csrf=theirs).status_code

    answers = parallel(8, work)

    assert set(answers) == {302}, answers
    assert not UserSession.objects.filter(user=user).exists()
    assert all(o.whoami() is None for o in others) and here.whoami() is None
    # Each session was counted as ended once, whoever ended it.
    counted = sum(
        e.detail.get("sessions", 0)
        for e in AuditEvent.objects.filter(
            subject=user, action__in=["sessions.ended", "signin.signed_out"]
        )
    )
    assert counted == 4


def test_the_pages_cost_the_same_queries_whatever_the_number_of_sessions(
    user_factory: Callable[..., User], admin_user: User
) -> None:
    user = user_factory("agent", "email")
    admin = browser_as(admin_user)
    counts = []
    for _ in range(2):
        here = browser_as(user, remember=True)
        for _ in range(2):
            browser_as(user, agent=SAFARI, remember=True)
        with CaptureQueriesContext(connection) as own:
            assert here.get("/account/").status_code == 200
        with CaptureQueriesContext(connection) as admins:
            assert admin.get(f"/users/{user.pk}/").status_code == 200
        counts.append((len(own), len(admins)))
    assert UserSession.objects.filter(user=user).count() == 6
    assert counts[0] == counts[1], counts


@pytest.mark.django_db(transaction=True)
def test_a_sign_in_that_fails_after_saving_its_session_hands_out_no_session(
    user_factory: Callable[..., User], settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The code step saves the new session in its transaction (`save_now`, in one statement
    with the sign-in's closing writes on PostgreSQL). Should the transaction fail after
    that, the answer is the error page without a cookie: the new key is never handed out,
    nothing of the sign-in stays, and the same code still works."""
    user = user_factory("agent", "email")
    http = HttpClient(raise_request_exception=False)
    http.post("/signin/", {"username": user.username, "password": PASSWORD})
    under_way = key_of(http)
    code = last_code(user)
    store = import_module(settings.SESSION_ENGINE).SessionStore
    save_now = store.save_now

    def saved_then_lost(self: Any) -> None:
        save_now(self)
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(store, "save_now", saved_then_lost)
    response = http.post("/signin/code/", {"action": "verify", "code": code})
    assert response.status_code == 503
    assert "deskgate_session" not in response.cookies and key_of(http) == under_way
    assert not UserSession.objects.filter(user=user).exists()
    assert list(Session.objects.values_list("pk", flat=True)) == [under_way]
    assert not signed_in(http)
    monkeypatch.undo()
    response = http.post("/signin/code/", {"action": "verify", "code": code})
    assert response["Location"] == "/" and signed_in(http)
    assert key_of(http) != under_way and UserSession.objects.filter(user=user).count() == 1
