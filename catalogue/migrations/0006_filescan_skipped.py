from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("catalogue", "0005_dataset_search_vector")]

    operations = [
        migrations.AddField(
            model_name="filescan",
            name="skipped",
            field=models.JSONField(
                blank=True, default=list, help_text="entries left out of the scan, each {path, reason}"
            ),
        ),
    ]
