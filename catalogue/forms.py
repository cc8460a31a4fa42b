"""Forms of the steward pages. They only shape input: every rule lives in catalogue.services."""

import copy

from django import forms
from django.db import models
from django.forms.models import fields_for_model

from catalogue.models import Dataset, Term, Vocabulary
from catalogue.services import DATA_USE_PARAMETERS, SCALAR_FIELDS, TERM_FIELDS

# ICD-10 chapter II blocks, to group the long condition list.
CONDITION_BLOCKS = (
    ("C00", "C14", "Lip, oral cavity and pharynx"),
    ("C15", "C26", "Digestive organs"),
    ("C30", "C39", "Respiratory and intrathoracic organs"),
    ("C40", "C41", "Bone and articular cartilage"),
    ("C43", "C44", "Skin"),
    ("C45", "C49", "Mesothelial and soft tissue"),
    ("C50", "C50", "Breast"),
    ("C51", "C58", "Female genital organs"),
    ("C60", "C63", "Male genital organs"),
    ("C64", "C68", "Urinary tract"),
    ("C69", "C72", "Eye, brain and central nervous system"),
    ("C73", "C75", "Thyroid and other endocrine glands"),
    ("C76", "C80", "Ill-defined, secondary and unspecified sites"),
    ("C81", "C96", "Lymphoid, haematopoietic and related tissue"),
    ("C97", "C97", "Independent multiple sites"),
    ("D00", "D09", "In situ neoplasms"),
    ("D10", "D36", "Benign neoplasms"),
    ("D37", "D48", "Neoplasms of uncertain or unknown behaviour"),
)
IMAGE_MODALITIES = {"MG", "MR", "CT", "PT", "US", "DX", "CR", "NM", "XA", "RF", "SM", "OPT", "IO", "PX", "BDUS"}
COMMON_BODY_PARTS = {
    "BREAST", "CHEST", "LUNG", "PROSTATE", "BRAIN", "HEAD", "HEADNECK", "LIVER", "ABDOMEN", "PELVIS",
    "ABDOMENPELVIS", "CHESTABDPELVIS", "KIDNEY", "COLON", "RECTUM", "PANCREAS", "WHOLEBODY",
}  # fmt: skip


def _terms(vocabulary: str) -> list[Term]:
    return list(Term.objects.filter(vocabulary=vocabulary).order_by("code"))


def condition_choices() -> list:
    groups = []
    terms = _terms(Vocabulary.CONDITION)
    for first, last, label in CONDITION_BLOCKS:
        members = [(t.code, f"{t.code} {t.label}") for t in terms if first <= t.code <= last]
        if members:
            groups.append((f"{first}–{last} {label}", members))
    return groups


def modality_choices() -> list:
    terms = _terms(Vocabulary.MODALITY)
    images = [(t.code, f"{t.label} ({t.code})") for t in terms if t.code in IMAGE_MODALITIES]
    others = [(t.code, f"{t.label} ({t.code})") for t in terms if t.code not in IMAGE_MODALITIES]
    return [("Image acquisition", images), ("Derived objects, reports and others", others)]


def body_part_choices() -> list:
    terms = sorted(_terms(Vocabulary.BODY_PART), key=lambda t: t.label)
    common = [(t.code, t.label) for t in terms if t.code in COMMON_BODY_PARTS]
    others = [(t.code, t.label) for t in terms if t.code not in COMMON_BODY_PARTS]
    return [("Common in cancer imaging", common), ("Other body parts", others)]


def flat_choices(vocabulary: str) -> list[tuple[str, str]]:
    return [(t.code, t.label) for t in _terms(vocabulary)]


def data_use_choices() -> list[tuple[str, str]]:
    return [(t.code, f"{t.label} ({t.external_code})" if t.external_code else t.label) for t in _terms("data_use")]


def _split(text: str, separator: str | None) -> list[str]:
    parts = text.split(separator) if separator else text.splitlines()
    return [part.strip() for part in parts if part.strip()]


def _formfield(model_field, **kwargs):
    if isinstance(model_field, models.URLField):
        kwargs["assume_scheme"] = "https"
    return model_field.formfield(**kwargs)


_MODEL_FIELDS = fields_for_model(
    Dataset,
    fields=SCALAR_FIELDS,
    formfield_callback=_formfield,
    widgets={
        "description": forms.Textarea(attrs={"rows": 6}),
        "provenance": forms.Textarea(attrs={"rows": 3}),
        "acquisition_start": forms.DateInput(attrs={"type": "date"}),
        "acquisition_end": forms.DateInput(attrs={"type": "date"}),
        "counts_note": forms.Textarea(attrs={"rows": 3}),
    },
    labels={
        "tier": "Federation tier",
        "subjects_count": "Number of subjects",
        "studies_count": "Number of imaging studies",
        "size_bytes": "Total size in bytes",
        "licence": "Licence",
        "source_uid_root": "UID root of the source",
        "pseudonym_pattern": "Pattern of the subjects' pseudonyms",
        "counts_note": "Note on the figures",
    },
)


class _Group(forms.Form):
    """One fieldset of the dataset form; it takes its scalar fields from the model."""

    legend = ""
    intro = ""  # a sentence under the legend, when the group needs one
    model_fields: tuple[str, ...] = ()
    # long lists of codes: the page adds a filter box to these (catalogue/static/catalogue/option-filter.js)
    filterable: frozenset[str] = frozenset()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        model_fields = {name: copy.deepcopy(_MODEL_FIELDS[name]) for name in self.model_fields}
        self.fields = {**model_fields, **self.fields}


def _long_list(label: str) -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        label=label,
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 10}),
        help_text="Hold Ctrl (or Cmd) to choose more than one. Type in the filter box to narrow the list.",
    )


class AboutForm(_Group):
    legend = "Description"
    model_fields = ("identifier", "title", "description", "version", "dataset_type")
    keywords = forms.CharField(
        required=False, help_text="Separate with commas, e.g. mammography, screening, BI-RADS.", max_length=5000
    )

    def __init__(self, *args, holders=None, identifier_locked=False, **kwargs):
        super().__init__(*args, **kwargs)
        if holders is not None:
            self.fields = {
                "holder": forms.ChoiceField(label="Data holder", choices=[(h.slug, h.name) for h in holders]),
                **self.fields,
            }
        if identifier_locked:
            self.fields["identifier"].disabled = True
            self.fields["identifier"].help_text = "Fixed: the dataset has been published under this identifier."


class ImagingForm(_Group):
    legend = "Coverage: subjects and imaging"
    filterable = frozenset({"conditions", "modalities", "body_parts"})
    model_fields = ()  # every scalar field the other groups leave: counts, ages, the acquisition period

    conditions = _long_list("Cancer conditions (ICD-10)")
    modalities = forms.MultipleChoiceField(
        label="Imaging modalities (DICOM)", required=False, widget=forms.CheckboxSelectMultiple
    )
    body_parts = _long_list("Body parts (DICOM)")
    manufacturers = forms.CharField(
        label="Equipment manufacturers",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line, as written in DICOM (0008,0070).",
    )
    birth_sexes = forms.MultipleChoiceField(
        label="Birth sex of the subjects", required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["conditions"].choices = condition_choices()
        self.fields["modalities"].choices = modality_choices()
        self.fields["body_parts"].choices = body_part_choices()
        self.fields["birth_sexes"].choices = flat_choices(Vocabulary.BIRTH_SEX)


class ProvenanceForm(_Group):
    legend = "Provenance and de-identification"
    intro = (
        "The anonymisation profile and the day it was verified are set by the portal's check of every "
        "registered DICOM file against DICOM PS3.15 Annex E; say here what the check needs to know."
    )
    model_fields = ("collection_method", "provenance", "source_uid_root", "pseudonym_pattern")


class ContactForm(_Group):
    legend = "Contact and further information"
    intro = "The catalogue names your data holder's public contact point with the dataset."
    model_fields = ("landing_page",)


_ACCESS_MODEL_FIELDS = ("access_rights", "tier", "licence")
ImagingForm.model_fields = tuple(
    name
    for name in SCALAR_FIELDS
    if name
    not in AboutForm.model_fields + ProvenanceForm.model_fields + ContactForm.model_fields + _ACCESS_MODEL_FIELDS
)

# The parameter field of each data-use condition that needs one: (form field, parameter, how to read it)
PARAMETER_FIELDS = {
    "GEOGRAPHICAL_RESTRICTION": ("use_countries", "countries", lambda text: [c.upper() for c in _split(text, ",")]),
    "DISEASE_SPECIFIC_RESEARCH": ("use_conditions", "conditions", lambda text: [c.upper() for c in _split(text, ",")]),
    "TIME_LIMIT_ON_USE": ("use_months", "months", lambda value: value),
    "INSTITUTION_SPECIFIC_RESTRICTION": ("use_institutions", "institutions", lambda text: _split(text, None)),
}
if set(PARAMETER_FIELDS) != set(DATA_USE_PARAMETERS):  # an import-time check that python -O must not drop
    raise RuntimeError("PARAMETER_FIELDS and DATA_USE_PARAMETERS name different data-use conditions")


class AccessForm(_Group):
    legend = "Access and conditions of use"
    model_fields = _ACCESS_MODEL_FIELDS
    filterable = frozenset({"data_use"})
    access_modes = forms.MultipleChoiceField(label="Access modes", required=False, widget=forms.CheckboxSelectMultiple)
    data_use = forms.MultipleChoiceField(
        label="Data-use conditions (GA4GH DUO)", required=False, widget=forms.CheckboxSelectMultiple
    )
    use_countries = forms.CharField(
        label="Countries (geographical restriction)",
        required=False,
        help_text="ISO country codes separated by commas, e.g. LV, EE, LT.",
    )
    use_conditions = forms.CharField(
        label="Conditions (disease-specific research)",
        required=False,
        help_text="ICD-10 codes separated by commas, e.g. C50, D05.",
    )
    use_months = forms.IntegerField(
        label="Months (time limit on use)", required=False, min_value=1, help_text="How long a grant may last."
    )
    use_institutions = forms.CharField(
        label="Institutions (institution-specific restriction)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One per line.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["access_modes"].choices = flat_choices(Vocabulary.ACCESS_MODE)
        self.fields["data_use"].choices = data_use_choices()

    def clean(self):
        data = super().clean()
        chosen = set(data.get("data_use") or ())
        for code, (name, _param, _read) in PARAMETER_FIELDS.items():
            given = data.get(name) not in (None, "")
            label = dict(self.fields["data_use"].choices).get(code, code)
            if code in chosen and not given:
                self.add_error(name, f"Needed for “{label}”.")
            elif given and code not in chosen:
                self.add_error(name, f"Tick “{label}” too, or leave this empty.")
        return data

    def data_use_items(self) -> list[dict]:
        items = []
        for code in self.cleaned_data["data_use"]:
            parameters = {}
            if code in PARAMETER_FIELDS:
                name, param, read = PARAMETER_FIELDS[code]
                parameters[param] = read(self.cleaned_data[name])
            items.append({"code": code, "parameters": parameters})
        return items


INDEXED_HELP = "From the DICOM index of the registered files; explain a difference in the note on the figures."


class DatasetForm:
    """The dataset page's form: a fieldset per group of fields, each a Form, bound to the same data."""

    group_classes = (AboutForm, ImagingForm, ProvenanceForm, AccessForm, ContactForm)

    def __init__(self, data=None, *, initial=None, holders=None, identifier_locked=False, indexed=()):
        self.identifier_locked = identifier_locked
        self.groups = []
        for cls in self.group_classes:
            kwargs = {"holders": holders, "identifier_locked": identifier_locked} if cls is AboutForm else {}
            group = cls(data, initial=initial, **kwargs)
            for name in set(indexed) & set(group.fields):
                # set from the DICOM index (catalogue.ingestion.dataset_index_apply): shown, not typed
                group.fields[name].disabled = True
                group.fields[name].help_text = INDEXED_HELP
            self.groups.append(group)
        self.non_field_errors: list[str] = []

    def is_valid(self) -> bool:
        return all([group.is_valid() for group in self.groups])  # every group, so every error shows

    def add_error(self, name: str, message: str) -> None:
        for group in self.groups:
            if name in group.fields:
                group.add_error(name, message)
                return
        self.non_field_errors.append(f"{name}: {message}" if name != "__all__" else message)

    @property
    def cleaned_data(self) -> dict:
        merged = {}
        for group in self.groups:
            merged.update(group.cleaned_data)
        return merged

    def service_data(self) -> dict:
        """The input for dataset_create / dataset_update."""
        cleaned = self.cleaned_data
        data = {name: cleaned[name] for name in SCALAR_FIELDS if name in cleaned}
        if self.identifier_locked:
            data.pop("identifier", None)
        data.update({name: list(cleaned[name]) for name in TERM_FIELDS})
        data["manufacturers"] = _split(cleaned["manufacturers"], None)
        data["keywords"] = _split(cleaned["keywords"], ",")
        data["data_use"] = next(g for g in self.groups if isinstance(g, AccessForm)).data_use_items()
        return data

    def add_service_errors(self, fields: dict, message: str) -> None:
        """Show a service's field errors at the fields; a data-use parameter error at its own field."""
        for name, messages in (fields or {"__all__": [message]}).items():
            for text in messages:
                self.add_error(_field_for(name, text), text)


def _field_for(name: str, message: str) -> str:
    if name == "data_use":
        for code, (field_name, _param, _read) in PARAMETER_FIELDS.items():
            if message.startswith(code):
                return field_name
    return name


def initial_from(snapshot: dict) -> dict:
    """Form initial values from `catalogue.services.dataset_snapshot`."""
    initial = dict(snapshot)
    initial["manufacturers"] = "\n".join(snapshot["manufacturers"])
    initial["keywords"] = ", ".join(snapshot["keywords"])
    initial["data_use"] = [item["code"] for item in snapshot["data_use"]]
    for item in snapshot["data_use"]:
        if item["code"] in PARAMETER_FIELDS:
            name, param, _read = PARAMETER_FIELDS[item["code"]]
            value = item["parameters"].get(param)
            joiner = "\n" if name == "use_institutions" else ", "
            initial[name] = joiner.join(value) if isinstance(value, list) else value
    return initial


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        label="Why is the dataset withdrawn?",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="Recorded in the audit log. Applicants with open applications see that the dataset was withdrawn.",
    )


class RegisterFilesForm(forms.Form):
    folder = forms.CharField(
        label="Folder in your data holder's storage area",
        max_length=1000,
        help_text="Relative to your data holder's storage area, e.g. LV-RECUH-MG-2024. "
        "Every file under it is registered with its size and SHA-256.",
    )


class RemoveFileForm(forms.Form):
    path = forms.CharField(
        label="Path of the file",
        max_length=1000,
        help_text="As the dataset's file list shows it, starting with the storage area's name.",
    )
    reason = forms.CharField(
        label="Why is the file removed?",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="Recorded in the audit log; once the dataset is published it is also shown with the change on "
        "the dataset's page and sent to the applicants.",
    )
    # the content the steward saw when opening the page: a file changed since is not removed unseen
    sha256 = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)


class ExcludeFilesForm(forms.Form):
    """Exclude registered files that fail the de-identification check: all of them, or those ticked."""

    reason = forms.CharField(
        label="Why are the files excluded?",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="Recorded in the audit log; once the dataset is published it is also shown with the change on "
        "the dataset's page.",
    )
