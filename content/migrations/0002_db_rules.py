from django.db import migrations

from config.migration_sql import updated_at_trigger


class Migration(migrations.Migration):
    dependencies = [("content", "0001_initial")]

    operations = [
        updated_at_trigger("content"),
        updated_at_trigger("content_generations"),
    ]
