"""Forms of the committee's review page. They only shape input: the rules (a rationale for anything
but approve, an approval only when the committee's rule is met, one extension) live in
access_requests/services/review.py, whose errors come back onto these forms."""

from django import forms

from access_requests import rules
from access_requests.models import CHECK_ITEMS, VoteChoice


class RoundForm(forms.Form):
    """Every committee form names the round it was shown for: a page left open while the round
    closed (or a new one opened) must not act on the round that is open now."""

    round = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    id_prefix = "round"

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", f"id_{self.id_prefix}_%s")  # several forms share one page: ids stay unique
        super().__init__(*args, **kwargs)


class ConflictForm(RoundForm):
    id_prefix = "conflict"
    reason = forms.CharField(
        label="Your conflict of interest",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Say what ties you to the applicants or the project. You will take no part in this round.",
    )


class CheckForm(RoundForm):
    """A legal or technical checklist: a yes/no checkbox per item (unticked means no), and notes."""

    notes = forms.CharField(label="Notes", required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, kind: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind
        notes = self.fields.pop("notes")
        for key, question in CHECK_ITEMS[kind]:
            self.fields[f"item_{key}"] = forms.BooleanField(label=question, required=False)
        self.fields["notes"] = notes
        self.auto_id = f"id_{kind}_%s"

    def answers(self) -> dict[str, bool]:
        return {key: bool(self.cleaned_data.get(f"item_{key}")) for key, _ in CHECK_ITEMS[self.kind]}

    @staticmethod
    def initial_for(check, round_number: int) -> dict:
        initial = {"round": round_number}
        if check is not None:
            initial.update({f"item_{key}": value for key, value in check.answers.items()})
            initial["notes"] = check.notes
        return initial


class VoteForm(RoundForm):
    id_prefix = "vote"
    choice = forms.ChoiceField(label="Your vote", choices=VoteChoice.choices, widget=forms.RadioSelect)
    rationale = forms.CharField(
        label="Rationale",
        required=False,
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Needed for any vote but approve.",
    )


class OutcomeSelect(forms.RadioSelect):
    """Radio buttons whose approve option is disabled while the committee's rule does not allow it."""

    approval_allowed = True

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        if value == rules.APPROVED and not self.approval_allowed:
            option["attrs"]["disabled"] = True
        return option


DECISION_CHOICES = [
    (rules.APPROVED, "Approve"),
    (rules.REJECTED, "Reject"),
    (rules.RETURNED, "Return for changes"),
]


class DecisionForm(RoundForm):
    """The chair's decision; with several datasets, an approve/refuse choice and a reason for each."""

    id_prefix = "decision"

    outcome = forms.ChoiceField(label="The committee's decision", choices=DECISION_CHOICES, widget=OutcomeSelect)
    rationale = forms.CharField(
        label="Rationale",
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="The applicant reads it.",
    )
    conditions = forms.CharField(
        label="Conditions of use",
        required=False,
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Approvals only: conditions the agreement will carry.",
    )

    def __init__(self, *args, requested=(), approval_allowed: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.requested = list(requested)
        self.approval_allowed = approval_allowed
        self.fields["outcome"].widget.approval_allowed = approval_allowed
        if not approval_allowed:
            self.fields["outcome"].help_text = "Approve is not open: the committee's rule is not met."
        for item in self.requested if len(self.requested) > 1 else ():
            self.fields[f"dataset_{item.pk}"] = forms.ChoiceField(
                label=f"{item.dataset.identifier} ({item.dataset.holder.name})",
                choices=[("approve", "Approve"), ("refuse", "Refuse")],
                widget=forms.RadioSelect,
                required=False,
                initial="approve",
            )
            self.fields[f"reason_{item.pk}"] = forms.CharField(
                label=f"Why {item.dataset.identifier} is refused",
                required=False,
                max_length=5000,
                widget=forms.Textarea(attrs={"rows": 2}),
            )

    def dataset_fields(self):
        return [
            (self[f"dataset_{item.pk}"], self[f"reason_{item.pk}"])
            for item in self.requested
            if len(self.requested) > 1
        ]

    def datasets(self) -> dict | None:
        """round_decide's `datasets`: {requested id: (approved, reason)}, or None when all are alike."""
        if len(self.requested) < 2 or self.cleaned_data.get("outcome") != rules.APPROVED:
            return None
        split = {
            item.pk: (
                self.cleaned_data.get(f"dataset_{item.pk}") != "refuse",
                self.cleaned_data.get(f"reason_{item.pk}", ""),
            )
            for item in self.requested
        }
        return None if all(approved for approved, _ in split.values()) else split


class ExtendForm(forms.Form):
    months = forms.TypedChoiceField(label="Extend by", coerce=int)
    reason = forms.CharField(
        label="Reason",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The applicant receives it with the new due date.",
    )

    def __init__(self, *args, max_months: int, **kwargs):
        kwargs.setdefault("auto_id", "id_extend_%s")
        super().__init__(*args, **kwargs)
        self.fields["months"].choices = [(n, f"{n} month{'s' if n > 1 else ''}") for n in range(1, max_months + 1)]
