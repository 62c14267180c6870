# Every append pays for every index of the audit table (an import writes one entry per record),
# so it keeps only those a query uses: seq (unique), time, (object type, object id) and
# (action, time). Gone: the actor's id alone and with time (no query looks entries up by
# account id; the pages search the stored name), the object type alone (the prefix of the
# object index), the unique index of the hash (the hash covers the unique seq) and the
# PostgreSQL LIKE twins of the object type and the hash.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# The indexes db_index created (names as Django derives them, the same in every database).
_FIELD_INDEXES = {
    "actor_id": "audit_auditentry_actor_id_8ab278be",
    "object_type": "audit_auditentry_object_type_00e64ac4",
}


def drop_field_indexes(apps, schema_editor):
    # Dropped by name: AlterField would remake the whole table on SQLite for each field.
    postgres = schema_editor.connection.vendor == "postgresql"
    for column, name in _FIELD_INDEXES.items():
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
        if postgres and column == "object_type":
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}_like")


def restore_field_indexes(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    for column, name in _FIELD_INDEXES.items():
        schema_editor.execute(f"CREATE INDEX {name} ON audit_auditentry ({column})")
        if postgres and column == "object_type":
            schema_editor.execute(
                f"CREATE INDEX {name}_like ON audit_auditentry ({column} varchar_pattern_ops)"
            )


def install_protection(apps, schema_editor):
    # SQLite alters a column by copying the table, which leaves the append-only triggers
    # behind with the old one: install them again (idempotent on PostgreSQL).
    from linli.audit.protection import install

    install(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0003_refused_action"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="auditentry",
            name="audit_audit_actor_i_bbfd3b_idx",
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="auditentry",
                    name="actor",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="actor",
                    ),
                ),
                migrations.AlterField(
                    model_name="auditentry",
                    name="object_type",
                    field=models.CharField(blank=True, max_length=100, verbose_name="object type"),
                ),
            ],
            database_operations=[
                migrations.RunPython(drop_field_indexes, restore_field_indexes),
            ],
        ),
        migrations.AlterField(
            model_name="auditentry",
            name="hash",
            field=models.CharField(max_length=64),
        ),
        migrations.RunPython(install_protection, migrations.RunPython.noop, elidable=False),
    ]
