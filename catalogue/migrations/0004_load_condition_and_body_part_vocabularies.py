"""Load the vocabularies again: the condition and body-part files were added after 0003 ran."""

from django.db import migrations

from catalogue.vocabularies import load_vocabularies


def load(apps, schema_editor):
    load_vocabularies(apps.get_model("catalogue", "Term"))


class Migration(migrations.Migration):
    dependencies = [("catalogue", "0003_load_vocabularies")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
