"""Invitations on the admin pages (issue 16): Create with "Send an invitation by email",
the user page's state with Send, Resend and Revoke, the hours on Settings, and the import
page's option."""

from __future__ import annotations

from django.core import mail

from deskgate.accounts.actions import invitations
from deskgate.accounts.models import AuditAction, AuditEvent, Invitation, User
from tests.accounts.test_invitations import by, token_sent_to
from tests.pages import page_text, snapshot
from tests.web.test_user_form import form_data

HEADER = "username,full_name,level,email,work_phone,mfa,employment\n"


def test_the_create_form_offers_the_invitation_ticked(admin_http):
    text = admin_http.get("/users/create/").content.decode()
    assert "Send an invitation by email" in text
    assert 'id="id_invite" checked' in text and 'id="id_invite_helptext"' in text
    assert "The link works for 72 hours" in text


def test_create_with_the_box_ticked_sends_the_invitation(admin_http, admin_user):
    response = admin_http.post("/users/create/", form_data(invite="on"), follow=True)
    text = page_text(response)
    user = User.objects.get(username="new.agent")
    assert "New Agent (new.agent) is created." in text
    assert "An invitation was sent to" in text and "It works once, for 72 hours" in text
    assert not user.has_usable_password()
    assert mail.outbox[-1].to == [user.email]
    assert "Invitation: sent" in text and "works until" in text
    assert "Resend invitation" in text and "Revoke invitation" in text


def test_without_an_email_the_box_does_nothing_and_a_password_is_the_way(admin_http):
    data = form_data(invite="on", email="", password="a temporary passphrase 42")
    response = admin_http.post("/users/create/", data, follow=True)
    assert response.status_code == 200
    user = User.objects.get(username="new.agent")
    assert user.has_usable_password() and user.must_change_password
    assert mail.outbox == [] and not Invitation.objects.exists()
    assert "Invitation: none sent." in page_text(response)


def test_an_invitation_and_a_password_together_are_refused_as_typed(admin_http):
    before = snapshot()
    data = form_data(invite="on", password="a temporary passphrase 42")
    response = admin_http.post("/users/create/", data)
    assert response.status_code == 200
    assert "Choose one: an invitation" in page_text(response)
    assert 'value="new.agent"' in response.content.decode()
    assert snapshot() == before


def test_resend_and_revoke_from_the_user_page(admin_http, admin_user, user_factory):
    user = user_factory("agent", "off", password=None)
    invitations.invite(user, by=by(admin_user))
    first = token_sent_to(user)
    page = admin_http.post(f"/users/{user.pk}/invitation/send/", follow=True)
    assert "An invitation was sent to" in page_text(page)
    assert token_sent_to(user) != first
    assert invitations.look_up(first)[1] == invitations.LinkState.REVOKED
    revoked = admin_http.post(f"/users/{user.pk}/invitation/revoke/", follow=True)
    text = page_text(revoked)
    assert "The invitation of" in text and "is revoked" in text
    assert "Invitation: sent" in text and "revoked" in text
    assert "Revoke invitation" not in text and "Resend invitation" in text
    again = admin_http.post(f"/users/{user.pk}/invitation/revoke/", follow=True)
    assert "has no invitation that works" in page_text(again)
    assert AuditEvent.objects.filter(action=AuditAction.INVITATION_REVOKED).count() == 1


def test_resend_and_revoke_are_post_only(admin_http, user_factory):
    user = user_factory("agent", "off", password=None)
    assert admin_http.get(f"/users/{user.pk}/invitation/send/").status_code == 405
    assert admin_http.get(f"/users/{user.pk}/invitation/revoke/").status_code == 405


def test_a_user_with_their_own_password_is_offered_no_invitation(admin_http, user_factory):
    user = user_factory("agent", "off")
    text = page_text(admin_http.get(f"/users/{user.pk}/"))
    assert "Invitation: none sent." in text and "Send invitation" not in text
    refused = admin_http.post(f"/users/{user.pk}/invitation/send/", follow=True)
    assert "No invitation was sent" in page_text(refused)
    assert "chosen their own password" in page_text(refused)


def test_an_accepted_invitation_shows_so(admin_http, admin_user, user_factory):
    user = user_factory("agent", "off", password=None)
    invitations.invite(user, by=by(admin_user))
    found, _ = invitations.look_up(token_sent_to(user))
    assert found is not None
    invitations.accept_invitation(found, "my own chosen passphrase 2026", by=by(user))
    text = page_text(admin_http.get(f"/users/{user.pk}/"))
    assert "accepted" in text and "Resend invitation" not in text


def test_the_settings_page_sets_the_hours(admin_http, tenant):
    page = admin_http.get("/settings/")
    assert "Hours an invitation link works" in page_text(page)
    data = {
        "password_reset_enabled": "on",
        "remember_device_enabled": "on",
        "invitation_hours": "24",
        "invite_directory_users": "on",
        "time_zone": "UTC",
    }
    saved = admin_http.post("/settings/", data, follow=True)
    assert "The settings are saved." in page_text(saved)
    tenant.refresh_from_db()
    assert tenant.invitation_hours == 24 and tenant.invite_directory_users
    refused = admin_http.post("/settings/", {**data, "invitation_hours": "721"})
    assert "720" in page_text(refused)
    tenant.refresh_from_db()
    assert tenant.invitation_hours == 24


def test_the_import_page_invites_when_asked(admin_http):
    row = "new.one,New One,agent,new@example.com,,email,\n"
    page = admin_http.post("/users/import/", {"file": _upload(HEADER + row)}).content.decode()
    assert "Send invitations to new users with an email" in page
    response = admin_http.post(
        "/users/import/",
        {"apply": "1", "filename": "agents.csv", "content": HEADER + row, "invite": "1"},
    )
    assert "1 invitation sent." in page_text(response)
    assert Invitation.objects.filter(user__username="new.one").count() == 1


def _upload(text: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("agents.csv", text.encode(), content_type="text/csv")


def test_a_corrected_email_shows_the_old_invitation_as_not_working(
    admin_http, admin_user, user_factory
):
    from deskgate.accounts import actions

    user = user_factory("agent", "off", password=None)
    invitations.invite(user, by=by(admin_user))
    actions.change_user(user, by=by(admin_user), email="right@example.com")
    text = page_text(admin_http.get(f"/users/{user.pk}/"))
    assert "to an earlier Email; it no longer works." in text
    assert "Resend invitation" in text and "Revoke invitation" not in text


def test_the_conflict_is_said_beside_the_rules_own_refusals(admin_http):
    before = snapshot()
    data = form_data(invite="on", password="a temporary passphrase 42", email="not-an-email")
    text = page_text(admin_http.post("/users/create/", data))
    assert "Choose one: an invitation" in text and "Enter a valid email address" in text
    assert snapshot() == before
