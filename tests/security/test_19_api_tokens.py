"""19. API tokens against a hostile or careless party.

- The token is shown once, in the answer to the POST that created it: never in a log record
  (every logger at DEBUG), the audit trail, a later page, the session or the database (only
  its SHA-256 and its first characters are kept). GitHub and GitLab's token pages, OWASP
  ASVS 5.0 V13.3 (secrets stored hashed, shown once).
- A token id of another client answers as a missing one (R10).
- Only an admin creates or revokes; a manager is refused and nothing changes.
- Create and revoke are POSTs that need the CSRF token.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.apps import apps
from django.contrib.sessions.models import Session

from deskgate.accounts.audit import OPERATOR, Via
from deskgate.accounts.models import AuditEvent, Client, User
from deskgate.apitokens import tokens
from deskgate.apitokens.models import ApiToken
from tests.apitokens.conftest import SCIM, WRITE, bearer
from tests.security.conftest import BrowserFactory, comparable, full_sign_in, visible_text
from tests.security.test_06_leaks import every_log_record  # noqa: F401  # the fixture

pytestmark = pytest.mark.django_db(transaction=True)

PAGE = "/settings/api-tokens/"
TOKEN = re.compile(r"dgt_[A-Za-z0-9_-]{43}")


def revoke_url(token: ApiToken | int) -> str:
    pk = token.pk if isinstance(token, ApiToken) else token
    return f"/settings/api-tokens/{pk}/revoke/"


def everything_stored() -> Iterator[tuple[str, str]]:
    """(table, text) of every value of every row of every model's table, sessions included."""
    for model in apps.get_models(include_auto_created=True):
        for row in model._default_manager.all().values_list():
            yield model._meta.db_table, " ".join(str(v) for v in row)
    for session in Session.objects.all():
        yield "session (decoded)", str(session.get_decoded())


def traces_of(secret: str) -> list[str]:
    """What gives a token away: itself, or any 12 characters of it past the kept hint."""
    tail = secret[len("dgt_") + 6 :]
    return [secret, *(tail[i : i + 12] for i in range(0, len(tail) - 12, 4))]


def test_a_token_is_shown_once_and_kept_nowhere(
    browser: BrowserFactory,
    admin_user: User,
    tenant: Client,
    settings: Any,
    every_log_record: list[tuple[str, str]],  # noqa: F811
) -> None:
    settings.DESKGATE_API_RATE_LIMIT = 2
    a = full_sign_in(browser(), admin_user)
    created = a.post(PAGE, {"name": "Entra ID", "scope": "scim", "expires_days": "30"})
    assert created.status_code == 200, visible_text(created)
    assert "no-store" in created.headers["Cache-Control"]
    [secret] = set(TOKEN.findall(created.text))
    token = ApiToken.objects.get()
    # Used: let through, refused for scope, rate limited, then revoked and refused.
    for _ in range(3):
        try:
            tokens.authenticate(bearer(secret), door=Via.SCIM, needs=SCIM)
        except tokens.Refused as refused:
            assert refused.status == 429
    with pytest.raises(tokens.Refused):
        tokens.authenticate(bearer(secret), door=Via.API, needs=WRITE)
    confirm = a.get(revoke_url(token))
    assert confirm.status_code == 200
    revoked = a.post(revoke_url(token), {}, form=revoke_url(token))
    assert revoked.status_code == 302
    with pytest.raises(tokens.Refused, match="revoked"):
        tokens.authenticate(bearer(secret), door=Via.SCIM, needs=SCIM)
    # A wrong token that differs in its last character only: the refusal names nothing.
    with pytest.raises(tokens.Refused, match="not valid"):
        tokens.authenticate(bearer(secret[:-1] + "?"), door=Via.SCIM, needs=SCIM)
    later = [a.get(p) for p in (PAGE, "/settings/", "/audit/", revoke_url(token))]

    # Shown in exactly one answer: the creation's.
    showing = [r for r in browser.seen if any(t in r.text for t in traces_of(secret))]
    assert showing == [created]
    for response in [*later, *browser.seen]:
        for header, value in response.headers.items():
            assert secret not in value, header
        assert secret not in response.url
    assert token.hint + "\u2026" in html.unescape(later[0].text)
    # Nowhere in the logs, the audit trail or any stored row (the hint aside).
    assert every_log_record, "the log handler saw nothing: the check would prove nothing"
    for name, text in every_log_record:
        assert not any(t in text for t in traces_of(secret)), name
    events = AuditEvent.objects.filter(client=tenant)
    actions_seen = set(events.values_list("action", flat=True))
    assert {"token.created", "token.refused", "token.revoked"} <= actions_seen
    for table, text in everything_stored():
        assert not any(t in text for t in traces_of(secret)), table
    stored = ApiToken.objects.get()
    assert stored.digest == tokens.digest_of(secret) and len(stored.digest) == 64
    assert secret.startswith(stored.hint) and len(stored.hint) == 10


@pytest.fixture
def foreign_token(tenant_factory: Callable[..., Client]) -> ApiToken:
    contoso = tenant_factory("Contoso")
    return tokens.issue(
        contoso, name="Contoso directory", scope="scim", expires_days=None, by=OPERATOR
    ).token


def test_another_clients_token_answers_as_a_missing_one(
    browser: BrowserFactory, admin_user: User, foreign_token: ApiToken
) -> None:
    a = full_sign_in(browser(), admin_user)
    missing = foreign_token.pk + 1000
    csrf = a.csrf_token(PAGE)
    for method in ("get", "post"):
        answers = []
        for pk in (foreign_token.pk, missing):
            if method == "get":
                response = a.get(revoke_url(pk))
            else:
                response = a.post(revoke_url(pk), {}, csrf=csrf)
            assert response.status_code == 404
            answers.append(comparable(response, str(pk)))
        assert answers[0] == answers[1], method
    listed = a.get(PAGE).text
    assert "Contoso directory" not in listed and foreign_token.hint not in listed
    foreign_token.refresh_from_db()
    assert foreign_token.revoked_at is None
    assert not AuditEvent.objects.filter(action="token.revoked").exists()


def test_a_manager_cannot_create_or_revoke(
    browser: BrowserFactory, user_factory: Callable[..., User], tenant: Client, admin_user: User
) -> None:
    own = tokens.issue(tenant, name="Entra ID", scope="scim", expires_days=None, by=OPERATOR)
    manager = user_factory("manager", username="mallory.manager", full_name="Mallory Manager")
    m = full_sign_in(browser(), manager)
    csrf = m.csrf_token("/users/")  # a page a manager does open
    before = list(ApiToken.objects.values())
    audited = AuditEvent.objects.filter(action__startswith="token.").count()
    answers = [
        m.get(PAGE),
        m.post(PAGE, {"name": "Mine now", "scope": "write", "expires_days": "never"}, csrf=csrf),
        m.get(revoke_url(own.token)),
        m.post(revoke_url(own.token), {}, csrf=csrf),
    ]
    for response in answers:
        assert response.status_code == 403
        assert "Only an admin can change the company's settings." in visible_text(response)
        assert TOKEN.search(response.text) is None
    assert list(ApiToken.objects.values()) == before
    assert AuditEvent.objects.filter(action__startswith="token.").count() == audited


def test_create_and_revoke_need_the_csrf_token(
    browser: BrowserFactory, admin_user: User, tenant: Client
) -> None:
    own = tokens.issue(tenant, name="Entra ID", scope="scim", expires_days=None, by=OPERATOR)
    a = full_sign_in(browser(), admin_user)
    before = list(ApiToken.objects.values())
    attempts = [
        a.post_raw(PAGE, {"name": "Forged", "scope": "write", "expires_days": "never"}),
        a.post_raw(revoke_url(own.token), {}),
        a.post_raw(revoke_url(own.token), {"csrfmiddlewaretoken": "x" * 64}),
    ]
    for response in attempts:
        assert response.status_code == 403
        assert TOKEN.search(response.text) is None
    assert list(ApiToken.objects.values()) == before
    # A cross-site form post (another origin in Origin and Referer) is refused the same way,
    # even with a token read from the page.
    csrf = a.csrf_token(PAGE)
    evil = {"Origin": "https://evil.example", "Referer": "https://evil.example/"}
    response = a.post(revoke_url(own.token), {}, csrf=csrf, headers=evil)
    assert response.status_code == 403
    own.token.refresh_from_db()
    assert own.token.revoked_at is None
