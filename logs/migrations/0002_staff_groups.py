"""Create the staff groups Administrators, Operators and Analysts."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def create_groups(apps, schema_editor):
    from config.permissions import sync_groups

    # Permissions are normally created after all migrations ran; create them
    # now so the groups get theirs on a fresh database.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_groups(apps)


def delete_groups(apps, schema_editor):
    from config.permissions import ADMINISTRATORS, ANALYSTS, OPERATORS

    apps.get_model("auth", "Group").objects.filter(
        name__in=[ADMINISTRATORS, OPERATORS, ANALYSTS]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("logs", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("characters", "0003_db_rules"),
        ("content", "0002_db_rules"),
        ("platforms", "0003_account_permissions"),
        ("automation", "0002_db_rules"),
        ("analytics", "0002_db_rules"),
    ]

    operations = [migrations.RunPython(create_groups, delete_groups)]
