"""Give every data holder its own storage area under DATASET_STORAGE_ROOT (issue 7, storage confinement).

Existing holders get an area named after their slug. Files registered under the old single
protected root are not moved or deleted: `python manage.py check_storage` reports the rows whose
path is not in their holder's area.
"""

import re

from django.db import migrations, models


def _area_name(slug: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9_-]+", "-", slug.lower()).strip("-_")[:70] or "holder"
    name, suffix = base, 2
    while name in taken:
        name, suffix = f"{base}-{suffix}", suffix + 1
    return name


def fill_storage_areas(apps, schema_editor):
    DataHolder = apps.get_model("catalogue", "DataHolder")
    taken: set[str] = set()
    for holder in DataHolder.objects.order_by("pk"):
        holder.storage_area = _area_name(holder.slug, taken)
        taken.add(holder.storage_area)
        holder.save(update_fields=["storage_area"])


class Migration(migrations.Migration):
    dependencies = [("catalogue", "0007_dataset_sort_indexes")]

    operations = [
        migrations.AddField(
            model_name="dataholder",
            name="storage_area",
            field=models.SlugField(
                max_length=80, null=True, db_index=False, editable=False, help_text="folder under DATASET_STORAGE_ROOT"
            ),
        ),
        migrations.RunPython(fill_storage_areas, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="dataholder",
            name="storage_area",
            field=models.SlugField(
                max_length=80, unique=True, editable=False, help_text="folder under DATASET_STORAGE_ROOT"
            ),
        ),
        migrations.AddConstraint(
            model_name="dataholder",
            constraint=models.CheckConstraint(
                condition=models.Q(storage_area__regex="^[a-z0-9][a-z0-9_-]*$"),
                name="dataholder_storage_area_format",
            ),
        ),
        migrations.AlterField(
            model_name="datasetfile",
            name="path",
            field=models.CharField(
                max_length=1000, help_text="relative to DATASET_STORAGE_ROOT, starting with the holder's storage area"
            ),
        ),
        migrations.AlterField(
            model_name="filescan",
            name="folder",
            field=models.CharField(
                max_length=1000, help_text="relative to DATASET_STORAGE_ROOT, starting with the holder's storage area"
            ),
        ),
    ]
