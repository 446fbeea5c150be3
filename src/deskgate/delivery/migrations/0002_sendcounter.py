# The send caps' counters move from the sign-in app to delivery, where every message
# passes; the table (signin_sendcounter) stays as it is: only Django's state changes.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("delivery", "0001_initial"),
        ("signin", "0002_codes_locks_devices"),  # created the table
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="SendCounter",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("scope", models.CharField(max_length=80)),
                        ("window", models.DateTimeField()),
                        ("count", models.PositiveIntegerField(default=0)),
                    ],
                    options={
                        "db_table": "signin_sendcounter",
                        "constraints": [models.UniqueConstraint(fields=("scope", "window"), name="send_counter_unique")],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
