from django.db import migrations, models
from django.utils.text import slugify


def fill_slugs(apps, schema_editor):
    Client = apps.get_model("accounts", "Client")
    taken = set()
    for client in Client.objects.order_by("pk"):
        slug = slugify(client.name)[:90] or "client"
        if slug in taken:
            slug = f"{slug}-{client.pk}"
        taken.add(slug)
        client.slug = slug
        client.save(update_fields=["slug"])


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_search_trigram")]
    operations = [
        migrations.AddField(
            model_name="client",
            name="slug",
            # No index yet: the unique constraint below brings its own.
            field=models.SlugField(max_length=100, null=True, db_index=False),
        ),
        migrations.RunPython(fill_slugs, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="client",
            name="slug",
            field=models.SlugField(
                help_text="In the company's SSO sign-in address", max_length=100, unique=True
            ),
        ),
    ]
