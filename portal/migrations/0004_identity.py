"""E-mail proof: accounts record when their address was proved; existing accounts count as proved."""

from django.db import migrations, models
from django.db.models import F


def existing_accounts_proved(apps, schema_editor):
    # Accounts made before e-mail proof existed keep working; new self sign-ups start unproved.
    apps.get_model("portal", "User").objects.filter(email_verified_at__isnull=True).update(
        email_verified_at=F("date_joined")
    )


class Migration(migrations.Migration):
    dependencies = [("portal", "0003_role_groups")]

    operations = [
        migrations.AddField(
            model_name="user",
            name="email_verified_at",
            field=models.DateTimeField(
                blank=True,
                help_text="when the owner proved the e-mail address; until then the account cannot sign in",
                null=True,
            ),
        ),
        migrations.RunPython(existing_accounts_proved, migrations.RunPython.noop),
    ]
