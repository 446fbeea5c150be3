"""RFC 7644 §3.5.1 (PUT), §3.5.2 (PATCH), §3.6 (DELETE), §3.14 (ETag and If-Match)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from oauth2_provider.models import AccessToken, Application

from deskgate.accounts.models import AuditEvent, User, UserSession
from tests.scim.conftest import DESKGATE, ENTERPRISE, Directory, new_user


def test_patch_add_replace_remove_with_value_paths(directory: Directory) -> None:
    created = directory.create("ada", phoneNumbers=[{"value": "+358401234567", "type": "work"}])
    response = directory.patch(
        f"Users/{created['id']}",
        [
            {"op": "replace", "path": 'emails[type eq "work"].value', "value": "ada@new.example"},
            {"op": "add", "path": f"{ENTERPRISE}:department", "value": "Engines"},
            {"op": "replace", "path": f"{DESKGATE}:level", "value": "manager"},
            {"op": "remove", "path": "phoneNumbers"},
            {"op": "replace", "path": "externalId", "value": "x-1"},
        ],
    )
    assert response.status_code == 200, response.content
    user = User.objects.get(username="ada")
    assert (user.email, user.department, user.level, user.work_phone, user.external_id) == (
        "ada@new.example",
        "Engines",
        "manager",
        "",
        "x-1",
    )
    assert response["ETag"] == response.json()["meta"]["version"] != created["meta"]["version"]


def test_patch_without_a_path_takes_a_value_object(directory: Directory) -> None:
    created = directory.create("ada")
    response = directory.patch(
        f"Users/{created['id']}",
        [{"op": "replace", "value": {"displayName": "Ada King", "active": False}}],
    )
    assert response.status_code == 200, response.content
    user = User.objects.get(username="ada")
    assert (user.full_name, user.is_active) == ("Ada King", False)


def test_patch_of_given_name_alone_changes_the_full_name(directory: Directory) -> None:
    created = directory.create("ada")
    directory.patch(
        f"Users/{created['id']}", [{"op": "replace", "path": "name.givenName", "value": "Augusta"}]
    )
    assert User.objects.get(username="ada").full_name == "Augusta Lovelace"


def test_put_replaces_the_whole_user(directory: Directory) -> None:
    created = directory.create("ada", phoneNumbers=[{"value": "+358401234567", "type": "work"}])
    body = new_user("ada.king", name={"formatted": "Ada King"})
    response = directory.put(f"Users/{created['id']}", body)
    assert response.status_code == 200, response.content
    user = User.objects.get(subject=created["id"])
    # Left out of a full replace: the phone is cleared; level and MFA are kept.
    assert (user.username, user.full_name, user.work_phone, user.level) == (
        "ada.king",
        "Ada King",
        "",
        "agent",
    )


def test_delete_deactivates_and_keeps_the_user_and_trail(directory: Directory) -> None:
    created = directory.create("ada")
    assert directory.delete(f"Users/{created['id']}").status_code == 204
    user = User.objects.get(username="ada")
    assert user.is_active is False
    assert AuditEvent.objects.filter(subject=user, action="user.deactivated").exists()
    assert directory.get(f"Users/{created['id']}").json()["active"] is False


def test_delete_removes_the_user_where_the_client_chose_so(directory: Directory) -> None:
    from deskgate.accounts.models import Client

    Client.objects.filter(pk=directory.client.pk).update(directory_deletes_users=True)
    created = directory.create("ada")
    assert directory.delete(f"Users/{created['id']}").status_code == 204
    assert not User.objects.filter(username="ada").exists()
    assert AuditEvent.objects.filter(
        action="user.deleted", summary__contains="deleted user"
    ).exists()
    assert not AuditEvent.objects.filter(summary__contains="ada").exists()  # a pseudonym now
    assert directory.get(f"Users/{created['id']}").status_code == 404


def test_if_match_is_honoured_on_put_patch_and_delete(directory: Directory) -> None:
    created = directory.create("ada")
    path = f"Users/{created['id']}"
    stale = {"HTTP_IF_MATCH": 'W/"1"'}
    op = [{"op": "replace", "path": "displayName", "value": "X"}]
    for response in (
        directory.patch(path, op, headers=stale),
        directory.put(path, new_user("ada"), headers=stale),
        directory.delete(path, headers=stale),
    ):
        assert response.status_code == 412, response.content
        assert response.json()["status"] == "412"
    user = User.objects.get(username="ada")
    assert (user.full_name, user.is_active) == ("Ada Lovelace", True)
    fresh = {"HTTP_IF_MATCH": created["meta"]["version"]}
    assert directory.patch(path, op, headers=fresh).status_code == 200
    assert directory.patch(path, op, headers={"HTTP_IF_MATCH": "*"}).status_code == 200


def test_deactivation_ends_sessions_and_app_tokens(directory: Directory, user_factory) -> None:
    agent = user_factory("agent")
    UserSession.objects.create(session_key="s" * 32, user=agent)
    app = Application.objects.create(
        name="Agent desktop",
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris="https://desk.example/cb",
        algorithm="RS256",
    )
    AccessToken.objects.create(
        user=agent,
        application=app,
        token="t" * 40,
        expires=timezone.now() + timedelta(hours=1),
        scope="openid",
    )
    response = directory.patch(
        f"Users/{agent.subject}", [{"op": "replace", "path": "active", "value": False}]
    )
    assert response.status_code == 200, response.content
    assert not UserSession.objects.filter(user=agent).exists()
    assert not AccessToken.objects.filter(user=agent).exists()
