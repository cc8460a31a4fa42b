"""Input and output shapes of the committee review API (access_requests/apis_review.py).

A round is shown to each caller as access_requests/services/review.py lets them see it: the tally
and the individual votes follow `round_tally_for` (hidden from a member until they have voted, always
shown to the chair, shown to every member and the RDO once the round is closed, never to the team);
who declared a conflict is shown to the reviewing committee and the RDO only; the caller's own vote,
checks and recusal are always shown to them under `mine`.
"""

from rest_framework import serializers

from access_requests.models import CheckKind, DecisionRule, ReviewRound, VoteChoice
from portal.serializers import InputSerializer

DECISION_OUTCOMES = [
    (ReviewRound.Outcome.APPROVED.value, ReviewRound.Outcome.APPROVED.label),
    (ReviewRound.Outcome.REJECTED.value, ReviewRound.Outcome.REJECTED.label),
    (ReviewRound.Outcome.RETURNED.value, ReviewRound.Outcome.RETURNED.label),
]
ROUND_HELP = (
    "the number of the round the caller looked at: refused (409 `round_closed` or `round_not_open`) "
    "unless it is the open round"
)


def _round_field() -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=32767, help_text=ROUND_HELP)


# --- input --------------------------------------------------------------------------------


class ConflictDeclareSerializer(InputSerializer):
    reason = serializers.CharField(max_length=2000, help_text="what the conflict of interest is")
    round = _round_field()


class CheckRecordSerializer(InputSerializer):
    answers = serializers.DictField(
        child=serializers.BooleanField(),
        help_text="checklist item → yes (true) or no (false); the items of each check are listed in the "
        "round's `checklists`",
    )
    notes = serializers.CharField(allow_blank=True, required=False, default="", max_length=10000)
    round = _round_field()


class VoteCastSerializer(InputSerializer):
    choice = serializers.ChoiceField(choices=VoteChoice.choices)
    rationale = serializers.CharField(
        allow_blank=True,
        required=False,
        default="",
        max_length=10000,
        help_text="why; required for every choice but approve",
    )
    round = _round_field()


class DatasetDecisionInputSerializer(InputSerializer):
    dataset = serializers.CharField(
        max_length=64, help_text="identifier of a requested dataset (or the id of its request)"
    )
    approved = serializers.BooleanField()
    reason = serializers.CharField(
        allow_blank=True, required=False, default="", max_length=5000, help_text="required when refused"
    )


class DecisionSerializer(InputSerializer):
    outcome = serializers.ChoiceField(choices=DECISION_OUTCOMES)
    rationale = serializers.CharField(max_length=20000, help_text="the reasons the applicant receives")
    conditions = serializers.CharField(
        allow_blank=True,
        required=False,
        default="",
        max_length=20000,
        help_text="conditions of use the agreement will carry (approvals only)",
    )
    round = _round_field()
    datasets = DatasetDecisionInputSerializer(
        many=True,
        required=False,
        allow_empty=False,
        help_text="approvals only, to approve some datasets and refuse others: one entry per requested "
        "dataset; without it an approval covers every requested dataset",
    )


class ClockExtensionSerializer(InputSerializer):
    months = serializers.IntegerField(
        min_value=1, max_value=32767, help_text="1 to the committee's longest extension (3 by default)"
    )
    reason = serializers.CharField(max_length=5000, help_text="the reason the applicant receives")


# --- output -------------------------------------------------------------------------------


class RuleSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=DecisionRule.choices)
    quorum = serializers.IntegerField(help_text="votes needed (abstentions included) before a decision")
    approve_share = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        coerce_to_string=False,
        help_text="majority rule: approve votes must exceed this percentage of the votes for or against",
    )
    objection_days = serializers.IntegerField(help_text="objection window rule: working days members have to object")
    words = serializers.CharField(help_text="the rule in words")


class RoundCommitteeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    rule = RuleSerializer()


class DatasetDecisionSerializer(serializers.Serializer):
    dataset = serializers.CharField(help_text="the dataset's identifier")
    approved = serializers.BooleanField()
    reason = serializers.CharField(allow_blank=True)


class ConflictSerializer(serializers.Serializer):
    member = serializers.CharField(help_text="the member's name")
    reason = serializers.CharField()
    automatic = serializers.BooleanField(
        help_text="recused by the portal: on the team, or steward of a requested holder"
    )


class CountsSerializer(serializers.Serializer):
    members = serializers.IntegerField()
    recused = serializers.IntegerField()
    voted = serializers.IntegerField(help_text="votes that count (recused members' never do)")
    approve = serializers.IntegerField()
    reject = serializers.IntegerField()
    request_changes = serializers.IntegerField()
    abstain = serializers.IntegerField()
    window_closes = serializers.DateTimeField(required=False, help_text="objection window rule: when the window closes")


class TallySerializer(serializers.Serializer):
    met = serializers.BooleanField(help_text="the rule has reached a result")
    suggested = serializers.ChoiceField(
        choices=DECISION_OUTCOMES, allow_null=True, help_text="what the rule makes of the votes, once met"
    )
    approval_allowed = serializers.BooleanField(help_text="the chair may approve")
    detail = serializers.CharField(help_text="in words")
    counts = CountsSerializer()


class VoteSerializer(serializers.Serializer):
    member = serializers.CharField(help_text="the member's name")
    choice = serializers.ChoiceField(choices=VoteChoice.choices)
    rationale = serializers.CharField(allow_blank=True)
    cast_at = serializers.DateTimeField(help_text="when the vote took its choice")


class OwnVoteSerializer(serializers.Serializer):
    choice = serializers.ChoiceField(choices=VoteChoice.choices)
    rationale = serializers.CharField(allow_blank=True)
    cast_at = serializers.DateTimeField()


class OwnCheckSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=CheckKind.choices)
    answers = serializers.DictField(child=serializers.BooleanField())
    notes = serializers.CharField(allow_blank=True)
    updated_at = serializers.DateTimeField()


class MemberCheckSerializer(OwnCheckSerializer):
    member = serializers.CharField(help_text="the member's name")


class MineSerializer(serializers.Serializer):
    vote = OwnVoteSerializer(allow_null=True)
    checks = OwnCheckSerializer(many=True)
    recused = serializers.BooleanField()


class ChecklistItemSerializer(serializers.Serializer):
    item = serializers.CharField()
    question = serializers.CharField()


class ChecklistsSerializer(serializers.Serializer):
    legal = ChecklistItemSerializer(many=True)
    technical = ChecklistItemSerializer(many=True)


class RoundSerializer(serializers.Serializer):
    """One review round as the caller may see it (built by apis_review.round_data)."""

    number = serializers.IntegerField()
    committee = RoundCommitteeSerializer()
    submission_number = serializers.IntegerField(help_text="the submission under review")
    opened_at = serializers.DateTimeField()
    voting_deadline = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)
    open = serializers.BooleanField()
    outcome = serializers.ChoiceField(
        choices=ReviewRound.Outcome.choices, allow_blank=True, help_text="empty while the round is open"
    )
    rationale = serializers.CharField(allow_blank=True)
    conditions = serializers.CharField(allow_blank=True)
    dataset_decisions = DatasetDecisionSerializer(
        many=True, help_text="when the chair approved some datasets and refused others"
    )
    conflicts = ConflictSerializer(
        many=True, allow_null=True, help_text="who is recused and why: null unless the caller reviews"
    )
    tally = TallySerializer(allow_null=True, help_text="null while hidden from the caller")
    votes = VoteSerializer(many=True, allow_null=True, help_text="null while hidden from the caller")
    checks = MemberCheckSerializer(
        many=True, allow_null=True, help_text="every member's legal and technical checks: shown with the votes"
    )
    mine = MineSerializer(allow_null=True, help_text="the caller's own part: null unless on the committee")
    checklists = ChecklistsSerializer(help_text="the questions of the legal and the technical check")


class ExtensionSerializer(serializers.Serializer):
    months = serializers.IntegerField()
    reason = serializers.CharField()
    at = serializers.DateTimeField()


class ClockSerializer(serializers.Serializer):
    started = serializers.BooleanField(help_text="the clock starts at the first forward of a complete application")
    running = serializers.BooleanField()
    paused = serializers.BooleanField(help_text="while the application is returned to the applicant")
    stopped = serializers.BooleanField(help_text="once decided or withdrawn")
    extended = serializers.BooleanField()
    due_at = serializers.DateTimeField(allow_null=True, help_text="when the decision is due, as things stand")
    days_left = serializers.IntegerField(allow_null=True, help_text="whole days left; negative when overdue")
    overdue = serializers.BooleanField()
    time_allowed_months = serializers.IntegerField(
        allow_null=True, help_text="months allowed for the decision, the extension included"
    )
    extension = ExtensionSerializer(allow_null=True)
