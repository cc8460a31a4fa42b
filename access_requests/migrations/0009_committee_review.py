"""Committee review (issue 10): decision rules and periods per committee, the default committee per
data holder, review rounds with conflicts, checks, votes and per-dataset decisions, and the
decision clock's events. Depends on 0007 for now; only the dependency line changes at merge."""

from decimal import Decimal

import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("access_requests", "0008_list_indexes"),
        ("catalogue", "0009_file_removal_and_revisions"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="CommitteeAssignment",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
            ],
        ),
        migrations.CreateModel(
            name="ConflictDeclaration",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("reason", models.TextField()),
                (
                    "automatic",
                    models.BooleanField(default=False, help_text="recused by the portal (team member or steward)"),
                ),
                ("declared_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "ordering": ["pk"],
            },
        ),
        migrations.CreateModel(
            name="DatasetDecision",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("approved", models.BooleanField()),
                ("reason", models.TextField(blank=True)),
            ],
            options={
                "ordering": ["pk"],
            },
        ),
        migrations.CreateModel(
            name="DecisionClockEvent",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("start", "Started"),
                            ("pause", "Paused while returned"),
                            ("resume", "Resumed"),
                            ("extend", "Extended"),
                            ("stop", "Stopped"),
                        ],
                        max_length=8,
                    ),
                ),
                ("at", models.DateTimeField()),
                (
                    "months",
                    models.PositiveSmallIntegerField(default=0, help_text="start: time allowed; extend: months added"),
                ),
                ("reason", models.TextField(blank=True)),
            ],
            options={
                "ordering": ["at", "pk"],
            },
        ),
        migrations.CreateModel(
            name="ReviewCheck",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "kind",
                    models.CharField(
                        choices=[("legal", "Legal check"), ("technical", "Technical check")], max_length=10
                    ),
                ),
                ("answers", models.JSONField(blank=True, default=dict, help_text="item key -> true/false")),
                ("notes", models.TextField(blank=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={
                "ordering": ["pk"],
            },
        ),
        migrations.CreateModel(
            name="ReviewRound",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("number", models.PositiveSmallIntegerField()),
                ("submission_number", models.PositiveSmallIntegerField(help_text="the submission under review")),
                ("opened_at", models.DateTimeField()),
                ("voting_deadline", models.DateTimeField()),
                ("closed_at", models.DateTimeField(blank=True, null=True)),
                (
                    "outcome",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("approved", "Approved"),
                            ("rejected", "Rejected"),
                            ("returned", "Returned for changes"),
                            ("withdrawn", "Withdrawn by the applicant"),
                        ],
                        max_length=12,
                    ),
                ),
                ("rationale", models.TextField(blank=True)),
                ("conditions", models.TextField(blank=True, help_text="conditions of use the agreement will carry")),
            ],
            options={
                "ordering": ["application", "number"],
            },
        ),
        migrations.CreateModel(
            name="Vote",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "choice",
                    models.CharField(
                        choices=[
                            ("approve", "Approve"),
                            ("reject", "Reject"),
                            ("abstain", "Abstain"),
                            ("request_changes", "Request changes"),
                        ],
                        max_length=16,
                    ),
                ),
                ("rationale", models.TextField(blank=True)),
                ("cast_at", models.DateTimeField(help_text="when the vote took its current choice")),
            ],
            options={
                "ordering": ["pk"],
            },
        ),
        migrations.AddField(
            model_name="committee",
            name="approve_share",
            field=models.DecimalField(
                decimal_places=2,
                default=Decimal("50"),
                help_text="majority rule: approve votes must exceed this percentage of the votes for or against",
                max_digits=5,
                validators=[
                    django.core.validators.MinValueValidator(Decimal("0")),
                    django.core.validators.MaxValueValidator(Decimal("99.99")),
                ],
            ),
        ),
        migrations.AddField(
            model_name="committee",
            name="decision_months",
            field=models.PositiveSmallIntegerField(
                default=3, help_text="time allowed for a decision from the forward of a complete application"
            ),
        ),
        migrations.AddField(
            model_name="committee",
            name="decision_rule",
            field=models.CharField(
                choices=[
                    ("majority", "Majority of the votes"),
                    ("unanimity", "Unanimity of the votes cast"),
                    ("objection_window", "Approved unless a member objects in time"),
                ],
                default="majority",
                max_length=20,
            ),
        ),
        migrations.AddField(
            model_name="committee",
            name="extension_max_months",
            field=models.PositiveSmallIntegerField(
                default=3, help_text="the longest single extension of the decision time the chair may give"
            ),
        ),
        migrations.AddField(
            model_name="committee",
            name="objection_days",
            field=models.PositiveSmallIntegerField(
                default=10, help_text="objection window rule: working days members have to object"
            ),
        ),
        migrations.AddField(
            model_name="committee",
            name="voting_days",
            field=models.PositiveSmallIntegerField(default=14, help_text="a review round's voting period, in days"),
        ),
        migrations.AddConstraint(
            model_name="committee",
            constraint=models.CheckConstraint(
                condition=models.Q(("approve_share__gte", 0), ("approve_share__lt", 100)),
                name="committee_approve_share_percent",
            ),
        ),
        migrations.AddConstraint(
            model_name="committee",
            constraint=models.CheckConstraint(
                condition=models.Q(("voting_days__gte", 1)), name="committee_voting_days_positive"
            ),
        ),
        migrations.AddConstraint(
            model_name="committee",
            constraint=models.CheckConstraint(
                condition=models.Q(("decision_months__gte", 1)), name="committee_decision_months_positive"
            ),
        ),
        migrations.AddConstraint(
            model_name="committee",
            constraint=models.CheckConstraint(
                condition=models.Q(("decision_rule__in", ["majority", "unanimity", "objection_window"])),
                name="committee_decision_rule_known",
            ),
        ),
        migrations.AddField(
            model_name="committeeassignment",
            name="committee",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="assignments", to="access_requests.committee"
            ),
        ),
        migrations.AddField(
            model_name="committeeassignment",
            name="holder",
            field=models.OneToOneField(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="committee_assignment",
                to="catalogue.dataholder",
            ),
        ),
        migrations.AddField(
            model_name="conflictdeclaration",
            name="member",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
            ),
        ),
        migrations.AddField(
            model_name="datasetdecision",
            name="requested",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="+", to="access_requests.applicationdataset"
            ),
        ),
        migrations.AddField(
            model_name="decisionclockevent",
            name="actor",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="decisionclockevent",
            name="application",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="clock_events",
                to="access_requests.application",
            ),
        ),
        migrations.AddField(
            model_name="reviewcheck",
            name="member",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
            ),
        ),
        migrations.AddField(
            model_name="reviewround",
            name="application",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="review_rounds",
                to="access_requests.application",
            ),
        ),
        migrations.AddField(
            model_name="reviewround",
            name="committee",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="rounds", to="access_requests.committee"
            ),
        ),
        migrations.AddField(
            model_name="reviewround",
            name="decided_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="reviewcheck",
            name="round",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="checks", to="access_requests.reviewround"
            ),
        ),
        migrations.AddField(
            model_name="datasetdecision",
            name="round",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="dataset_decisions",
                to="access_requests.reviewround",
            ),
        ),
        migrations.AddField(
            model_name="conflictdeclaration",
            name="round",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="conflicts", to="access_requests.reviewround"
            ),
        ),
        migrations.AddField(
            model_name="vote",
            name="member",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
            ),
        ),
        migrations.AddField(
            model_name="vote",
            name="round",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="votes", to="access_requests.reviewround"
            ),
        ),
        migrations.AddConstraint(
            model_name="decisionclockevent",
            constraint=models.UniqueConstraint(
                condition=models.Q(("kind", "start")), fields=("application",), name="clock_started_once"
            ),
        ),
        migrations.AddConstraint(
            model_name="decisionclockevent",
            constraint=models.UniqueConstraint(
                condition=models.Q(("kind", "extend")), fields=("application",), name="clock_extended_once"
            ),
        ),
        migrations.AddConstraint(
            model_name="decisionclockevent",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("kind", "extend"), _negated=True),
                    models.Q(("reason", ""), _negated=True),
                    _connector="OR",
                ),
                name="clock_extension_reason",
            ),
        ),
        migrations.AddConstraint(
            model_name="reviewround",
            constraint=models.UniqueConstraint(fields=("application", "number"), name="review_round_number_unique"),
        ),
        migrations.AddConstraint(
            model_name="reviewround",
            constraint=models.UniqueConstraint(
                condition=models.Q(("closed_at__isnull", True)), fields=("application",), name="review_round_one_open"
            ),
        ),
        migrations.AddConstraint(
            model_name="reviewround",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("closed_at__isnull", True), ("outcome", "")),
                    models.Q(("closed_at__isnull", False), models.Q(("outcome", ""), _negated=True)),
                    _connector="OR",
                ),
                name="review_round_closed_with_outcome",
            ),
        ),
        migrations.AddConstraint(
            model_name="reviewcheck",
            constraint=models.UniqueConstraint(fields=("round", "member", "kind"), name="review_check_once"),
        ),
        migrations.AddConstraint(
            model_name="datasetdecision",
            constraint=models.UniqueConstraint(fields=("round", "requested"), name="dataset_decision_once"),
        ),
        migrations.AddConstraint(
            model_name="datasetdecision",
            constraint=models.CheckConstraint(
                condition=models.Q(("approved", True), models.Q(("reason", ""), _negated=True), _connector="OR"),
                name="dataset_refusal_reason_given",
            ),
        ),
        migrations.AddConstraint(
            model_name="conflictdeclaration",
            constraint=models.UniqueConstraint(fields=("round", "member"), name="conflict_once_per_round"),
        ),
        migrations.AddConstraint(
            model_name="conflictdeclaration",
            constraint=models.CheckConstraint(
                condition=models.Q(("reason", ""), _negated=True), name="conflict_reason_given"
            ),
        ),
        migrations.AddConstraint(
            model_name="vote",
            constraint=models.UniqueConstraint(fields=("round", "member"), name="vote_once_per_member"),
        ),
        migrations.AddConstraint(
            model_name="vote",
            constraint=models.CheckConstraint(
                condition=models.Q(("choice", "approve"), models.Q(("rationale", ""), _negated=True), _connector="OR"),
                name="vote_rationale_given",
            ),
        ),
        migrations.AddConstraint(
            model_name="vote",
            constraint=models.CheckConstraint(
                condition=models.Q(("choice__in", ["approve", "reject", "abstain", "request_changes"])),
                name="vote_choice_known",
            ),
        ),
    ]
