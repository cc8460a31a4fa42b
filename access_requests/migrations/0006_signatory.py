"""The signatory signs the representations (issue 8): the signatory's link on Representations, and
acceptances that record the hash of what they covered and are voided (kept as history) when it changes."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("access_requests", "0005_answers")]

    operations = [
        migrations.RemoveConstraint(model_name="statementacceptance", name="statement_accepted_once"),
        migrations.AddField(
            model_name="representations",
            name="signature_expires_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="representations", name="signature_key", field=models.CharField(blank=True, max_length=64)
        ),
        migrations.AddField(
            model_name="representations",
            name="signature_requested_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="statementacceptance",
            name="covered_sha256",
            field=models.CharField(blank=True, help_text="hash of the summary the signatory signed", max_length=64),
        ),
        migrations.AddField(
            model_name="statementacceptance", name="voided_at", field=models.DateTimeField(blank=True, null=True)
        ),
        migrations.AddConstraint(
            model_name="statementacceptance",
            constraint=models.UniqueConstraint(
                condition=models.Q(("voided_at__isnull", True)),
                fields=("application", "statement"),
                name="statement_accepted_once",
            ),
        ),
    ]
