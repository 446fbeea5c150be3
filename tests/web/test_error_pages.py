"""The 404, 403 and 500 pages: Deskgate's own, with a main landmark, a heading and a way
back; the 500 page renders without the database, the session or the user."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.test import Client as HttpClient
from django.test import RequestFactory

from deskgate.http import errors
from tests.pages import content

pytestmark = pytest.mark.django_db


def test_a_missing_page_is_deskgates_own_with_the_menu(admin_http: HttpClient) -> None:
    response = admin_http.get("/no-such-page/")
    page = content(response)
    assert response.status_code == 404
    assert '<main id="main">' in page
    assert "<h1>Page not found</h1>" in page
    assert 'aria-label="Main"' in page and ">Users</a>" in page  # the menu
    assert '<a href="/">Go to the start page</a>' in page


def test_an_unhandled_refusal_is_a_403_page_saying_why() -> None:
    request = RequestFactory().get("/somewhere/")
    request.user = AnonymousUser()
    response = errors.permission_denied(request, PermissionDenied("Only admins may do that."))
    page = response.content.decode()
    assert response.status_code == 403
    assert "<h1>Not available</h1>" in page and "Only admins may do that." in page
    assert '<a href="/">Go to sign-in</a>' in page


def test_the_500_page_needs_no_database_nor_user(
    django_assert_num_queries: Any,
) -> None:
    request = RequestFactory().get("/users/")  # no session, no user: neither is touched
    with django_assert_num_queries(0):
        try:
            raise RuntimeError("a bug")
        except RuntimeError:
            response = errors.server_error(request)
    page = response.content.decode()
    assert response.status_code == 500
    assert '<main id="main">' in page and "<h1>Something went wrong</h1>" in page
    assert '<a href="/">Go to the start page</a>' in page
    assert "Sign out" not in page
