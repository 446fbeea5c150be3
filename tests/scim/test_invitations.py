"""SCIM creates (issue 16): a user a directory creates gets an invitation when their client
invites directory users (off by default: directories mostly provision SSO users), has an
Email, and the client's SSO is not mandatory."""

from __future__ import annotations

from django.core import mail

from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import Invitation, User


def test_no_invitation_unless_the_client_asks(directory):
    directory.create("ada.lovelace")
    assert mail.outbox == [] and not Invitation.objects.exists()


def test_the_client_setting_invites_directory_users(directory, tenant):
    actions.set_invite_directory_users(tenant, True, by=OPERATOR)
    directory.create("ada.lovelace")
    user = User.objects.get(username="ada.lovelace")
    assert Invitation.objects.filter(user=user).count() == 1
    assert mail.outbox[-1].to == [user.email]


def test_a_user_without_an_email_is_created_without_one(directory, tenant):
    actions.set_invite_directory_users(tenant, True, by=OPERATOR)
    directory.create("no.mail", emails=[])
    assert User.objects.filter(username="no.mail").exists()
    assert not Invitation.objects.exists()
