"""Forms of the agreement page. They only shape input: who may sign, over which hash and with which
name is decided by access_requests/services/agreements.py, whose errors come back onto these forms."""

from django import forms


class SignForm(forms.Form):
    """A party signs the version they were shown: its number and SHA-256 travel with the form, so a
    version superseded while the page was open is refused, not silently replaced."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    shown_sha256 = forms.CharField(widget=forms.HiddenInput, max_length=64)
    party = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    typed_name = forms.CharField(
        label="Your full name",
        max_length=200,
        help_text="Type your name as your account has it. It is recorded with your signature.",
    )
    confirm = forms.BooleanField(label="I have read this version and sign it")

    def __init__(self, *args, version=None, party=None, **kwargs):
        kwargs.setdefault("auto_id", "id_sign_%s")
        super().__init__(*args, **kwargs)
        if version is not None and party is not None:
            self.fields["confirm"].label = f"I have read version {version.number} and sign it on behalf of {party.name}"
            self.fields["typed_name"].widget.attrs["autocomplete"] = "name"


class ScanForm(forms.Form):
    party = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    scan = forms.FileField(
        label="Countersigned copy (PDF)",
        help_text="The current version, printed, signed on paper and scanned as one PDF. "
        "It counts once the Research Data Office has checked it.",
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "id_scan_%s")
        super().__init__(*args, **kwargs)
        self.fields["scan"].widget.attrs["accept"] = "application/pdf"


class ReviseForm(forms.Form):
    reason = forms.CharField(
        label="Why the agreement changes",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="A new version is made from what the application and the decision say now. Every "
        "signature on the current version is voided, and those who signed are told this reason.",
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "id_revise_%s")
        super().__init__(*args, **kwargs)
