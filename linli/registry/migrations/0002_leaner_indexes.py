# The blind indexes of Person lose the varchar_pattern_ops ("_like") twins PostgreSQL gets for
# a db_index CharField: no query searches a blind index with LIKE, and every insert paid for
# two more B-trees. Written by hand: the AlterField that makemigrations writes drops every
# single-column index of the column, the partial unique index of the ID number included.

from django.db import migrations, models

import linli.utilities.fields

# The indexes db_index created (names as Django derives them, the same in every database).
_FIELD_INDEXES = {
    "id_number_index": "registry_person_id_number_index_b3510b9a",
    "phone_index": "registry_person_phone_index_fecb0ad5",
}


def drop_field_indexes(apps, schema_editor):
    for name in _FIELD_INDEXES.values():
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}_like")


def restore_field_indexes(apps, schema_editor):
    for column, name in _FIELD_INDEXES.items():
        schema_editor.execute(f"CREATE INDEX {name} ON registry_person ({column})")
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(
                f"CREATE INDEX {name}_like ON registry_person ({column} varchar_pattern_ops)"
            )


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="person",
                    name="id_number_index",
                    field=linli.utilities.fields.BlindIndexField(
                        db_index=False, source="id_number"
                    ),
                ),
                migrations.AlterField(
                    model_name="person",
                    name="phone_index",
                    field=linli.utilities.fields.BlindIndexField(db_index=False, source="phone"),
                ),
            ],
            database_operations=[
                migrations.RunPython(drop_field_indexes, restore_field_indexes),
            ],
        ),
        migrations.AddIndex(
            model_name="person",
            index=models.Index(fields=["id_number_index"], name="registry_person_id_index"),
        ),
        migrations.AddIndex(
            model_name="person",
            index=models.Index(fields=["phone_index"], name="registry_person_phone_index"),
        ),
    ]
