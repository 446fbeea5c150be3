"""The user page shows what a directory keeps on a user (External id, Employee number,
Department) read-only, and a Save on the page keeps it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client as HttpClient

from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import User
from tests.pages import content, controls, page_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def provisioned(user_factory: Callable[..., User]) -> User:
    user = user_factory("agent", username="pia.provisioned", full_name="Pia Provisioned")
    data = actions.UserInput.of(user)
    data.directory = actions.DirectoryAttributes(
        external_id="00u1a2b3c4<script>", employee_number="E-1042", department="Billing & Sales"
    )
    return actions.update_user(user, data, by=OPERATOR).user


def test_the_directorys_attributes_are_shown_read_only(
    admin_http: HttpClient, provisioned: User
) -> None:
    page = admin_http.get(f"/users/{provisioned.pk}/")
    text = page_text(page)
    assert "From the directory" in text
    assert "External id 00u1a2b3c4<script>" in text  # shown as text, escaped
    assert "Employee number E-1042" in text
    assert "Department Billing & Sales" in text
    assert "<script>" not in content(page).split("From the directory")[1]
    # Nothing to type into: no control carries them.
    shown = controls(page)
    for name in ("external_id", "employee_number", "department", "directory"):
        assert name not in shown.values


def test_only_the_attributes_that_are_set_are_shown(
    admin_http: HttpClient, user_factory: Callable[..., User]
) -> None:
    plain = user_factory("agent")
    assert "From the directory" not in page_text(admin_http.get(f"/users/{plain.pk}/"))
    data = actions.UserInput.of(plain)
    data.directory = actions.DirectoryAttributes(department="Support")
    actions.update_user(plain, data, by=OPERATOR)
    text = page_text(admin_http.get(f"/users/{plain.pk}/"))
    assert "From the directory" in text and "Department Support" in text
    assert "External id" not in text and "Employee number" not in text


def test_a_save_on_the_page_keeps_them(admin_http: HttpClient, provisioned: User) -> None:
    url = f"/users/{provisioned.pk}/"
    form = controls(admin_http.get(url)).values
    form["full_name"] = "Pia Renamed"
    response = admin_http.post(url, form)
    assert response.status_code == 302, page_text(response)
    stored = User.objects.get(pk=provisioned.pk)
    assert stored.full_name == "Pia Renamed"
    assert (stored.external_id, stored.employee_number, stored.department) == (
        "00u1a2b3c4<script>",
        "E-1042",
        "Billing & Sales",
    )


def test_a_page_cannot_set_them(admin_http: HttpClient, provisioned: User) -> None:
    url = f"/users/{provisioned.pk}/"
    form = controls(admin_http.get(url)).values
    form |= {"external_id": "forged", "employee_number": "", "department": "Forged"}
    admin_http.post(url, form)
    stored = User.objects.get(pk=provisioned.pk)
    assert (stored.external_id, stored.department) == ("00u1a2b3c4<script>", "Billing & Sales")


def test_managers_see_them_too(
    signed_in: Callable[[User], HttpClient],
    user_factory: Callable[..., User],
    provisioned: User,
) -> None:
    http = signed_in(user_factory("manager", username="mia.manager"))
    assert "Employee number E-1042" in page_text(http.get(f"/users/{provisioned.pk}/"))
