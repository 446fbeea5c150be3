"""The OpenID Provider's facts: each user's opaque `sub`, the Email address they proved,
and each session's `sid`, authentication time and methods.

`subject` and `sid` are unique: existing rows get their own values one by one before the
unique constraint is added (a column default would give every row the same one).
"""

import secrets
import uuid

from django.db import migrations, models
from django.utils import timezone

import deskgate.accounts.models


def fill(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    for user in User.objects.filter(subject__isnull=True).only("pk"):
        User.objects.filter(pk=user.pk).update(subject=uuid.uuid4())
    UserSession = apps.get_model("accounts", "UserSession")
    for row in UserSession.objects.filter(sid__isnull=True).only("pk"):
        UserSession.objects.filter(pk=row.pk).update(sid=secrets.token_urlsafe(32))


class Migration(migrations.Migration):
    dependencies = [("accounts", "0005_audit_action_choices")]

    operations = [
        migrations.AddField(
            model_name="user",
            name="subject",
            field=models.UUIDField(null=True, editable=False),
        ),
        migrations.AddField(
            model_name="user",
            name="email_proven",
            field=models.CharField(blank=True, default="", editable=False, max_length=254),
        ),
        migrations.AddField(
            model_name="usersession",
            name="sid",
            field=models.CharField(max_length=43, null=True, editable=False),
        ),
        migrations.AddField(
            model_name="usersession",
            name="auth_time",
            field=models.DateTimeField(default=timezone.now),
        ),
        migrations.AddField(
            model_name="usersession",
            name="amr",
            field=models.JSONField(default=list),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="user",
            name="subject",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
        migrations.AlterField(
            model_name="usersession",
            name="sid",
            field=models.CharField(
                default=deskgate.accounts.models.new_sid, editable=False, max_length=43, unique=True
            ),
        ),
    ]
