"""Forms of the grant lifecycle pages: revoking, asking for and deciding on an extension, the closeout."""

from django import forms

from access_requests.models import OutputKind


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="The grantees and the data holders are told it.",
    )


class ExtensionRequestForm(forms.Form):
    until = forms.DateField(
        label="New last day of access",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Access can last at most to the end of the agreement, of the ethics approvals and of the "
        "dataset's time limit on use.",
    )
    reason = forms.CharField(label="Why you need longer", widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)


class ExtensionDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label="Decision",
        choices=[("grant", "Grant the extension"), ("refuse", "Refuse it")],
        widget=forms.RadioSelect,
    )
    until = forms.DateField(
        label="Last day granted",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Leave empty to grant the day asked for.",
    )
    reason = forms.CharField(
        label="Reason",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
        help_text="Required for a refusal: the grantees are told it.",
    )


class CloseoutForm(forms.Form):
    copies_deleted = forms.BooleanField(
        label="I confirm that every copy of the data downloaded under this application has been deleted, "
        "by me and by every member of the team.",
        required=True,
        error_messages={"required": "Confirm the deletion: the agreement requires it."},
    )
    statement = forms.CharField(
        label="How and when the copies were deleted",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=5000,
    )


class OutputForm(forms.Form):
    kind = forms.ChoiceField(label="Kind", choices=[("", "Choose…"), *OutputKind.choices], required=False)
    title = forms.CharField(label="Title", max_length=500, required=False)
    doi = forms.CharField(label="DOI", max_length=220, required=False, help_text="e.g. 10.1234/abcd")
    url = forms.CharField(label="Web address", max_length=500, required=False)

    def row(self) -> dict | None:
        """The result this row lists, None when left empty."""
        data = {key: (self.cleaned_data.get(key) or "").strip() for key in ("kind", "title", "doi", "url")}
        return data if any(data.values()) else None


OutputFormSet = forms.formset_factory(OutputForm, extra=3, max_num=20, absolute_max=20)
