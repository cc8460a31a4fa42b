"""Full-text search (a maintained search vector under a GIN index) and the researcher's basket."""

import django.contrib.postgres.search
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import catalogue.models
from catalogue.search import datasets_refresh_search_vectors


def backfill(apps, schema_editor):
    datasets_refresh_search_vectors(
        dataset_model=apps.get_model("catalogue", "Dataset"), connection=schema_editor.connection
    )


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0004_load_condition_and_body_part_vocabularies"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="dataset",
            name="search_vector",
            field=django.contrib.postgres.search.SearchVectorField(editable=False, null=True),
        ),
        migrations.AddIndex(
            model_name="dataset",
            index=catalogue.models.SearchVectorIndex(fields=["search_vector"], name="dataset_search_vector_gin"),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.CreateModel(
            name="BasketItem",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("added_at", models.DateTimeField(auto_now_add=True)),
                (
                    "dataset",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="catalogue.dataset"
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="basket_items",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["added_at", "pk"],
                "constraints": [models.UniqueConstraint(fields=("user", "dataset"), name="basket_item_unique")],
            },
        ),
    ]
