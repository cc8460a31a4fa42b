"""Reserved for the trust work (issue 7); its operations are filled in by the change that owns it."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("access_requests", "0002_applications")]

    operations: list = []
