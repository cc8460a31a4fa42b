"""Forms of the Research Data Office's committee settings (access_requests/views/committees.py)."""

from django import forms

from access_requests.models import Committee
from access_requests.services.committees import RULE_SETTINGS
from catalogue.models import DataHolder
from portal.models import User


class CommitteeCreateForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200)
    quorum = forms.IntegerField(
        label="Quorum", min_value=1, max_value=99, initial=2, help_text="Votes needed before a decision."
    )
    description = forms.CharField(
        label="What the committee reviews", required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


class CommitteeSettingsForm(forms.ModelForm):
    """The decision rule and the periods: what `committee_configure` accepts."""

    class Meta:
        model = Committee
        fields = list(RULE_SETTINGS)
        labels = {
            "decision_rule": "Decision rule",
            "quorum": "Quorum (votes needed, abstentions included)",
            "approve_share": "Majority rule: share of approve votes to exceed (%)",
            "objection_days": "Objection window rule: working days to object",
            "voting_days": "Voting period of a review round (days)",
            "decision_months": "Time allowed for a decision (months)",
            "extension_max_months": "Longest extension the chair may give (months)",
        }
        widgets = {"decision_rule": forms.RadioSelect}


class MemberAddForm(forms.Form):
    email = forms.EmailField(label="Member's e-mail address", help_text="The person must have an account here.")
    chair = forms.BooleanField(label="Make them the chair (a committee has one chair)", required=False)

    def clean_email(self):
        email = self.cleaned_data["email"]
        user = User.objects.filter(email__iexact=email, is_active=True).first()
        if user is None:
            raise forms.ValidationError("No active account has this address: ask the person to register first.")
        self.user = user
        return email


class HoldersForm(forms.Form):
    """Which data holders' applications go to this committee by default."""

    holders = forms.ModelMultipleChoiceField(
        label="Default committee for applications to these data holders",
        queryset=DataHolder.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The Research Data Office can still choose another committee when it forwards an application.",
    )
