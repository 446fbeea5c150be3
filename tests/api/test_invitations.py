"""REST API create with `invite` (issue 16): the user gets an invitation by email; the
answer says whether it went; `invite` needs an Email and no password."""

from __future__ import annotations

from deskgate.accounts.models import AuditAction, AuditEvent, Invitation, User

BODY = {"username": "aino", "full_name": "Aino Agent", "email": "aino@example.com"}


def test_create_with_invite_sends_one(program_for, tenant):
    program = program_for(tenant)
    response = program.post("/users", {**BODY, "invite": True})
    assert response.status_code == 201, response.content
    answer = response.json()["invitation"]
    assert answer["sent"] is True and "•" in answer["destination"] and answer["expires_at"]
    user = User.objects.get(username="aino")
    assert Invitation.objects.filter(user=user).count() == 1
    event = AuditEvent.objects.get(action=AuditAction.USER_INVITED, subject=user)
    assert event.actor is None and "write program" in event.actor_label


def test_create_without_invite_sends_none(program_for, tenant):
    response = program_for(tenant).post("/users", BODY)
    assert response.status_code == 201 and response.json()["invitation"] is None
    assert not Invitation.objects.exists()


def test_invite_needs_an_email_and_no_password(program_for, tenant):
    program = program_for(tenant)
    no_email = program.post("/users", {**BODY, "email": "", "invite": True})
    assert no_email.status_code == 400
    assert no_email.json()["errors"][0]["field"] == "invite"
    both = program.post("/users", {**BODY, "invite": True, "password": "a temporary one 42!"})
    assert both.status_code == 400 and "one or the other" in both.json()["detail"]
    assert not User.objects.filter(username="aino").exists()


def test_a_refused_invitation_still_creates_the_user(program_for, tenant, settings):
    settings.DESKGATE_SEND_CAPS = {**settings.DESKGATE_SEND_CAPS, "client": 0}
    response = program_for(tenant).post("/users", {**BODY, "invite": True})
    assert response.status_code == 201
    answer = response.json()["invitation"]
    assert answer["sent"] is False and "limit of messages" in answer["reason"]
    assert User.objects.filter(username="aino").exists()
