"""4. Step skipping: with only the password done, nothing reaches a session.

ZITADEL CVE-2025-64103 (authenticated after one factor), listmonk CVE-2026-128333, Lemmy
#3714, GitLab #31308 (password reset skipping 2FA or signing in), django-allauth-2fa PR
#41 (Django's admin login bypassing 2FA), Keycloak CVE-2026-18963. Every URL pattern of
the project is found through Django's resolver, so a page added later is attacked too.
"""

from __future__ import annotations

import base64
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import AuditEvent, Client, MessageTemplate, User
from deskgate.apitokens import tokens
from deskgate.signin.devices import COOKIE as DEVICE_COOKIE
from deskgate.signin.models import Passkey, PendingSignIn, RememberedDevice
from deskgate.sso.models import ProviderConfig
from tests.conftest import PASSWORD
from tests.mailbox import last_code, messages_to
from tests.security.conftest import (
    comparable,
    concrete,
    found,
    routes,
    signed_in_users,
    visible_text,
)

pytestmark = pytest.mark.django_db(transaction=True)

NEW_PASSWORD = "a brand new passphrase for reset"
# Routes that end the pending sign-in on purpose; the sweep visits them last.
ENDING = ("signin:cancel", "signin:sign_out")


def attack_payload(ids: list[int]) -> list[tuple[str, str]]:
    """Every field any form of the product reads, filled to do harm."""
    fields = {
        "username": "made.by.attacker",
        "full_name": "Made By Attacker",
        "level": "admin",
        "employment": "active",
        "email": "attacker@evil.example",
        "work_phone": "",
        "mfa_method": "off",
        "method": "off",
        "scope": "level:admin",
        "password": "attacker chosen password",
        "new_password": "attacker chosen password",
        "confirm_password": "attacker chosen password",
        "current_password": PASSWORD,
        "password_reset_enabled": "on",
        "remember_device_enabled": "on",
        "sms_countries": "",
        "name": "Evil template",
        "channel": "sms",
        "sender": "Evil",
        "subject": "",
        "body": "evil",
        "field": "email",
        "value": "attacker@evil.example",
        "code": "000000",
        "company": "Northwind",
        "issuer": "http://127.0.0.1:9/",
        "client_id": "evil",
        "secret": "evil-secret-0123456789",
        "mandatory": "",
        "action": "save",
    }
    return list(fields.items()) + [("users", str(i)) for i in ids]


PUBLIC_DOCUMENTS = {
    "oauth2_provider:oidc-connect-discovery-info",
    "oauth2_provider:jwks-info",
    "api:openapi-json",  # the REST API's OpenAPI document: no data, read by every program
}


def test_every_url_with_only_the_password_done_gives_no_session_and_no_admin_data(
    browser, user_factory, tenant
) -> None:
    admin = user_factory("admin", "email", username="pending.admin", full_name="Pending Admin")
    bystander = user_factory(
        "agent", "off", full_name="Bystander Quokka", email="bystander.quokka@example.com"
    )
    template = MessageTemplate.objects.create(
        client=tenant, name="Template Wombat", channel="sms", sender="Northwind", body="Hi"
    )
    key = Passkey.objects.create(
        user=bystander,
        credential_id=b"bystander key id",
        public_key=b"not a key",
        name="Key Numbat",
        created_at=timezone.now(),
    )
    device = RememberedDevice.objects.create(
        user=bystander,
        token_hash="0" * 64,
        label="Firefox",
        created_at=timezone.now(),
        expires_at=timezone.now() + timedelta(days=30),
    )
    markers = [bystander.full_name, bystander.email, bystander.username, template.name, key.name]
    before = (User.objects.count(), MessageTemplate.objects.count(), AuditEvent.objects.count())
    b = browser()
    assert b.sign_in(admin.username).headers["Location"] == "/signin/code/"
    csrf = b.csrf_token("/signin/code/")
    values = {
        "user_id": bystander.pk,
        "uuid:user_id": bystander.subject,
        "name": "User",
        "urn": "urn:ietf:params:scim:schemas:core:2.0:User",
        "template_id": template.pk,
        "passkey_id": key.pk,
        "device_id": device.pk,
        "token_id": tokens.issue(
            tenant, name="Directory", scope="scim", expires_days=None, by=OPERATOR
        ).token.pk,
        "slug": tenant.slug,
        "uidb64": base64.urlsafe_b64encode(str(admin.pk).encode()).decode().rstrip("="),
        "token": "cxyz-0123456789abcdef0123456789abcdef",
    }
    found = sorted(routes(), key=lambda r: ENDING.index(r[1]) + 1 if r[1] in ENDING else 0)
    assert len(found) >= 25, found
    visited = []
    for route, name, _params in found:
        if name == ENDING[0]:  # everything before left the sign-in waiting for its code
            assert PendingSignIn.objects.filter(user=admin, code_passed=False).exists()
        url = concrete(route, values)
        for method in ("GET", "POST"):
            if method == "GET":
                response = b.get(url)
            else:
                response = b.post(url, attack_payload([bystander.pk, admin.pk]), csrf=csrf)
            visited.append((method, url, response.status_code))
            assert response.status_code < 500, (method, url, response.text[:1000])
            for marker in markers:
                assert marker not in response.text, (method, url, marker)
            if response.status_code == 200:
                # Only the sign-in pages themselves answer with a page, and the provider's
                # public documents (discovery, keys) that every app may read.
                assert name.startswith(("signin:", "sso:")) or name in PUBLIC_DOCUMENTS, (
                    method,
                    url,
                )
            assert b.whoami() is None, (method, url)
            assert signed_in_users() == [], (method, url)
    # Nothing was written on the admin's behalf.
    admin.refresh_from_db()
    bystander.refresh_from_db()
    assert admin.check_password(PASSWORD) and admin.mfa_method == "email"
    assert bystander.mfa_method == "off" and bystander.level == "agent"
    assert RememberedDevice.objects.filter(pk=device.pk).exists()
    assert (User.objects.count(), MessageTemplate.objects.count()) == before[:2]
    tenant.refresh_from_db()
    assert not tenant.password_reset_enabled and not ProviderConfig.objects.exists()
    assert not AuditEvent.objects.filter(actor=admin).exclude(action__startswith="code.").exists()
    assert len(visited) == 2 * len(found)


@pytest.mark.parametrize(
    "path",
    [
        "/admin/",
        "/admin/login/",
        "/admin/auth/user/",
        "/api/",
        "/api/token/",
        "/api/users/",
        "/api/v1/users/",
        "/accounts/login/",
        "/login/",
        "/o/applications/",
        "/o/authorized_tokens/",
    ],
)
def test_django_admin_and_api_urls_do_not_exist(browser, user_factory, path) -> None:
    admin = user_factory("admin", "email")
    b = browser()
    b.sign_in(admin.username)  # the password step done, the code owed
    assert b.get(path).status_code == 404
    response = b.post_raw(path, {"username": admin.username, "password": PASSWORD})
    assert response.status_code in (403, 404)  # CSRF refuses before the 404
    assert b.whoami() is None and signed_in_users() == []


def test_the_token_endpoint_takes_no_password(browser, user_factory) -> None:
    """The provider's token endpoint exists for apps, but the password grant is off: a user
    name and password posted there (with the code still owed) give no token, no session."""
    admin = user_factory("admin", "email")
    b = browser()
    b.sign_in(admin.username)  # the password step done, the code owed
    response = b.post_raw(
        "/o/token/",
        {"grant_type": "password", "username": admin.username, "password": PASSWORD},
    )
    assert response.status_code in (400, 401)
    assert "access_token" not in response.text
    assert b.whoami() is None and signed_in_users() == []


def test_credentials_in_headers_open_nothing(browser, user_factory) -> None:
    admin = user_factory("admin", "off")
    b = browser()
    basic = base64.b64encode(f"{admin.username}:{PASSWORD}".encode()).decode()
    for header in (f"Basic {basic}", f"Bearer {PASSWORD}", f"Token {PASSWORD}"):
        response = b.get("/users/", headers={"Authorization": header})
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/signin/")
    assert signed_in_users() == []


def test_temporary_password_is_replaced_only_after_the_code(browser, user_factory) -> None:
    user = user_factory("agent", "email", temporary=True)
    b = browser()
    assert b.sign_in(user.username).headers["Location"] == "/signin/code/"
    # Skip to the new-password stage: refused, and the password stays.
    response = b.post(
        "/signin/new-password/",
        {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
        form="/signin/code/",
    )
    assert response.status_code == 302 and response.headers["Location"] == "/signin/"
    user.refresh_from_db()
    assert user.check_password(PASSWORD) and user.must_change_password
    assert b.whoami() is None
    # In order: code, then new password, then the session.
    response = b.submit_code(last_code(user))
    assert response.headers["Location"] == "/signin/new-password/"
    assert b.whoami() is None and signed_in_users() == []
    response = b.post(
        "/signin/new-password/", {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    )
    assert response.headers["Location"] == "/"
    assert b.whoami() == user.full_name


def test_password_reset_never_signs_in_and_never_skips_the_code(
    browser, user_factory, tenant
) -> None:
    Client.objects.filter(pk=tenant.pk).update(password_reset_enabled=True)
    user = user_factory("agent", "email")
    # Before: the user's own browser, signed in and remembered for 30 days.
    own = browser()
    own.sign_in(user.username)
    own.submit_code(last_code(user), remember="on")
    assert own.whoami() == user.full_name and own.http.cookies.get(DEVICE_COOKIE)

    b = browser()
    response = b.post("/signin/reset/", {"email": user.email})
    assert response.status_code == 200
    link = found(r"https?://\S+/signin/reset/\S+/", messages_to(user.email)[-1], 0)
    path = urlsplit(link).path
    assert b.get(path).status_code == 200
    response = b.post(path, {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/signin/"
    assert b.whoami() is None
    assert signed_in_users() == []  # and the old session ended with the old password
    assert own.whoami() is None
    assert b.get(path).status_code == 400  # the link works once
    # Signing in with the new password still owes the code, remembered device or not.
    assert own.sign_in(user.username, NEW_PASSWORD).headers["Location"] == "/signin/code/"
    assert b.sign_in(user.username, NEW_PASSWORD).headers["Location"] == "/signin/code/"
    assert signed_in_users() == []


def test_reset_during_a_pending_sign_in_voids_it(browser, user_factory, tenant) -> None:
    Client.objects.filter(pk=tenant.pk).update(password_reset_enabled=True)
    user = user_factory("agent", "email")
    b = browser()
    b.sign_in(user.username)
    code = last_code(user)
    b.post("/signin/reset/", {"email": user.email}, form="/signin/reset/")
    link = found(r"https?://\S+/signin/reset/\S+/", messages_to(user.email)[-1], 0)
    b.post(urlsplit(link).path, {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    response = b.submit_code(code, csrf=b.csrf_token("/signin/"))
    assert response.status_code == 302 and response.headers["Location"] == "/signin/"
    assert b.whoami() is None and not PendingSignIn.objects.filter(user=user).exists()


def test_pending_sign_in_expires_after_fifteen_minutes(browser, user_factory, clock) -> None:
    user = user_factory("agent", "email")
    b = browser()
    b.sign_in(user.username)
    clock(timedelta(minutes=9))
    b.resend()  # a new code, valid until minute 19
    code = last_code(user)
    clock(timedelta(minutes=6, seconds=1))  # 15 minutes and a second after the password
    response = b.submit_code(code, csrf=b.csrf_token("/signin/"))
    assert response.status_code == 302 and response.headers["Location"] == "/signin/"
    assert "Your sign-in expired" in visible_text(b.get("/signin/"))
    assert b.whoami() is None and signed_in_users() == []


def test_remembered_device_of_another_user_or_forged_does_not_skip_the_code(
    browser, user_factory
) -> None:
    alice = user_factory("agent", "email")
    bob = user_factory("agent", "email")
    a = browser()
    a.sign_in(alice.username)
    a.submit_code(last_code(alice), remember="on")
    device = a.http.cookies.get(DEVICE_COOKIE)
    assert device
    # Alice's own remembered browser skips her code: the control works.
    a.sign_out()
    assert a.sign_in(alice.username).headers["Location"] == "/"
    a.sign_out()
    domain = a.cookie_domain
    user_id, _, rest = device.partition(":")
    for value in (device, device.replace(user_id, str(bob.pk), 1), f"{bob.pk}:{rest}", "x"):
        b = browser()
        b.http.cookies.set(DEVICE_COOKIE, value, domain=domain, path="/")
        response = b.sign_in(bob.username)
        assert response.headers["Location"] == "/signin/code/", value
        assert b.whoami() is None
    assert bob.pk not in signed_in_users()


def test_mandatory_sso_refuses_the_right_password(browser, user_factory, tenant) -> None:
    ProviderConfig.objects.create(
        client=tenant,
        issuer="http://127.0.0.1:9",
        oidc_client_id="x",
        secret_encrypted="x",
        mandatory=True,
    )
    user = user_factory("agent", "off")
    b = browser()
    right = b.sign_in(user.username, PASSWORD)
    wrong = b.sign_in(user.username, "not the password at all")
    assert right.status_code == wrong.status_code == 200
    assert comparable(right, user.username) == comparable(wrong, user.username)
    assert b.whoami() is None and signed_in_users() == []
