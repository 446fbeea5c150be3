"""Settings > SSO and the SSO start page against a hostile admin or a hostile provider.

- The stored client secret goes only to the provider it was typed for (issue 10 item 3).
- The server fetches nothing from private, loopback, link-local or metadata addresses, over
  http, or through a redirect, and says only why in general words (item 4).
- The provider's endpoints stay on the issuer's host: the start page cannot become an open
  redirect, and the secret cannot be sent to another host (item 5).
- A slow or dead provider costs one bounded wait, not every worker (item 6).

The providers are real servers on loopback (tests/harness/oidc_fake.py); the product is
allowed to reach http://127.0.0.1 only where a test says so (DESKGATE_SSO).
"""

from __future__ import annotations

import base64
import re
import threading
import time
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from deskgate.accounts.audit import OPERATOR
from deskgate.sso import flows, provider, sealing
from deskgate.sso.models import ProviderConfig
from tests.harness.oidc_fake import ScriptedProvider, Tarpit

SECRET = "stored-secret-0123456789"
NOT_ALLOWED = "address not allowed"


def sso(settings: Any, **changes: Any) -> None:
    settings.DESKGATE_SSO = {**settings.DESKGATE_SSO, **changes}


def text(response: Any) -> str:
    body = response.content.decode()
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", body).split()).replace("&#x27;", "'")


def token_posts(idp: ScriptedProvider) -> list[dict[str, str]]:
    return [headers for method, path, headers in idp.requests if path == "/token"]


@pytest.fixture
def idp() -> Any:
    with ScriptedProvider() as server:
        yield server


@pytest.fixture
def other_idp() -> Any:
    with ScriptedProvider() as server:
        yield server


def save_sso(client: Any, issuer: str, client_id: str = "deskgate-test") -> ProviderConfig:
    return flows.configure(
        client,
        flows.SsoInput(
            issuer=issuer,
            client_id=client_id,
            secret=SECRET,
            mandatory=False,
            require_idp_mfa=False,
        ),
        by=OPERATOR,
    )


def stored(client: Any, issuer: str, client_id: str = "deskgate-test") -> ProviderConfig:
    """A configuration as an older version saved it, without today's checks."""
    return ProviderConfig.objects.create(
        client=client,
        issuer=issuer,
        oidc_client_id=client_id,
        secret_encrypted=sealing.encrypt(SECRET),
    )


# --- item 3: the stored secret stays with its provider ------------------------------------


@pytest.mark.parametrize("change", ["issuer", "client_id"])
def test_a_changed_issuer_or_client_id_needs_the_secret_typed_again(
    admin_http, admin_user, idp, other_idp, change
) -> None:
    save_sso(admin_user.client, idp.issuer)
    before = len(token_posts(idp))
    form = {"issuer": idp.issuer, "client_id": "deskgate-test", "secret": "", "action": "save"}
    form |= {"issuer": other_idp.issuer} if change == "issuer" else {"client_id": "new-app"}
    response = admin_http.post("/settings/sso/", form)
    assert response.status_code == 200
    page = text(response)
    assert "enter the client secret again" in page
    assert f'value="{form[change]}"' in response.content.decode()  # what was typed stays
    # The stored secret went nowhere: not to the new issuer, not even to the old one.
    assert token_posts(other_idp) == []
    assert len(token_posts(idp)) == before
    config = ProviderConfig.objects.get(client=admin_user.client)
    assert (config.issuer, config.oidc_client_id) == (idp.issuer, "deskgate-test")


def test_the_same_issuer_and_client_id_keep_the_stored_secret(admin_http, admin_user, idp) -> None:
    save_sso(admin_user.client, idp.issuer)
    form = {
        "issuer": idp.issuer + "/",
        "client_id": "deskgate-test",
        "secret": "",
        "action": "save",
    }
    form["mandatory"] = "on"
    response = admin_http.post("/settings/sso/", form)
    assert response.status_code == 302, text(response)
    assert ProviderConfig.objects.get(client=admin_user.client).mandatory
    basic = token_posts(idp)[-1]["Authorization"].removeprefix("Basic ")
    assert base64.b64decode(basic).decode() == f"deskgate-test:{SECRET}"


def test_configure_sso_on_the_command_line_needs_the_secret_for_a_new_issuer(
    tenant, idp, other_idp, monkeypatch
) -> None:
    save_sso(tenant, idp.issuer)
    monkeypatch.delenv("DESKGATE_SSO_SECRET", raising=False)
    with pytest.raises(CommandError, match="enter the client secret again"):
        call_command(
            "configure_sso", client=tenant.name, issuer=other_idp.issuer, client_id="deskgate-test"
        )
    assert token_posts(other_idp) == []
    assert ProviderConfig.objects.get(client=tenant).issuer == idp.issuer


# --- item 4: no fetches of internal addresses ----------------------------------------------


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("127.0.0.1", False),
        ("127.8.9.10", False),
        ("::1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("fd00:ec2::254", False),  # AWS metadata over IPv6
        ("fe80::1", False),
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),  # noqa: S104 - an address to refuse, not to bind
        ("224.0.0.1", False),  # multicast
        ("ff02::1", False),
        ("240.0.0.1", False),  # reserved
        ("255.255.255.255", False),
        ("::ffff:127.0.0.1", False),  # loopback dressed as IPv6
        ("::ffff:169.254.169.254", False),
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 of 169.254.169.254
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
    ],
)
def test_which_addresses_the_server_may_fetch_from(address: str, allowed: bool) -> None:
    from deskgate.sso import fetch

    assert fetch.address_allowed(address, loopback_ok=False) is allowed


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_an_issuer_on_loopback_is_refused_without_a_request(
    admin_http, idp, settings, scheme, host
) -> None:
    sso(settings, allow_http_loopback=False)
    issuer = f"{scheme}://{host}:{idp.server.server_port}"
    response = admin_http.post(
        "/settings/sso/",
        {"issuer": issuer, "client_id": "x", "secret": "s", "action": "save"},
    )
    page = text(response)
    assert "could not read the provider's configuration" in page.lower()
    assert (NOT_ALLOWED if scheme == "https" else "https is required") in page
    assert idp.requests == []
    assert not ProviderConfig.objects.exists()


def test_http_is_refused_for_any_other_host_even_when_loopback_is_allowed(db, settings) -> None:
    with pytest.raises(provider.ProviderError, match="https is required"):
        provider.discover("http://8.8.8.8")


@pytest.mark.parametrize(
    "route",
    [
        (404, {"Content-Type": "text/html"}, b"<h1>Not Found</h1>"),
        (500, {}, b'{"error": "boom"}'),
        (200, {"Content-Type": "text/plain"}, b"ssh-rsa AAAA internal"),
        (200, {}, b'{"hello": "world"}'),
        (200, {}, b"[1, 2, 3]"),
    ],
    ids=["404", "500", "text", "other-json", "json-list"],
)
def test_the_error_names_only_the_kind_of_failure(admin_http, idp, route) -> None:
    idp.routes["/.well-known/openid-configuration"] = route
    response = admin_http.post(
        "/settings/sso/",
        {"issuer": idp.issuer, "client_id": "x", "secret": "s", "action": "save"},
    )
    page = text(response)
    assert "Could not read the provider's configuration: not a discovery document." in page
    for detail in ("404", "500", "HTTP", "JSON", "hello", "ssh-rsa", "answered"):
        assert detail not in page.split("Issuer URL", 1)[1], detail


def test_redirects_are_not_followed(db, idp, other_idp) -> None:
    target = other_idp.issuer + "/.well-known/openid-configuration"
    idp.routes["/.well-known/openid-configuration"] = (302, {"Location": target}, b"")
    with pytest.raises(provider.ProviderError, match="redirect"):
        provider.discover(idp.issuer, fresh=True)
    assert other_idp.requests == []


def test_the_checked_address_is_the_one_connected_to(db, idp, monkeypatch) -> None:
    """DNS rebinding: the name is resolved once; a second answer (an internal address)
    is never asked for, and the request carries the name, not the address."""
    from deskgate.sso import fetch

    answers = iter([["127.0.0.1"], ["10.0.0.7"], ["10.0.0.7"]])
    asked: list[str] = []

    def resolver(host: str) -> list[str]:
        asked.append(host)
        return next(answers)

    monkeypatch.setattr(fetch, "resolve", resolver)
    issuer = f"http://idp.rebind.test:{idp.server.server_port}"
    idp.discovery |= {
        k: v.replace(idp.issuer, issuer) for k, v in idp.discovery.items() if isinstance(v, str)
    }
    endpoints = provider.discover(issuer, fresh=True)
    assert endpoints.issuer == issuer
    assert asked == ["idp.rebind.test"]
    assert idp.requests[0][2]["Host"] == f"idp.rebind.test:{idp.server.server_port}"


@pytest.mark.parametrize("which", ["token", "userinfo", "jwks_uri"])
def test_every_fetch_checks_the_address(db, settings, which) -> None:
    sso(settings, allow_http_loopback=False)
    with Tarpit() as pit:
        base = f"https://127.0.0.1:{pit.port}"
        endpoints = provider.Endpoints(
            issuer=base,
            authorization=base + "/auth",
            token=base + "/token",
            userinfo=base + "/userinfo",
            jwks_uri=base + "/jwks",
        )
        with pytest.raises(provider.ProviderError, match=NOT_ALLOWED):
            if which == "token":
                provider.check_client_credentials(endpoints, "x", "s")
            elif which == "userinfo":
                provider.fetch_userinfo(endpoints, "access-token", subject="sub-anna")
            else:
                provider.validate_id_token(endpoints, "a.b.c", client_id="x", nonce="n")
        assert pit.connections == 0


# --- item 5: the endpoints belong to the issuer --------------------------------------------

GOOGLE = {
    "issuer": "https://accounts.google.com",
    "authorization_endpoint": "https://accounts.google.com/o/oauth2/v2/auth",
    "token_endpoint": "https://oauth2.googleapis.com/token",
    "userinfo_endpoint": "https://openidconnect.googleapis.com/v1/userinfo",
    "jwks_uri": "https://www.googleapis.com/oauth2/v3/certs",
}
ENTRA_TENANT = "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0"
ENTRA = {
    "issuer": ENTRA_TENANT,
    "authorization_endpoint": ENTRA_TENANT.replace("/v2.0", "/oauth2/v2.0/authorize"),
    "token_endpoint": ENTRA_TENANT.replace("/v2.0", "/oauth2/v2.0/token"),
    "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
    "jwks_uri": ENTRA_TENANT.replace("/v2.0", "/discovery/v2.0/keys"),
}
OKTA = {
    "issuer": "https://northwind.okta.com",
    "authorization_endpoint": "https://northwind.okta.com/oauth2/v1/authorize",
    "token_endpoint": "https://northwind.okta.com/oauth2/v1/token",
    "userinfo_endpoint": "https://northwind.okta.com/oauth2/v1/userinfo",
    "jwks_uri": "https://northwind.okta.com/oauth2/v1/keys",
}


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        (GOOGLE, None),
        (ENTRA, None),
        (OKTA, None),
        ({**OKTA, "authorization_endpoint": "https://evil.example/authorize"}, "authorization"),
        ({**OKTA, "authorization_endpoint": "http://northwind.okta.com/x"}, "authorization"),
        ({**OKTA, "authorization_endpoint": "https://northwind.okta.com:8443/x"}, "authorization"),
        ({**OKTA, "token_endpoint": "https://evil.example/token"}, "token"),
        ({**OKTA, "token_endpoint": "https://oauth2.googleapis.com/token"}, "token"),
        ({**OKTA, "jwks_uri": "https://www.googleapis.com/oauth2/v3/certs"}, "jwks"),
        ({**OKTA, "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo"}, "userinfo"),
        ({**GOOGLE, "authorization_endpoint": "https://oauth2.googleapis.com/auth"}, "authoriz"),
        ({**GOOGLE, "token_endpoint": "http://oauth2.googleapis.com/token"}, "token"),
        ({**OKTA, "token_endpoint": "https://northwind.okta.com.evil.example/token"}, "token"),
        ({**OKTA, "token_endpoint": "https://user@evil.example/token"}, "token"),
    ],
)
def test_endpoints_must_belong_to_the_issuer(doc, problem) -> None:
    if problem is None:
        endpoints = provider.endpoints_from(doc, doc["issuer"])
        assert endpoints.token == doc["token_endpoint"]
    else:
        with pytest.raises(provider.ProviderError, match=problem):
            provider.endpoints_from(doc, doc["issuer"])


def test_the_operator_may_approve_other_endpoint_hosts(settings) -> None:
    from deskgate import conf

    key = {"SECRET_KEY": "k" * 40}
    assert conf.load(key).sso_endpoint_hosts == ()
    assert conf.load(key).sso_allow_http_loopback is False  # production refuses http
    assert conf.load({**key, "DESKGATE_SSO_ALLOW_HTTP_LOOPBACK": "1"}).sso_allow_http_loopback
    env = {**key, "DESKGATE_SSO_ENDPOINT_HOSTS": "Auth.Northwind.Example, x.y"}
    assert conf.load(env).sso_endpoint_hosts == ("auth.northwind.example", "x.y")
    for bad in ("https://auth.example.com", "auth.example.com/path", "a..b"):
        with pytest.raises(conf.ConfigError, match="DESKGATE_SSO_ENDPOINT_HOSTS"):
            conf.load({**key, "DESKGATE_SSO_ENDPOINT_HOSTS": bad})
    doc = {**OKTA, "authorization_endpoint": "https://auth.northwind.example/authorize"}
    with pytest.raises(provider.ProviderError, match="authorization"):
        provider.endpoints_from(doc, doc["issuer"])
    sso(settings, endpoint_hosts=("auth.northwind.example",))
    assert provider.endpoints_from(doc, doc["issuer"]).authorization == (
        "https://auth.northwind.example/authorize"
    )


def test_a_foreign_authorization_endpoint_is_refused_when_saving(admin_http, idp) -> None:
    idp.discovery["authorization_endpoint"] = "https://evil.example/authorize"
    response = admin_http.post(
        "/settings/sso/",
        {"issuer": idp.issuer, "client_id": "x", "secret": "s", "action": "save"},
    )
    assert response.status_code == 200
    assert "authorization endpoint is not on the issuer's host" in text(response)
    assert token_posts(idp) == []  # the secret did not leave either
    assert not ProviderConfig.objects.exists()


def test_the_start_page_is_no_open_redirect(client, tenant, idp) -> None:
    """A configuration saved before the check, or a provider that changed its discovery
    document since: anonymous visitors are still not sent off the issuer's host."""
    stored(tenant, idp.issuer)
    idp.discovery["authorization_endpoint"] = "https://evil.example/authorize"
    response = client.get(f"/signin/sso/{tenant.slug}/")
    assert response.status_code == 302
    assert "evil.example" not in response.headers["Location"]
    assert response.headers["Location"] == "/signin/"


def test_the_token_endpoint_is_checked_when_used(tenant, idp, other_idp) -> None:
    """The secret is sent only to a token endpoint on the issuer's host, even if a cached
    or stored set of endpoints says otherwise."""
    endpoints = provider.Endpoints(
        issuer=idp.issuer,
        authorization=idp.issuer + "/auth",
        token=other_idp.issuer + "/token",
        jwks_uri=idp.issuer + "/jwks",
    )
    with pytest.raises(provider.ProviderError, match="token endpoint"):
        provider.check_client_credentials(endpoints, "deskgate-test", SECRET)
    assert token_posts(other_idp) == []


# --- item 6: a slow provider costs one bounded wait ---------------------------------------


def timed(work: Any) -> tuple[float, Any]:
    began = time.monotonic()
    result = work()
    return time.monotonic() - began, result


@pytest.mark.parametrize("trickle", [None, 0.2], ids=["silent", "trickling"])
def test_a_dead_provider_is_asked_once_then_answered_from_memory(
    client, tenant, settings, trickle
) -> None:
    sso(settings, fetch_seconds=1.0, failure_seconds=60)
    with Tarpit(trickle=trickle) as pit:
        stored(tenant, pit.url)
        took, first = timed(lambda: client.get(f"/signin/sso/{tenant.slug}/", follow=True))
        assert 0.9 <= took < 3, took
        assert "SSO is unavailable right now" in text(first)
        assert "timed out" not in text(first)  # nothing about the provider for visitors
        took, second = timed(lambda: client.get(f"/signin/sso/{tenant.slug}/", follow=True))
        assert took < 0.5, took
        assert "SSO is unavailable right now, try again in a minute" in text(second)
        assert pit.connections == 1


def test_a_trickling_answer_is_cut_at_the_deadline(transactional_db, settings) -> None:
    sso(settings, fetch_seconds=1.0)
    with Tarpit(trickle=0.1) as pit:
        outcome: list[Any] = []

        def lookup() -> None:
            try:
                provider.discover(pit.url, fresh=True)
            except provider.ProviderError as exc:
                outcome.append(exc)

        worker = threading.Thread(target=lookup, daemon=True)
        began = time.monotonic()
        worker.start()
        worker.join(timeout=4)
        assert not worker.is_alive(), "still reading a trickling answer after 4 s"
        assert time.monotonic() - began < 2.5
        assert "timed out" in str(outcome[0])


def test_one_lookup_per_provider_at_a_time(transactional_db, tenant, settings) -> None:
    sso(settings, fetch_seconds=3.0, failure_seconds=60)
    from django.db import close_old_connections
    from django.test import Client as HttpClient

    with Tarpit() as pit:
        stored(tenant, pit.url)
        results: dict[int, tuple[float, str]] = {}

        def visit(n: int) -> None:
            try:
                took, page = timed(
                    lambda: HttpClient().get(f"/signin/sso/{tenant.slug}/", follow=True)
                )
                results[n] = (took, text(page))
            finally:
                close_old_connections()

        first = threading.Thread(target=visit, args=(0,))
        first.start()
        deadline = time.monotonic() + 2
        while pit.connections == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        others = [threading.Thread(target=visit, args=(n,)) for n in (1, 2, 3)]
        for thread in others:
            thread.start()
        for thread in [first, *others]:
            thread.join(timeout=10)
        assert pit.connections == 1
        for n in (1, 2, 3):
            took, page = results[n]
            assert took < 1.5, (n, took)  # a short wait for the first one's answer
            assert "SSO is unavailable right now, try again in a minute" in page
        assert results[0][0] >= 2.9


def test_the_failure_is_shared_but_an_admin_save_asks_again(admin_http, admin_user, settings):
    sso(settings, fetch_seconds=0.5, failure_seconds=60)
    with Tarpit() as pit:
        with pytest.raises(provider.ProviderError):
            provider.discover(pit.url)
        with pytest.raises(provider.ProviderError, match="unavailable right now"):
            provider.discover(pit.url)
        assert pit.connections == 1
        # Saving the settings is an admin's explicit check: it asks the provider again.
        with pytest.raises(ValidationError, match="timed out"):
            save_sso(admin_user.client, pit.url)
        assert pit.connections == 2


def test_while_one_process_asks_again_the_others_use_the_last_good_answer(db, idp) -> None:
    """At the morning rush the cached answer expires: one process asks the provider, the
    others do not stand in line for it, nor fail."""
    from django.core.cache import cache

    endpoints = provider.discover(idp.issuer)
    key = provider._cache_key("discovery", idp.issuer)
    cache.delete(key)  # expired
    cache.add(f"{key}:lease", 1, 30)  # another process is asking right now
    took, again = timed(lambda: provider.discover(idp.issuer))
    assert again == endpoints and took < 1.5
    assert idp.paths().count("/.well-known/openid-configuration") == 1
