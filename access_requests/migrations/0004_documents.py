"""Documents live under DOCUMENT_STORAGE_ROOT, apart from the datasets' storage (issue 7)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("access_requests", "0003_identity")]

    operations = [
        migrations.AlterField(
            model_name="ethicsapproval",
            name="document_path",
            field=models.CharField(help_text="relative to DOCUMENT_STORAGE_ROOT", max_length=500),
        ),
    ]
