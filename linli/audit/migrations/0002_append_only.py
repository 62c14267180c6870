from django.db import migrations


def install(apps, schema_editor):
    from linli.audit.protection import install as install_protection

    install_protection(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    # Irreversible on purpose: nothing should ever lift the append-only rule by migrating back.
    operations = [migrations.RunPython(install, migrations.RunPython.noop, elidable=False)]
