"""Finnish and Swedish as people get them: the user's own language, else the company's
default, else Accept-Language; codes and notices in the recipient's language; dates and times
in the user's zone; plural forms right in both languages."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.template import Context, Template
from django.test import Client as HttpClient
from django.utils import translation
from django.utils.translation import ngettext

from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR, Actor
from deskgate.accounts.models import AuditAction, AuditEvent, User
from tests.conftest import sign_in
from tests.mailbox import messages_to


def choose(user: User, language: str = "", time_zone: str = "") -> User:
    return actions.change_own_preferences(
        user, language=language, time_zone=time_zone, by=Actor(user=user)
    )


def company_default(user: User, language: str, time_zone: str = "UTC") -> None:
    actions.update_client_settings(
        user.client,
        by=OPERATOR,
        password_reset_enabled=user.client.password_reset_enabled,
        remember_device_enabled=user.client.remember_device_enabled,
        default_language=language,
        time_zone=time_zone,
    )
    user.client.refresh_from_db()


def test_a_finnish_user_sees_finnish_pages(user_factory, signed_in) -> None:
    user = choose(user_factory("agent"), "fi")
    page = signed_in(user).get("/account/").content.decode()
    assert '<html lang="fi">' in page
    assert "Oma tili" in page and "Vaihda salasana" in page and "Tallenna" in page
    assert "Your account" not in page


@pytest.mark.parametrize(
    ("method", "expected"),
    [("email", "Deskgate-kirjautumiskoodisi on"), ("sms", "Deskgate-kirjautumiskoodisi on")],
)
def test_a_finnish_user_gets_a_finnish_code(user_factory, method: str, expected: str) -> None:
    user = choose(user_factory("agent", method), "fi")
    http = HttpClient()
    # The browser asks for English: the code follows the user's own language.
    sign_in(http, user)
    sent = messages_to(user.mfa_destination())
    assert len(sent) == 1 and expected in sent[0] and "minuuttia" in sent[0]
    page = http.get("/signin/code/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Syötä koodi" in page and "Lähetä koodi uudelleen" in page
    assert "Muista laite 30 päivää" in page


def test_the_swedish_company_default_applies_to_a_user_without_a_setting(
    user_factory, signed_in
) -> None:
    user = user_factory("agent", "email")
    company_default(user, "sv")
    sent = messages_to(user.email)
    http = signed_in(user)
    assert "Din inloggningskod för Deskgate är" in messages_to(user.email)[len(sent)]
    page = http.get("/account/").content.decode()
    assert '<html lang="sv">' in page and "Ditt konto" in page
    # The user's own choice wins over the company's.
    choose(user, "en")
    assert "Your account" in http.get("/account/").content.decode()


@pytest.mark.parametrize(
    ("header", "title", "label"),
    [
        ("fi-FI,fi;q=0.9,en;q=0.5", "Kirjaudu", "Käyttäjätunnus"),
        ("sv-SE,sv;q=0.9", "Logga in", "Användarnamn"),
        ("de-DE,de;q=0.9", "Sign in", "User name"),
    ],
)
def test_the_sign_in_page_follows_accept_language(db, header: str, title: str, label: str):
    page = HttpClient().get("/signin/", HTTP_ACCEPT_LANGUAGE=header)
    text = page.content.decode()
    assert (
        f"<h1>{title}</h1>" in text
        and label in text
        and "Salasana" in text
        or (header.startswith(("sv", "de")))
    )
    assert page["Content-Language"] == {"f": "fi", "s": "sv", "d": "en"}[header[0]]


def test_a_notice_goes_out_in_the_recipients_language(
    user_factory, admin_user, django_capture_on_commit_callbacks
) -> None:
    agent = choose(user_factory("agent", "email"), "sv")
    with translation.override("fi"), django_capture_on_commit_callbacks(execute=True):
        # An admin reading Finnish changes it: the notice is in the agent's Swedish.
        actions.change_mfa_method(agent, "sms", by=Actor(user=admin_user))
    notice = messages_to(agent.email)[-1]
    assert notice.startswith("Deskgate: MFA- eller kontaktinformationen för ditt konto")
    assert "MFA är nu SMS till" in notice


def test_preferences_are_chosen_on_the_account_page_and_audited(user_factory, signed_in):
    user = user_factory("agent")
    http = signed_in(user)
    response = http.post(
        "/account/preferences/", {"language": "sv", "time_zone": "Europe/Stockholm"}
    )
    assert response.status_code == 302
    page = http.get("/account/").content.decode()
    assert "Ditt språk och din tidszon är sparade." in page
    user.refresh_from_db()
    assert (user.language, user.time_zone) == ("sv", "Europe/Stockholm")
    event = AuditEvent.objects.get(action=AuditAction.USER_PREFERENCES_CHANGED)
    assert event.subject == user and event.detail["time_zone"] == "Europe/Stockholm"


def test_an_unknown_zone_is_refused_with_a_clear_message(user_factory, signed_in) -> None:
    user = user_factory("agent")
    http = signed_in(user)
    page = http.post("/account/preferences/", {"language": "fi", "time_zone": "Mars/Olympus"})
    text = page.content.decode()
    assert page.status_code == 200
    assert "Mars/Olympus is not a time zone Deskgate knows" in text
    assert 'value="Mars/Olympus"' in text  # kept as typed
    user.refresh_from_db()
    assert (user.language, user.time_zone) == ("", "")
    with pytest.raises(ValidationError, match="Choose one of the languages"):
        choose(user, "de")
    with pytest.raises(ValidationError, match="time zone"):
        company_default(user, "", "Nowhere/City")


def test_times_show_in_the_users_zone_with_the_zone_named(user_factory, admin_user) -> None:
    agent = user_factory("agent")
    company_default(agent, "", "Europe/Helsinki")
    event = AuditEvent.objects.filter(subject=agent).latest("at")
    helsinki = event.at.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Helsinki"))
    http = HttpClient()
    sign_in(http, admin_user)
    page = http.get(f"/users/{agent.pk}/").content.decode()
    assert "Times in Europe/Helsinki." in page
    assert helsinki.strftime("%Y-%m-%d %H:%M") in page
    audit = http.get("/audit/").content.decode()
    assert "When (Europe/Helsinki)" in audit
    choose(admin_user, time_zone="Europe/Stockholm")
    assert "When (Europe/Stockholm)" in http.get("/audit/").content.decode()


PLURALS = {
    "fi": ("1 varakoodi jäljellä.", "2 varakoodia jäljellä.", "5 varakoodia jäljellä."),
    "sv": (
        "1 återställningskod kvar.",
        "2 återställningskoder kvar.",
        "5 återställningskoder kvar.",
    ),
}


@pytest.mark.parametrize("language", ["fi", "sv"])
def test_plural_forms_render_right(language: str) -> None:
    template = Template(
        "{% load i18n %}{% blocktranslate count left=n %}{{ left }} recovery code left."
        "{% plural %}{{ left }} recovery codes left.{% endblocktranslate %}"
    )
    with translation.override(language):
        shown = tuple(template.render(Context({"n": n})) for n in (1, 2, 5))
        minutes = [
            ngettext("%(count)d minute", "%(count)d minutes", n) % {"count": n} for n in (1, 5)
        ]
    assert shown == PLURALS[language]
    assert (
        minutes == {"fi": ["1 minuutti", "5 minuuttia"], "sv": ["1 minut", "5 minuter"]}[language]
    )
