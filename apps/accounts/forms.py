from django import forms

from .models import Membership, SignInDomain


class OrganizationForm(forms.Form):
    name = forms.CharField(max_length=120, widget=forms.TextInput(attrs={"class": "form-control", "autofocus": True}))


class InviteForm(forms.Form):
    email = forms.EmailField(
        widget=forms.EmailInput(attrs={"class": "form-control", "placeholder": "name@company.com"})
    )
    role = forms.ChoiceField(
        choices=Membership.Role.choices,
        initial=Membership.Role.MEMBER,
        widget=forms.Select(attrs={"class": "form-select"}),
    )


class TeamForm(forms.Form):
    name = forms.CharField(max_length=80, widget=forms.TextInput(attrs={"class": "form-control"}))
    description = forms.CharField(
        max_length=300, required=False, widget=forms.TextInput(attrs={"class": "form-control"})
    )


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=80, widget=forms.TextInput(attrs={"class": "form-control", "placeholder": "e.g. Claude Desktop"})
    )
    expires_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=3650,
        widget=forms.NumberInput(attrs={"class": "form-control", "placeholder": "never"}),
    )


class SignInDomainsForm(forms.Form):
    domains = forms.CharField(
        required=False,
        max_length=6000,
        widget=forms.Textarea(attrs={"class": "form-control", "rows": 3, "placeholder": "acme.com"}),
        help_text="One per line or comma-separated. Empty: off.",
    )
    role = forms.ChoiceField(
        choices=SignInDomain.JoinRole.choices,
        initial=SignInDomain.JoinRole.MEMBER,
        widget=forms.Select(attrs={"class": "form-select"}),
    )
