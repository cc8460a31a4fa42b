"""Reserved for issue 8's work; its operations are filled in by the change that owns it."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("access_requests", "0004_documents")]

    operations: list = []
