from django.db import migrations

from config.migration_sql import rename_constraint, updated_at_trigger


class Migration(migrations.Migration):
    dependencies = [("characters", "0002_initial")]

    operations = [
        updated_at_trigger("characters"),
        updated_at_trigger("character_personalities"),
        updated_at_trigger("character_appearances"),
        # The document's names for the one-to-one unique constraints.
        rename_constraint(
            "character_personalities",
            "character_personalities_character_id_key",
            "unique_character_personality",
        ),
        rename_constraint(
            "character_appearances",
            "character_appearances_character_id_key",
            "unique_character_appearance",
        ),
    ]
