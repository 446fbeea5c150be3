# SendCounter now belongs to the delivery app (delivery 0002 takes it over with its table);
# only Django's state changes here, the table and its rows stay.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("signin", "0007_reset_queue"),
        ("delivery", "0002_sendcounter"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="SendCounter")],
            database_operations=[],
        ),
    ]
