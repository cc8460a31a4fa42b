"""Issue 8, "no answers the applicant did not give": the research purpose, commercial use and
general-methods answers start unanswered (no default; existing rows keep their values), and an
application answers explicitly whether the project develops or uses AI.

Existing rows get `uses_ai` from what they said before: AI algorithms named means yes; none named
means no for an application already submitted (that is what the old form's empty field stated),
and unanswered for a draft or a returned application, which answers before it is (re)submitted.
"""

from django.db import migrations, models


def answer_uses_ai_from_before(apps, schema_editor):
    Application = apps.get_model("access_requests", "Application")
    Application.objects.exclude(ai_algorithms="").update(uses_ai=True)
    Application.objects.filter(ai_algorithms="").exclude(status__in=["draft", "returned"]).update(uses_ai=False)


class Migration(migrations.Migration):
    dependencies = [("access_requests", "0004_documents")]

    operations = [
        migrations.AlterField(
            model_name="application",
            name="purpose",
            field=models.CharField(
                blank=True,
                choices=[
                    ("GENERAL_RESEARCH_USE", "General research use (DUO:0000042)"),
                    ("HEALTH_MEDICAL_BIOMEDICAL_RESEARCH", "Health, medical or biomedical research (DUO:0000006)"),
                    ("DISEASE_SPECIFIC_RESEARCH", "Disease-specific research (DUO:0000007)"),
                    ("POPULATION_ORIGINS_ANCESTRY_RESEARCH", "Population origins or ancestry research (DUO:0000011)"),
                    ("CLINICAL_CARE_USE", "Clinical care use (DUO:0000043)"),
                ],
                max_length=40,
            ),
        ),
        migrations.AlterField(
            model_name="application",
            name="methods_development",
            field=models.BooleanField(
                blank=True, help_text="develops general methods or algorithms; null until answered", null=True
            ),
        ),
        migrations.AlterField(
            model_name="application",
            name="commercial_use",
            field=models.BooleanField(
                blank=True, help_text="any commercial use of data or results; null until answered", null=True
            ),
        ),
        migrations.AddField(
            model_name="application",
            name="uses_ai",
            field=models.BooleanField(
                blank=True,
                help_text="does the project develop or use AI? null until answered",
                null=True,
                verbose_name="develops or uses AI",
            ),
        ),
        migrations.AddField(
            model_name="application",
            name="ai_not_used_reason",
            field=models.TextField(
                blank=True,
                help_text="why the project uses no AI although its title or descriptions speak of it (when it "
                "answers no)",
            ),
        ),
        migrations.RunPython(answer_uses_ai_from_before, migrations.RunPython.noop),
    ]
