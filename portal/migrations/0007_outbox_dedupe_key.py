"""Outbox messages sent once only (reminders) carry a unique key."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0006_audit_log_indexes_and_head_at_commit"),
    ]

    operations = [
        migrations.AddField(
            model_name="outboxemail",
            name="dedupe_key",
            field=models.CharField(blank=True, max_length=200, null=True, unique=True),
        ),
    ]
