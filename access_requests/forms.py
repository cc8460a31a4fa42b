"""Forms of the application pages. They only shape input: every rule lives in the services,
whose DomainError fields come back onto these forms through `form_add_domain_error`."""

from functools import partial

from django import forms
from django.conf import settings
from django.core.validators import MaxValueValidator

from access_requests.models import (
    Committee,
    DataCategory,
    LegalStatement,
    Purpose,
    ResidualRisk,
    Section,
)
from access_requests.services.applications import AI_QUESTIONS, DPIA_FIELDS
from catalogue.models import Term, Vocabulary
from portal.countries import country_choices
from portal.errors import DomainError

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
AI_CHOICES = [("yes", "Yes"), ("no", "No"), ("na", "Not applicable")]
SCORE_CHOICES = [(1, "1"), (2, "2"), (3, "3")]
# A plain file input: a document is replaced by uploading another, never "cleared" by a checkbox
# (ClearableFileInput's `-clear` value would reach the service as False). The services judge the
# content; `accept` only helps the browser's file picker.
PDF_WIDGET = forms.FileInput(attrs={"accept": "application/pdf,.pdf"})
PDF_HELP = f"A PDF file of at most {settings.MAX_UPLOAD_BYTES // (1024 * 1024)} MiB that opens without a password."


YES_NO = [("yes", "Yes"), ("no", "No")]


def yes_no_field(label: str, help_text: str = "") -> forms.TypedChoiceField:
    """A yes/no question shown with neither answer chosen: None until the applicant answers it.
    The submission check, not the form, insists on an answer, so a section can be saved half done."""
    return forms.TypedChoiceField(
        label=label,
        help_text=help_text,
        required=False,
        choices=YES_NO,
        widget=forms.RadioSelect,
        coerce=lambda value: value == "yes",
        empty_value=None,
    )


def yes_no_initial(value: bool | None) -> str:
    return "" if value is None else "yes" if value else "no"


def form_add_domain_error(form: forms.Form, exc: DomainError, *, aliases: dict | None = None) -> None:
    """Put a service's refusal on the form: by field where the form has it, else above the form."""
    aliases = aliases or {}
    placed = False
    for name, errors in exc.fields.items():
        field = aliases.get(name, name)
        if field in form.fields:
            for error in errors:
                form.add_error(field, error)
            placed = True
    if not placed or not exc.fields:
        form.add_error(None, exc.message)


class ApplicationCreateForm(forms.Form):
    title = forms.CharField(
        label="Title of the application", max_length=300, help_text="A short name for the project; you can change it."
    )


class ProjectForm(forms.Form):
    title = forms.CharField(max_length=300)
    lay_summary = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 4}), help_text="For a general audience, about 200 words."
    )
    scientific_description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 6}))
    timeline = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), help_text="The project's milestones."
    )
    intended_use = forms.CharField(
        label="Intended use of the data",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What will be done with the images.",
    )
    purpose = forms.ChoiceField(
        label="Research purpose", choices=Purpose.choices, required=False, widget=forms.RadioSelect
    )
    purpose_conditions = forms.CharField(
        label="Conditions studied (ICD-10 codes)",
        required=False,
        max_length=500,
        help_text="For disease-specific research: ICD-10 chapter II codes separated by commas, e.g. C50, C61.",
    )
    methods_development = yes_no_field(
        "Does the project develop general methods or algorithms?",
        "Methods meant for use beyond this project's research question, e.g. a new segmentation algorithm.",
    )
    commercial_use = yes_no_field(
        "Will the data or results be used commercially?",
        "Any use by or for a company, or in a product or service that is sold.",
    )
    access_start = forms.DateField(label="Start of the access period", required=False, widget=DATE_WIDGET)
    access_months = forms.IntegerField(label="Length of the access period (months)", min_value=1)
    organisation = forms.CharField(max_length=200, required=False)
    organisation_country = forms.ChoiceField(
        label="Organisation's country", required=False, choices=partial(country_choices, blank="Not given")
    )
    organisation_not_for_profit = forms.BooleanField(
        label="The organisation is a not-for-profit institution", required=False
    )
    contact_phone = forms.CharField(label="Contact telephone", max_length=40, required=False)

    YES_NO_FIELDS = ["methods_development", "commercial_use"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        months = self.fields["access_months"]
        months.max_value = settings.ACCESS_MAX_MONTHS
        months.help_text = f"At most {settings.ACCESS_MAX_MONTHS} months."
        months.widget.attrs["max"] = settings.ACCESS_MAX_MONTHS
        months.validators.append(MaxValueValidator(settings.ACCESS_MAX_MONTHS))

    def clean_purpose_conditions(self) -> list[str]:
        raw = self.cleaned_data["purpose_conditions"]
        return [code.strip().upper() for code in raw.replace(";", ",").split(",") if code.strip()]

    @classmethod
    def initial_for(cls, application) -> dict:
        initial = {name: getattr(application, name) for name in cls.base_fields if name != "purpose_conditions"}
        initial["purpose_conditions"] = ", ".join(t.code for t in application.purpose_conditions.all())
        for name in cls.YES_NO_FIELDS:
            initial[name] = yes_no_initial(initial[name])
        return initial


class DatasetsForm(forms.Form):
    """Per requested dataset: a justification and the access mode, among those the dataset offers
    (any of the catalogue's when it states none)."""

    def __init__(self, *args, items, **kwargs):
        super().__init__(*args, **kwargs)
        self.items = list(items)
        every_mode = None
        for item in self.items:
            identifier = item.dataset.identifier
            self.fields[f"justification_{item.pk}"] = forms.CharField(
                label=f"Why you need {identifier}",
                required=False,
                initial=item.justification,
                widget=forms.Textarea(attrs={"rows": 3}),
            )
            offered = sorted(item.dataset.access_modes.all(), key=lambda term: term.code)
            if not offered:
                if every_mode is None:
                    every_mode = list(Term.objects.filter(vocabulary=Vocabulary.ACCESS_MODE).order_by("code"))
                offered = every_mode
            initial = item.access_mode.code if item.access_mode else None
            if initial is None and len(offered) == 1:
                initial = offered[0].code
            self.fields[f"access_mode_{item.pk}"] = forms.ChoiceField(
                label=f"How you will use {identifier}",
                choices=[(term.code, term.label) for term in offered],
                initial=initial,
                required=False,
                widget=forms.RadioSelect,
                help_text="The access modes this dataset is offered for.",
            )

    def requested(self) -> dict:
        return {
            item.dataset: {
                "justification": self.cleaned_data[f"justification_{item.pk}"],
                "access_mode": self.cleaned_data[f"access_mode_{item.pk}"] or None,
            }
            for item in self.items
        }


class TeamMemberForm(forms.Form):
    email = forms.EmailField(
        label="E-mail address",
        help_text="Someone without an account is invited by e-mail and joins when they sign up.",
    )
    role = forms.CharField(label="Role in the project", max_length=100, initial="Researcher")


class EthicsApprovalForm(forms.Form):
    committee_name = forms.CharField(label="Ethics committee", max_length=200, help_text="The committee or IRB.")
    reference = forms.CharField(label="Approval reference", max_length=100)
    approved_on = forms.DateField(label="Approved on", widget=DATE_WIDGET)
    expires_on = forms.DateField(label="Expires on", widget=DATE_WIDGET)
    datasets = forms.MultipleChoiceField(
        label="Datasets it covers", required=False, widget=forms.CheckboxSelectMultiple
    )
    document = forms.FileField(
        label="Approval document (PDF)",
        help_text=PDF_HELP,
        widget=PDF_WIDGET,
    )

    def __init__(self, *args, items, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["datasets"].choices = [(str(i.pk), f"{i.dataset.identifier}: {i.dataset.title}") for i in items]


class DpiaForm(forms.Form):
    data_categories = forms.MultipleChoiceField(
        label="Categories of data processed",
        required=False,
        choices=DataCategory.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    processing_description = forms.CharField(
        label="Processing",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Where and how the data will be processed and stored.",
    )
    residual_risk = forms.ChoiceField(
        label="Residual risk after mitigation",
        required=False,
        choices=[("", "Not assessed yet"), *ResidualRisk.choices],
    )
    dpo_name = forms.CharField(label="Data-protection officer consulted", max_length=200, required=False)
    dpo_consulted_on = forms.DateField(label="Consulted on", required=False, widget=DATE_WIDGET)
    conclusion = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    document = forms.FileField(
        label="DPIA document (PDF, optional)",
        required=False,
        help_text=PDF_HELP,
        widget=PDF_WIDGET,
    )

    FIELDS = DPIA_FIELDS  # the service's list: the form writes what the service accepts

    def data_for_service(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.FIELDS}


class DpiaRiskForm(forms.Form):
    description = forms.CharField(label="Risk", max_length=500)
    likelihood = forms.TypedChoiceField(coerce=int, choices=SCORE_CHOICES, help_text="1 remote, 2 possible, 3 likely.")
    severity = forms.TypedChoiceField(
        coerce=int, choices=SCORE_CHOICES, help_text="1 minimal, 2 significant, 3 severe."
    )
    mitigation = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class RepresentationsForm(forms.Form):
    """The institution and the signatory who accepts the statements for it (the applicant accepts nothing)."""

    institution_legal_name = forms.CharField(label="Institution's legal name", max_length=300, required=False)
    signatory_name = forms.CharField(label="Signatory's name", max_length=200, required=False)
    signatory_role = forms.CharField(label="Signatory's role", max_length=200, required=False)
    signatory_email = forms.EmailField(
        label="Signatory's e-mail address",
        required=False,
        help_text="The signatory accepts the statements from a link sent to this address, signed in with it.",
    )

    FIELDS = ["institution_legal_name", "signatory_name", "signatory_role", "signatory_email"]


class SignatureForm(forms.Form):
    """The signatory accepts statements with their password (a wrong one counts as a failed sign-in)."""

    statements = forms.MultipleChoiceField(
        label="Statements you accept for the institution",
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Tick the statements you accept."},
    )
    password = forms.CharField(
        label="Your password",
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="Your password signs your acceptance.",
    )
    covered = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, user, request, accepted=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.request = request
        self.fields["statements"].choices = [(s.value, s.label) for s in LegalStatement if s.value not in set(accepted)]

    def clean_password(self):
        from django.contrib.auth import authenticate

        password = self.cleaned_data["password"]
        # With the request, so django-axes counts a wrong password here as it does at sign-in.
        if authenticate(self.request, username=self.user.email, password=password) is None:
            raise forms.ValidationError("That is not your password.")
        return password


class AiForm(forms.Form):
    uses_ai = yes_no_field(
        "Does the project develop or use AI?",
        "Artificial intelligence of any kind: machine learning, deep learning, neural networks, including AI "
        "tools applied to the data. If yes, name the algorithms and answer every question below.",
    )
    ai_algorithms = forms.CharField(
        label="AI algorithms the project trains, validates or uses",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Only if the project develops or uses AI.",
    )
    ai_not_used_reason = forms.CharField(
        label="If no: why the project uses no AI",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Needed only when your title or descriptions speak of AI although the project neither develops "
        "nor uses it; one sentence is enough.",
    )
    mdr_applicable = forms.BooleanField(label="The work falls under the EU Medical Device Regulation", required=False)
    mdr_notes = forms.CharField(
        label="How the work complies with the Medical Device Regulation",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for key, question in AI_QUESTIONS:
            self.fields[f"ai_{key}"] = forms.ChoiceField(
                label=question, required=False, choices=AI_CHOICES, widget=forms.RadioSelect
            )

    @classmethod
    def initial_for(cls, application) -> dict:
        answers = application.ai_assessment or {}
        return {
            "uses_ai": yes_no_initial(application.uses_ai),
            "ai_algorithms": application.ai_algorithms,
            "ai_not_used_reason": application.ai_not_used_reason,
            "mdr_applicable": application.mdr_applicable,
            "mdr_notes": application.mdr_notes,
            **{f"ai_{key}": answers.get(key, "") for key, _ in AI_QUESTIONS},
        }

    def data_for_service(self) -> dict:
        data = self.cleaned_data
        return {
            "uses_ai": data["uses_ai"],
            "ai_algorithms": data["ai_algorithms"],
            "ai_not_used_reason": data["ai_not_used_reason"],
            "mdr_applicable": data["mdr_applicable"],
            "mdr_notes": data["mdr_notes"],
            "ai_assessment": {key: data[f"ai_{key}"] for key, _ in AI_QUESTIONS if data[f"ai_{key}"]},
        }


class MessageForm(forms.Form):
    body = forms.CharField(label="Your message", widget=forms.Textarea(attrs={"rows": 4}), max_length=10000)
    internal = forms.BooleanField(
        label="Internal note (only the Research Data Office and the committee see it)", required=False
    )

    def __init__(self, *args, reviewer: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not reviewer:
            del self.fields["internal"]


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        label="Why you withdraw the application",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Optional; the Research Data Office reads it.",
    )


class ChecklistForm(forms.Form):
    ethics_verified = forms.BooleanField(label="Ethics approvals verified", required=False)
    dpia_reviewed = forms.BooleanField(label="DPIA reviewed", required=False)
    representations_checked = forms.BooleanField(label="Legal representations checked", required=False)
    notes = forms.CharField(label="Notes on the check", required=False, widget=forms.Textarea(attrs={"rows": 3}))


class ReturnForm(forms.Form):
    """One comment box per section; the service insists on at least one."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for section in Section:
            self.fields[f"comment_{section.value}"] = forms.CharField(
                label=f"{section.label}: what must change",
                required=False,
                max_length=5000,
                # `form`: the box sits beside its section on the review page, outside the form element
                widget=forms.Textarea(attrs={"rows": 3, "form": "return-form"}),
            )

    def comments(self) -> dict[str, str]:
        return {section.value: self.cleaned_data[f"comment_{section.value}"] for section in Section}


class ForwardForm(forms.Form):
    committee = forms.ModelChoiceField(
        label="Access committee", queryset=Committee.objects.all(), empty_label="Choose a committee"
    )
