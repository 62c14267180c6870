"""Every installation starts with the shipped category tree (linli/events/data/)."""

from typing import Any

from django.db import migrations


def load(apps: Any, schema_editor: Any) -> None:
    from linli.events.defaults import load_default_categories

    load_default_categories(apps.get_model("events", "EventCategory"), record=False)


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0002_externalreport_hotlinedelivery"),
    ]

    # Reversing leaves the categories: events may refer to them, and a county may have
    # changed them since.
    operations = [migrations.RunPython(load, migrations.RunPython.noop, elidable=False)]
