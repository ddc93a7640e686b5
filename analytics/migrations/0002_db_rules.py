from django.db import migrations

from config.migration_sql import account_consistency_fk


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0001_initial"),
        ("platforms", "0002_db_rules"),
    ]

    operations = [account_consistency_fk("analytics", with_platform=True)]
