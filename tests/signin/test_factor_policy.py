"""The factor policy at sign-in (issue 14): a user whose level must use a strong factor and
who has none is taken to set one up after proving what they have, before any session.

The table: level in or out of the policy x an authenticator app or not x MFA Email, SMS or
Off x the password or the company's SSO.
"""

from __future__ import annotations

import re
from datetime import timedelta
from importlib import import_module

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.test import Client as HttpClient
from django.test import RequestFactory

from deskgate.accounts.audit import Actor
from deskgate.accounts.models import AuditAction, AuditEvent, Client, User
from deskgate.signin import factors, pipeline, policy
from deskgate.signin.models import AuthenticatorApp, SignInVia
from tests.authenticator import app_code, enrol
from tests.conftest import sign_in
from tests.mailbox import last_code

ENROL = "/signin/enrol/"
SECRET = re.compile(r'id="totp-secret"[^>]*>([A-Z2-7 ]+)<')


def require(client: Client, *levels: str) -> None:
    """Set the policy as stored (past the settings' checks, to test what sign-in does)."""
    Client.objects.filter(pk=client.pk).update(strong_factor_levels=" ".join(levels))
    client.refresh_from_db()


def sso_sign_in(http: HttpClient, user: User) -> str:
    """The company's SSO vouched for `user` (what sso/views.py does after the provider's
    answer): the pipeline begins with SSO and advances; answer where it sends the browser."""
    request = RequestFactory().get("/sso/")
    store = import_module(settings.SESSION_ENGINE).SessionStore
    request.session = store()
    request.user = AnonymousUser()
    user = User.objects.select_related("client").get(pk=user.pk)  # as the SSO view loads it
    pending = pipeline.begin(request, user, via=SignInVia.SSO)
    location = pipeline.advance(request, pending)
    request.session.save()
    http.cookies[settings.SESSION_COOKIE_NAME] = str(request.session.session_key)
    return location


def prove(http: HttpClient, user: User, secret: str | None) -> str:
    """Pass the code step with what the user has; answer where it goes next."""
    if secret is not None:
        response = http.post(
            "/signin/code/", {"action": "verify_app", "app_code": app_code(secret)}
        )
    else:
        response = http.post("/signin/code/", {"action": "verify", "code": last_code(user)})
    assert response.status_code == 302, response.content[:800]
    return str(response["Location"])


def signed_in(http: HttpClient) -> bool:
    return "_auth_user_id" in http.session


# (in policy, has app, mfa, via sso) -> where the sign-in ends: "home", "enrol" (the set-up,
# after a proof) or "blocked" (nothing proven: the set-up link offer, no session).
TABLE = [
    (in_policy, has_app, mfa, sso, expected)
    for in_policy in (False, True)
    for has_app in (False, True)
    for mfa in ("email", "sms", "off")
    for sso in (False, True)
    for expected in [
        "home" if not in_policy or has_app else "enrol" if sso or mfa != "off" else "blocked"
    ]
]


@pytest.mark.parametrize(("in_policy", "has_app", "mfa", "sso", "expected"), TABLE)
def test_policy_table(
    user_factory, tenant, clock, in_policy: bool, has_app: bool, mfa: str, sso: bool, expected: str
) -> None:
    user = user_factory("admin" if in_policy else "agent", mfa)
    require(tenant, "admin")
    secret = enrol(user)[0] if has_app else None
    clock(timedelta(minutes=1))  # past the step the confirming code used
    http = HttpClient()
    if sso:
        location = sso_sign_in(http, user)
    else:
        location = str(sign_in(http, user)["Location"])
        if location == "/signin/code/":
            location = prove(http, user, secret)
    if expected == "home":
        assert location == "/" and signed_in(http)
        return
    assert location == ENROL and not signed_in(http)
    page = http.get(ENROL)
    assert page.status_code == 200
    body = page.content.decode()
    if expected == "enrol":
        assert SECRET.search(body) and "requires admins to sign in with an authenticator" in body
    else:
        assert not SECRET.search(body) and "<svg" not in body
        assert "a password alone is not enough to set one up" in body
        assert "Send me a set-up link" in body
        # A forged confirm on the password alone sets nothing up.
        http.post(ENROL, {"action": "confirm", "code": "123456"})
        assert not AuthenticatorApp.objects.filter(user=user).exists()
    assert http.get("/account/")["Location"].startswith("/signin/")
    assert not signed_in(http)


def test_enrol_after_the_code_then_home_with_two_factors(user_factory, tenant) -> None:
    require(tenant, "admin")
    user = user_factory("admin", "email")
    http = HttpClient()
    sign_in(http, user)
    assert prove(http, user, None) == ENROL
    page = http.get(ENROL).content.decode()
    secret = SECRET.search(page).group(1).replace(" ", "")  # type: ignore[union-attr]
    wrong = http.post(ENROL, {"action": "confirm", "code": "000000"})
    assert "not the app" in wrong.content.decode() and not signed_in(http)
    # The same secret is shown again after a wrong code.
    assert secret in SECRET.search(wrong.content.decode()).group(1).replace(" ", "")  # type: ignore[union-attr]
    done = http.post(ENROL, {"action": "confirm", "code": app_code(secret)})
    assert done.status_code == 200 and "Your recovery codes" in done.content.decode()
    assert done["Cache-Control"].startswith("max-age=0") or "no-store" in done["Cache-Control"]
    assert not signed_in(http)
    finish = http.post(ENROL, {"action": "continue"})
    assert finish["Location"] == "/" and signed_in(http)
    assert factors.has_strong_factor(user)
    session = user.sessions.get()
    assert "mfa" in session.amr


def test_a_remembered_device_does_not_skip_the_proof_before_enrolment(user_factory, tenant) -> None:
    user = user_factory("admin", "email")
    http = HttpClient()
    sign_in(http, user)
    http.post("/signin/code/", {"action": "verify", "code": last_code(user), "remember": "on"})
    http.post("/signin/sign-out/")
    require(tenant, "admin")
    # The device would skip the code; for enrolment it does not.
    assert sign_in(http, user)["Location"] == "/signin/code/"


def test_legacy_clients_have_no_policy(user_factory, legacy_tenant) -> None:
    require(legacy_tenant, "admin")  # forced past the settings' refusal
    user = user_factory("admin", client=legacy_tenant)
    assert not policy.strong_factor_required(user)
    http = HttpClient()
    assert sign_in(http, user)["Location"] == "/"


def test_the_last_strong_factor_cannot_be_removed_where_required(user_factory, tenant) -> None:
    user = user_factory("admin", "email")
    enrol(user)
    require(tenant, "admin")
    by = Actor(user=user, ip="127.0.0.1")
    with pytest.raises(ValidationError, match="requires admins to use an authenticator app"):
        factors.remove_app(user, by=by)
    assert factors.has_app(user)
    # Out of the policy, it can go; an admin's reset (a lost phone) always can.
    require(tenant)
    assert factors.remove_app(user, by=by)
    enrol(user)
    require(tenant, "admin")
    admin = user_factory("admin", "email")
    assert factors.reset_app(user, by=Actor(user=admin, ip="127.0.0.1"))


def test_the_account_page_says_why_removal_is_refused(user_factory, tenant, clock) -> None:
    user = user_factory("admin", "email")
    secret, _ = enrol(user)
    require(tenant, "admin")
    clock(timedelta(minutes=1))  # past the step the confirming code used
    http = HttpClient()
    sign_in(http, user)
    assert prove(http, user, secret) == "/"
    response = http.post("/account/authenticator/remove/", follow=True)
    assert "and this is your only one" in response.content.decode()
    assert factors.has_app(user)


def test_audit_of_the_enrolment_names_the_user(user_factory, tenant) -> None:
    require(tenant, "manager")
    user = user_factory("manager", "sms")
    http = HttpClient()
    sign_in(http, user)
    assert prove(http, user, None) == ENROL
    secret = SECRET.search(http.get(ENROL).content.decode()).group(1).replace(" ", "")  # type: ignore[union-attr]
    http.post(ENROL, {"action": "confirm", "code": app_code(secret)})
    assert AuditEvent.objects.filter(
        action=AuditAction.AUTHENTICATOR_ENROLLED, subject=user
    ).exists()


# -- a passkey as the strong factor the policy asks for -------------------------------------


def test_enrol_a_passkey_after_the_code_then_home(user_factory, tenant) -> None:
    from tests.softkey import SoftKey

    require(tenant, "admin")
    user = user_factory("admin", "email")
    http = HttpClient()
    sign_in(http, user)
    assert prove(http, user, None) == ENROL
    page = http.get(ENROL).content.decode()
    assert (
        'href="#passkey"' in page
        and 'data-passkey-options="/signin/enrol/passkey/options/"' in page
    )
    options = http.post("/signin/enrol/passkey/options/").json()["publicKey"]
    assert options["authenticatorSelection"]["userVerification"] == "required"  # an admin
    key = SoftKey()
    done = http.post(
        ENROL, {"action": "passkey", "credential": key.create(options), "name": "Desk key"}
    )
    assert done.status_code == 200, done.content[:800]
    assert "Your passkey is added" in done.content.decode() and not signed_in(http)
    assert len(re.findall(r"<li><code>", done.content.decode())) == 10
    finish = http.post(ENROL, {"action": "continue"})
    assert finish["Location"] == "/" and signed_in(http)
    assert factors.strong_factors_of([user.pk]) == {user.pk: [factors.StrongFactor.PASSKEY]}


def test_enrol_passkey_options_need_a_proof_beyond_the_password(user_factory, tenant) -> None:
    require(tenant, "admin")
    user = user_factory("admin", "off")
    http = HttpClient()
    assert sign_in(http, user)["Location"] == ENROL  # MFA Off: nothing to prove
    refused = http.post("/signin/enrol/passkey/options/")
    assert refused.status_code == 409 and "challenge" not in refused.content.decode()
    # And no sign-in at all: nothing to enrol for.
    assert HttpClient().post("/signin/enrol/passkey/options/").status_code == 409


def test_a_wrong_passkey_answer_at_enrolment_keeps_the_step(user_factory, tenant) -> None:
    from tests.softkey import SoftKey

    require(tenant, "admin")
    user = user_factory("admin", "sms")
    http = HttpClient()
    sign_in(http, user)
    assert prove(http, user, None) == ENROL
    options = http.post("/signin/enrol/passkey/options/").json()["publicKey"]
    answer = SoftKey().create(options, origin="https://deskgate.example.evil")
    refused = http.post(ENROL, {"action": "passkey", "credential": answer, "name": "Typed name"})
    body = refused.content.decode()
    assert refused.status_code == 200 and "could not be accepted" in body
    assert 'value="Typed name"' in body and not signed_in(http)
    assert not factors.has_strong_factor(user)


def test_the_last_passkey_cannot_be_removed_where_required(user_factory, tenant) -> None:
    from deskgate.signin import passkeys
    from deskgate.signin.models import Passkey
    from tests.softkey import enrol_key

    user = user_factory("admin", "email")
    enrol_key(user, name="One")
    first = Passkey.objects.get(user=user, name="One")
    require(tenant, "admin")
    by = Actor(user=user, ip="127.0.0.1")
    with pytest.raises(ValidationError, match="and this is your only one"):
        passkeys.remove(user, first.pk, by=by)
    enrol_key(user, name="Two")
    assert passkeys.remove(user, first.pk, by=by) == "One"  # another key stays
    second = Passkey.objects.get(user=user, name="Two")
    with pytest.raises(ValidationError, match="and this is your only one"):
        passkeys.remove(user, second.pk, by=by)
