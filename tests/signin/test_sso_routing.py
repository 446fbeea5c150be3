"""With mandatory SSO, a user name and no password on the sign-in page goes to the
company's provider (identifier first); everyone else is asked for the password as before."""

from __future__ import annotations

import pytest

from deskgate.sso.models import ProviderConfig

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(tenant, tenant_factory, user_factory):
    ProviderConfig.objects.create(
        client=tenant,
        issuer="http://127.0.0.1:9",
        oidc_client_id="x",
        secret_encrypted="x",
        mandatory=True,
    )
    optional = tenant_factory("Contoso")
    ProviderConfig.objects.create(
        client=optional, issuer="http://127.0.0.1:9", oidc_client_id="x", secret_encrypted="x"
    )
    return {
        "sso": user_factory("agent", username="aino.agent"),
        "inactive": user_factory("agent", username="gone.agent", active=False),
        "optional": user_factory("agent", username="carl.contoso", client=optional),
        "no sso": user_factory("agent", username="lea.legacy", client=tenant_factory("Legacy")),
    }


@pytest.mark.parametrize("typed", ["aino.agent", " Aino.Agent "])
def test_a_mandatory_sso_user_name_without_password_goes_to_the_provider(
    client, people, tenant, typed: str
) -> None:
    response = client.post("/signin/", {"username": typed, "password": ""})
    assert response.status_code == 200
    page = response.content.decode()
    # A page that moves on at once (a new navigation, which the page's form-action allows).
    assert f'<meta http-equiv="refresh" content="0;url=/signin/sso/{tenant.slug}/">' in page
    assert f'href="/signin/sso/{tenant.slug}/"' in page


def test_with_a_password_typed_the_answer_is_the_usual_refusal(client, people) -> None:
    response = client.post("/signin/", {"username": "aino.agent", "password": "a guess"})
    assert response.status_code == 200
    assert "The user name or password is not right." in response.content.decode()


@pytest.mark.parametrize("typed", ["gone.agent", "carl.contoso", "lea.legacy", "nobody.at.all"])
def test_everyone_else_is_asked_for_the_password_alike(client, people, typed: str) -> None:
    response = client.post("/signin/", {"username": typed, "password": ""})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
