from django.db import migrations

from catalogue.vocabularies import load_vocabularies


def load(apps, schema_editor):
    load_vocabularies(apps.get_model("catalogue", "Term"))


class Migration(migrations.Migration):
    dependencies = [("catalogue", "0002_datasets")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
