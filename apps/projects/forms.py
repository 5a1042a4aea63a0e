from django import forms


class ProjectForm(forms.Form):
    name = forms.CharField(max_length=120, widget=forms.TextInput(attrs={"class": "form-control", "autofocus": True}))
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"class": "form-control", "rows": 3}))


class EnvironmentForm(forms.Form):
    name = forms.CharField(
        max_length=60, widget=forms.TextInput(attrs={"class": "form-control", "placeholder": "e.g. sandbox"})
    )


class ProjectFactsForm(forms.Form):
    """What the product cannot infer; shown in the security report."""

    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"class": "form-control", "rows": 2}))
    owner_contact = forms.CharField(
        required=False,
        max_length=200,
        label="Owner",
        widget=forms.TextInput(attrs={"class": "form-control", "placeholder": "team or person accountable"}),
    )
    rollback_procedure = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"class": "form-control", "rows": 3})
    )
    incident_response_plan = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"class": "form-control", "rows": 3})
    )
