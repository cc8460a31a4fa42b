"""Indexes for the lists at scale (issue 9, items 1 and 2): the RDO queue and the list pages seek by
age (keyset), the visibility selector reads a member's application ids and a holder's requests from
an index alone, and a person's invitations and statements to sign are found by address in any case.
"""

import django.db.models.functions.text
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("access_requests", "0007_access_modes"),
        ("catalogue", "0008_storage_confinement"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="application",
            index=models.Index(fields=["status", "submitted_at", "id"], name="application_queue"),
        ),
        migrations.AddIndex(
            model_name="application",
            index=models.Index(fields=["updated_at", "id"], name="application_updated"),
        ),
        migrations.AddIndex(
            model_name="application",
            index=models.Index(fields=["created_at", "id"], name="application_created"),
        ),
        migrations.AddIndex(
            model_name="applicationdataset",
            index=models.Index(fields=["dataset", "application"], name="application_dataset_by_dataset"),
        ),
        migrations.AddIndex(
            model_name="representations",
            index=models.Index(
                django.db.models.functions.text.Upper("signatory_email"), name="representations_signatory_ci"
            ),
        ),
        migrations.AddIndex(
            model_name="teammember",
            index=models.Index(
                condition=models.Q(("joined_at__isnull", False)),
                fields=["user", "application"],
                name="team_member_joined_user",
            ),
        ),
        migrations.AddIndex(
            model_name="teammember",
            index=models.Index(
                django.db.models.functions.text.Upper("email"),
                condition=models.Q(("joined_at__isnull", True)),
                name="team_member_email_ci",
            ),
        ),
    ]
