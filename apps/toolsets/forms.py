"""Forms of the toolset pages; choices come from the project's current tools."""

from __future__ import annotations

from django import forms

from apps.inventory.listing import MODES
from apps.inventory.selectors import current_tools

TEXT = {"class": "form-control"}
SELECT = {"class": "form-select"}
COMPACT_CHOICES = [("", "Default"), ("on", "Compact"), ("off", "Stored definitions")]
TOOLSET_MODE_CHOICES = [("", "As the environment"), *((m, m) for m in MODES)]


def compact_value(raw: str) -> bool | None:
    return {"on": True, "off": False}.get(raw)


def compact_initial(value: bool | None) -> str:
    return "" if value is None else "on" if value else "off"


class ToolsetForm(forms.Form):
    slug = forms.CharField(max_length=60, widget=forms.TextInput({**TEXT, "placeholder": "support-readonly"}),
                           help_text="Part of the endpoint URL; cannot be changed later.")
    name = forms.CharField(max_length=120, widget=forms.TextInput(TEXT))
    description = forms.CharField(required=False, max_length=2000, widget=forms.Textarea({**TEXT, "rows": 2}))
    tool_names = forms.MultipleChoiceField(label="Tools", widget=forms.CheckboxSelectMultiple)
    compact_tools = forms.ChoiceField(required=False, choices=COMPACT_CHOICES, label="Definitions",
                                      widget=forms.Select(SELECT))
    listing_mode = forms.ChoiceField(required=False, choices=TOOLSET_MODE_CHOICES, label="Listing",
                                     widget=forms.Select(SELECT))

    def __init__(self, *args, project, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tool_names"].choices = [
            (name, name) for name in current_tools(project).order_by("position", "name").values_list("name", flat=True)]
        if editing:
            del self.fields["slug"]


class ListingForm(forms.Form):
    compact_tools = forms.ChoiceField(required=False, choices=COMPACT_CHOICES, label="Definitions",
                                      widget=forms.Select({**SELECT, "class": "form-select form-select-sm"}))
    listing_mode = forms.ChoiceField(choices=[(m, m) for m in MODES], label="Listing",
                                     widget=forms.Select({**SELECT, "class": "form-select form-select-sm"}))
