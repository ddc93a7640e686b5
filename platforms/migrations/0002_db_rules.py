from django.db import migrations

from config.migration_sql import account_consistency_fk, updated_at_trigger


class Migration(migrations.Migration):
    dependencies = [("platforms", "0001_initial")]

    operations = [
        updated_at_trigger("platform_accounts"),
        updated_at_trigger("posts"),
        updated_at_trigger("scheduled_posts"),
        account_consistency_fk("posts", with_platform=True),
        account_consistency_fk("scheduled_posts", with_platform=False),
        account_consistency_fk("engagement_actions", with_platform=True),
    ]
