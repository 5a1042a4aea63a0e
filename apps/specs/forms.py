from django import forms


class UploadForm(forms.Form):
    file = forms.FileField(
        label="OpenAPI document (JSON or YAML)",
        widget=forms.ClearableFileInput(attrs={"class": "form-control", "accept": ".json,.yaml,.yml"}),
    )


class PasteForm(forms.Form):
    document = forms.CharField(
        label="Paste the document",
        widget=forms.Textarea(
            attrs={"class": "form-control font-monospace", "rows": 14, "placeholder": "openapi: 3.1.0\ninfo: ..."}
        ),
    )


class UrlForm(forms.Form):
    url = forms.URLField(
        label="Document URL",
        max_length=2000,
        assume_scheme="https",
        widget=forms.URLInput(attrs={"class": "form-control", "placeholder": "https://api.example.com/openapi.json"}),
    )
