"""Monthly range partitions (issue 17): the table is rebuilt as a partitioned
one, every row copied, every constraint, index and grant recreated
(config/ops/partitions.py). The model is unchanged: Django still sees `id` as the
primary key; the database's is (id, created_at) (docs/schema-deviations.md).
"""

from django.db import migrations

from config.ops.partitions import SYSTEM_LOGS, partition_table, unpartition_table


def forward(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        partition_table(cursor, SYSTEM_LOGS)


def backward(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        unpartition_table(cursor, SYSTEM_LOGS)


class Migration(migrations.Migration):
    dependencies = [("logs", "0003_audit_trail")]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
