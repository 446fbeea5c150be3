"""Users > a user > Delete: a confirmation page, admins only, never oneself or the last
admin; deactivate stays the first choice."""

from __future__ import annotations

from collections.abc import Callable

from django.test import Client as HttpClient

from deskgate.accounts.models import AuditAction, AuditEvent, Client, User
from tests.pages import page_text


def test_the_user_page_offers_delete_and_the_page_asks_first(
    admin_http: HttpClient, vera: User
) -> None:
    page = admin_http.get(f"/users/{vera.pk}/")
    assert f'href="/users/{vera.pk}/delete/"' in page.content.decode()
    confirm = admin_http.get(f"/users/{vera.pk}/delete/")
    assert confirm.status_code == 200
    text = page_text(confirm)
    assert "Delete Vera Agent?" in text
    assert "Keep the user (deactivate instead)" in text
    assert User.objects.filter(pk=vera.pk).exists()  # a look changes nothing


def test_delete_removes_the_user_and_keeps_the_trail_under_a_pseudonym(
    admin_http: HttpClient, vera: User, admin_user: User
) -> None:
    pseudonym = f"deleted user {vera.subject.hex[:8]}"
    response = admin_http.post(f"/users/{vera.pk}/delete/")
    assert response.status_code == 302 and response["Location"] == "/users/"
    assert not User.objects.filter(pk=vera.pk).exists()
    listed = page_text(admin_http.get("/users/"))
    assert (
        "Vera Agent (vera.agent) is deleted. The audit trail keeps their events under the "
        f"name “{pseudonym}”." in listed
    )
    event = AuditEvent.objects.get(action=AuditAction.USER_DELETED)
    assert (event.actor, event.client) == (admin_user, vera.client)
    assert not AuditEvent.objects.filter(summary__contains="Vera Agent").exists()


def test_an_admin_cannot_delete_themselves(admin_http: HttpClient, admin_user: User) -> None:
    assert (
        f"/users/{admin_user.pk}/delete/"
        not in admin_http.get(f"/users/{admin_user.pk}/").content.decode()
    )
    confirm = admin_http.get(f"/users/{admin_user.pk}/delete/")
    assert "You cannot delete your own account: another admin can." in page_text(confirm)
    assert 'class="danger"' not in confirm.content.decode()  # no button to press
    response = admin_http.post(f"/users/{admin_user.pk}/delete/")
    assert response.status_code == 409
    assert "You cannot delete your own account" in page_text(response)
    assert User.objects.filter(pk=admin_user.pk).exists()
    assert not AuditEvent.objects.filter(action=AuditAction.USER_DELETED).exists()


def test_the_last_active_admin_is_kept(
    user_factory: Callable[..., User], signed_in: Callable[[User], HttpClient], admin_user: User
) -> None:
    other_admin = user_factory("admin", username="otto.admin")
    http = signed_in(other_admin)
    # Anna is not the last admin while Otto is active: deleting her is allowed...
    assert http.get(f"/users/{admin_user.pk}/delete/").status_code == 200
    assert http.post(f"/users/{admin_user.pk}/delete/").status_code == 302
    # ...and Otto, now the last one, cannot be deleted (by himself, nor would anyone else).
    response = http.post(f"/users/{other_admin.pk}/delete/")
    assert response.status_code == 409
    assert User.objects.filter(pk=other_admin.pk).exists()


def test_managers_and_other_clients_cannot_delete(
    user_factory: Callable[..., User],
    signed_in: Callable[[User], HttpClient],
    tenant_factory: Callable[..., Client],
    vera: User,
) -> None:
    manager = user_factory("manager", username="mia.manager")
    http = signed_in(manager)
    assert f"/users/{vera.pk}/delete/" not in http.get(f"/users/{vera.pk}/").content.decode()
    assert http.get(f"/users/{vera.pk}/delete/").status_code == 403
    assert http.post(f"/users/{vera.pk}/delete/").status_code == 403
    other = tenant_factory("Contoso")
    intruder = signed_in(user_factory("admin", client=other, username="eve.contoso"))
    missing = intruder.post("/users/999999/delete/")
    theirs = intruder.post(f"/users/{vera.pk}/delete/")
    assert missing.status_code == theirs.status_code == 404
    assert page_text(missing) == page_text(theirs)
    assert User.objects.filter(pk=vera.pk).exists()
