"""Access modes per requested dataset, in the catalogue's vocabulary (issue 8, item 3).

An application used to ask for one access mode of its own (download or in-situ processing), so a
dataset offered only for remote processing could never be applied for. Each requested dataset
now names one of the catalogue's access-mode terms. Existing rows keep the application's mode
where the dataset offers it, else take the dataset's first offered mode (by code); a dataset
that states no modes keeps the application's mode. Then the application-level field goes.
"""

import django.db.models.deletion
from django.db import migrations, models

ACCESS_MODE = "access_mode"


def modes_to_datasets(apps, schema_editor):
    ApplicationDataset = apps.get_model("access_requests", "ApplicationDataset")
    Term = apps.get_model("catalogue", "Term")
    terms = {term.code: term for term in Term.objects.filter(vocabulary=ACCESS_MODE)}
    items = ApplicationDataset.objects.select_related("application", "dataset").filter(access_mode__isnull=True)
    for item in items:
        offered = sorted(item.dataset.access_modes.filter(vocabulary=ACCESS_MODE), key=lambda term: term.code)
        wanted = terms.get(item.application.access_mode)
        if wanted is not None and (not offered or wanted in offered):
            item.access_mode = wanted
        elif offered:
            item.access_mode = offered[0]
        else:
            continue
        item.save(update_fields=["access_mode"])


def modes_to_applications(apps, schema_editor):
    """Back: an application takes the mode of its first requested dataset (download if none)."""
    Application = apps.get_model("access_requests", "Application")
    for application in Application.objects.all():
        item = application.requested.exclude(access_mode=None).select_related("access_mode").order_by("pk").first()
        code = item.access_mode.code if item else "DOWNLOAD"
        application.access_mode = code if code in {"DOWNLOAD", "IN_SITU_PROCESSING"} else "DOWNLOAD"
        application.save(update_fields=["access_mode"])


class Migration(migrations.Migration):
    dependencies = [
        ("access_requests", "0006_signatory"),
        ("catalogue", "0008_storage_confinement"),
    ]

    operations = [
        migrations.AddField(
            model_name="applicationdataset",
            name="access_mode",
            field=models.ForeignKey(
                blank=True,
                help_text="how the team will use this dataset: one of the access modes the dataset offers",
                limit_choices_to={"vocabulary": "access_mode"},
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="catalogue.term",
            ),
        ),
        migrations.RunPython(modes_to_datasets, modes_to_applications),
        migrations.RemoveField(model_name="application", name="access_mode"),
    ]
