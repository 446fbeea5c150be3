from django.test import Client as HttpClient

from deskgate.accounts.models import User


def test_admin_reaches_user_list_after_password(admin_http: HttpClient) -> None:
    response = admin_http.get("/", follow=True)
    assert response.status_code == 200
    assert b"User list" in response.content


def test_agent_never_opens_admin_pages(user_factory) -> None:
    from tests.conftest import sign_in

    agent: User = user_factory("agent")
    http = HttpClient()
    sign_in(http, agent)
    assert http.get("/users/").status_code == 403
