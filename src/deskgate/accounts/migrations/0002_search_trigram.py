"""On PostgreSQL, a trigram index makes the User list's substring search use an index.

SQLite has no such index; at a laptop's scale its scan is fast enough.
"""

from django.db import migrations

FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS user_search_key_trgm ON accounts_user "
    "USING gin (search_key gin_trgm_ops)",
]
BACKWARD = ["DROP INDEX IF EXISTS user_search_key_trgm"]


def _run(statements):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for sql in statements:
            schema_editor.execute(sql)

    return apply


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]
