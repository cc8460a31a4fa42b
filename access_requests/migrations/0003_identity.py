"""Team invitations: who invited, the link's secret, expiry and decline.

Pending invitations made before this change get a secret and the default expiry, so they can be
accepted through the new link only; nobody joins by signing up any more.
"""

import secrets
from datetime import timedelta

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def pending_invitations_keyed(apps, schema_editor):
    TeamMember = apps.get_model("access_requests", "TeamMember")
    days = getattr(settings, "TEAM_INVITATION_MAX_AGE_DAYS", 14)
    for member in TeamMember.objects.filter(joined_at__isnull=True):
        member.invitation_key = secrets.token_urlsafe(32)
        member.expires_at = member.invited_at + timedelta(days=days)
        member.save(update_fields=["invitation_key", "expires_at"])


class Migration(migrations.Migration):
    dependencies = [
        ("access_requests", "0002_applications"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="teammember",
            name="declined_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="teammember",
            name="expires_at",
            field=models.DateTimeField(blank=True, help_text="the invitation lapses then", null=True),
        ),
        migrations.AddField(
            model_name="teammember",
            name="invitation_key",
            field=models.CharField(
                blank=True,
                db_index=True,
                help_text="secret in the invitation link; renewed on re-invitation",
                max_length=64,
            ),
        ),
        migrations.AddField(
            model_name="teammember",
            name="invited_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RunPython(pending_invitations_keyed, migrations.RunPython.noop),
    ]
