from django.db import migrations

from config.migration_sql import updated_at_trigger


class Migration(migrations.Migration):
    dependencies = [("automation", "0001_initial")]

    operations = [updated_at_trigger("automation_rules")]
