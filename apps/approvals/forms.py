"""Forms of the approval pages (decision, webhook settings)."""

from django import forms

_CHECK = forms.CheckboxInput(attrs={"class": "form-check-input"})


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    comment = forms.CharField(required=False, max_length=4000, widget=forms.Textarea(attrs={
        "rows": 3, "class": "form-control", "placeholder": "Comment (required when rejecting)"}))


class WebhookSettingsForm(forms.Form):
    url = forms.URLField(required=False, max_length=500, assume_scheme="https", label="Webhook URL",
                         widget=forms.URLInput(attrs={"class": "form-control",
                                                      "placeholder": "https://hooks.example.com/mcpforge"}))
    secret = forms.CharField(required=False, max_length=200, label="Signing secret", strip=True,
                             widget=forms.PasswordInput(attrs={"class": "form-control", "autocomplete": "off",
                                                               "placeholder": "Leave blank to keep the current one"}))
    generate_secret = forms.BooleanField(required=False, label="Generate a new random secret", widget=_CHECK)
    enabled = forms.BooleanField(required=False, initial=True, label="Send webhooks", widget=_CHECK)
    email_reviewers = forms.BooleanField(required=False, initial=True, widget=_CHECK,
                                         label="Email eligible reviewers when a request is queued")
