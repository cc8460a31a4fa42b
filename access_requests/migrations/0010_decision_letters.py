"""Decision letters: the PDF that records a review round's decision, one per round."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("access_requests", "0009_committee_review"),
    ]

    operations = [
        migrations.CreateModel(
            name="DecisionLetter",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("path", models.CharField(help_text="relative to DOCUMENT_STORAGE_ROOT", max_length=300)),
                ("sha256", models.CharField(max_length=64)),
                ("size", models.PositiveBigIntegerField()),
                ("rendered_at", models.DateTimeField()),
                ("template_version", models.CharField(default="2026-11", max_length=20)),
                (
                    "round",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="letter",
                        to="access_requests.reviewround",
                    ),
                ),
            ],
            options={
                "ordering": ["round"],
            },
        ),
    ]
