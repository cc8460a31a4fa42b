"""The federated search form: the criteria of a count query, as a researcher fills them in."""

from django import forms

from catalogue.forms import body_part_choices, condition_choices, modality_choices
from federation.counts import SEXES


class FederatedSearchForm(forms.Form):
    condition = forms.MultipleChoiceField(label="Cancer condition (ICD-10)", required=False)
    modality = forms.MultipleChoiceField(label="Imaging modality", required=False)
    body_part = forms.MultipleChoiceField(label="Body part", required=False)
    sex = forms.MultipleChoiceField(
        label="Sex of the subjects",
        required=False,
        choices=sorted(SEXES.items()),
        widget=forms.CheckboxSelectMultiple,
    )
    age_min = forms.IntegerField(label="Age at the study, from", required=False, min_value=0, max_value=130)
    age_max = forms.IntegerField(label="to (years)", required=False, min_value=0, max_value=130)
    year_min = forms.IntegerField(label="Study year, from", required=False, min_value=1900, max_value=2200)
    year_max = forms.IntegerField(label="to", required=False, min_value=1900, max_value=2200)
    manufacturer = forms.CharField(
        label="Equipment manufacturer",
        required=False,
        max_length=300,
        help_text="As DICOM writes it (0008,0070); several separated by commas.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["condition"].choices = condition_choices()
        self.fields["modality"].choices = modality_choices()
        self.fields["body_part"].choices = body_part_choices()

    def clean(self):
        data = super().clean()
        for low, high in (("age_min", "age_max"), ("year_min", "year_max")):
            if data.get(low) is not None and data.get(high) is not None and data[low] > data[high]:
                self.add_error(high, f"Must be at least {data[low]}.")
        return data

    def criteria(self) -> dict:
        """The count query's criteria (catalogue.federation.counts.CountCriteriaSerializer's shape)."""
        data = self.cleaned_data
        criteria = {name: data[name] for name in ("condition", "modality", "body_part", "sex") if data.get(name)}
        criteria |= {
            name: data[name] for name in ("age_min", "age_max", "year_min", "year_max") if data.get(name) is not None
        }
        makers = [name.strip() for name in (data.get("manufacturer") or "").split(",") if name.strip()]
        if makers:
            criteria["manufacturer"] = makers[:20]
        return criteria


class NodeForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200, help_text="As the partner calls itself.")
    base_url = forms.URLField(
        label="Address", max_length=200, help_text="The partner portal's address, e.g. https://imaging.hospital.example"
    )
    public_key = forms.CharField(
        label="Public key",
        max_length=64,
        help_text="The Ed25519 public key its /federation/node.json shows; confirm it with the partner's "
        "Research Data Office by another channel before you list it.",
    )
