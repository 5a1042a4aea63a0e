"""Forms of the governance pages. Choices come from the project (tools, environments, teams,
members); the policy editor's repeating rows (steps, condition tiers) are read by
``policy_rows_from_post`` because their number varies."""

from __future__ import annotations

import json
from datetime import timedelta

from django import forms

from apps.accounts.models import Membership, Team
from apps.accounts.roles import Role
from apps.inventory.selectors import current_tools

from . import conditions
from .models import ApprovalPolicy, Grant

CATEGORY_CHOICES = [("read_only", "Read-only"), ("side_effect", "Side-effect"), ("critical", "Critical"),
                    ("administrative", "Administrative"), ("billing", "Billing")]
ROLE_CHOICES = [(r.value, r.value.capitalize()) for r in Role]
SELECT = {"class": "form-select"}
TEXT = {"class": "form-control"}
CHECK = {"class": "form-check-input"}


def _env_choices(project, all_label: str):
    return [("", all_label)] + [(e.slug, e.name) for e in project.environments.all()]


def _tool_choices(project):
    return [(t.operation_key, f"{t.name} — {t.operation_key}") for t in current_tools(project).only(
        "name", "operation_key")]


class TargetFields(forms.Form):
    """Which tools: all, named ones, categories, tags (shared by grants and policies)."""

    all_tools = forms.BooleanField(required=False, label="Every tool", widget=forms.CheckboxInput(CHECK))
    operation_keys = forms.MultipleChoiceField(required=False, label="Tools",
                                               widget=forms.SelectMultiple(attrs={**SELECT, "size": 6}))
    categories = forms.MultipleChoiceField(required=False, choices=CATEGORY_CHOICES,
                                           widget=forms.CheckboxSelectMultiple(CHECK))
    tags = forms.CharField(required=False, label="Tags", widget=forms.TextInput(
        attrs={**TEXT, "placeholder": "comma-separated, e.g. admin, refunds"}))

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project
        self.fields["operation_keys"].choices = _tool_choices(project)

    def clean_tags(self):
        return [t.strip() for t in self.cleaned_data["tags"].split(",") if t.strip()]


class GrantForm(TargetFields):
    effect = forms.ChoiceField(choices=Grant.Effect.choices, widget=forms.Select(attrs=SELECT))
    principal_kind = forms.ChoiceField(label="Who", choices=Grant.PrincipalKind.choices,
                                       widget=forms.Select(attrs={**SELECT, "data-testid": "grant-principal-kind"}))
    role = forms.ChoiceField(required=False, choices=[("", "—")] + ROLE_CHOICES, widget=forms.Select(attrs=SELECT))
    team = forms.ChoiceField(required=False, widget=forms.Select(attrs={**SELECT, "data-testid": "grant-team"}))
    user = forms.ChoiceField(required=False, widget=forms.Select(attrs=SELECT))
    environment = forms.ChoiceField(required=False, widget=forms.Select(
        attrs={**SELECT, "data-testid": "grant-environment"}))
    note = forms.CharField(required=False, max_length=300, widget=forms.TextInput(
        attrs={**TEXT, "placeholder": "why (optional)"}))

    field_order = ["effect", "principal_kind", "role", "team", "user", "environment", "all_tools", "operation_keys",
                   "categories", "tags", "note"]

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, project=project, **kwargs)
        org = project.organization
        self.fields["team"].choices = [("", "—")] + [(t.slug, t.name) for t in Team.objects.filter(organization=org)]
        self.fields["user"].choices = [("", "—")] + [
            (str(m.user_id), m.user.email) for m in
            Membership.objects.filter(organization=org).select_related("user").order_by("user__email")]
        self.fields["environment"].choices = _env_choices(project, "Every environment")


class PolicyForm(TargetFields):
    name = forms.CharField(max_length=120, widget=forms.TextInput(attrs={**TEXT, "placeholder": "e.g. Large refunds"}))
    environment = forms.ChoiceField(required=False, widget=forms.Select(attrs=SELECT))
    kind = forms.ChoiceField(choices=ApprovalPolicy.Kind.choices, widget=forms.RadioSelect(CHECK))
    approvals_required = forms.IntegerField(min_value=2, max_value=conditions.MAX_APPROVALS, required=False,
                                            initial=2, widget=forms.NumberInput(attrs={**TEXT, "style": "width:6rem"}))
    order = forms.ChoiceField(choices=ApprovalPolicy.Order.choices, widget=forms.Select(attrs=SELECT))
    expires_hours = forms.IntegerField(min_value=1, max_value=720, initial=24, label="Requests expire after (hours)",
                                       widget=forms.NumberInput(attrs={**TEXT, "style": "width:7rem"}))
    justification_required = forms.BooleanField(required=False, label="The agent must give a justification",
                                                widget=forms.CheckboxInput(CHECK))

    field_order = ["name", "environment", "kind", "approvals_required", "order", "expires_hours",
                   "justification_required", "all_tools", "operation_keys", "categories", "tags"]

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, project=project, **kwargs)
        self.fields["environment"].choices = _env_choices(project, "Every environment")

    @staticmethod
    def initial_for(policy: ApprovalPolicy) -> dict:
        return {
            "name": policy.name, "environment": policy.environment.slug if policy.environment_id else "",
            "kind": policy.kind, "approvals_required": policy.approvals_required if policy.kind == "multi" else 2,
            "order": policy.order, "expires_hours": int(policy.expires_after.total_seconds() // 3600) or 1,
            "justification_required": policy.justification_required, "all_tools": policy.all_tools,
            "operation_keys": policy.operation_keys, "categories": policy.categories,
            "tags": ", ".join(policy.tags),
        }

    def expires_after(self) -> timedelta:
        return timedelta(hours=self.cleaned_data["expires_hours"])


def parse_value(text: str):
    """A condition value as typed: JSON when it parses (10000, true, ["EUR","USD"]), else the text."""
    text = (text or "").strip()
    if not text:
        return ""
    try:
        return json.loads(text)
    except ValueError:
        return text


def policy_rows_from_post(data) -> tuple[list[dict], list[dict]]:
    """(steps, conditional tiers) from the editor's numbered rows; blank rows are skipped.

    Tier row i: ``tier-i-approvals``, ``tier-i-order`` and rules ``tier-i-rule-j-field/operator/value``
    (ANDed; the editor offers two per row, more are kept when a policy written through the API has them).
    """
    steps = []
    for i in range(conditions.MAX_APPROVALS):
        kind, value = data.get(f"step-{i}-kind", ""), data.get(f"step-{i}-value", "").strip()
        if kind and value:
            steps.append({"kind": kind, "value": value})
    tiers = []
    for i in range(conditions.MAX_TIERS):
        rules = []
        for j in range(conditions.MAX_RULES_PER_TIER):
            field = data.get(f"tier-{i}-rule-{j}-field", "").strip()
            if not field:
                continue
            operator = data.get(f"tier-{i}-rule-{j}-operator", "")
            rule = {"field": field, "operator": operator}
            raw = data.get(f"tier-{i}-rule-{j}-value", "")
            if operator != "exists" or raw.strip():
                rule["value"] = parse_value(raw)
            rules.append(rule)
        if not rules:
            continue
        approvals_text = data.get(f"tier-{i}-approvals", "").strip()
        try:
            approvals = int(approvals_text)
        except ValueError:
            approvals = -1  # reported by validation as "approvals must be a whole number"
        tiers.append({"when": rules, "approvals": approvals, "order": data.get(f"tier-{i}-order", "any") or "any"})
    return steps, tiers


def rows_for_editor(steps: list[dict], tiers: list[dict], blank: int = 2) -> tuple[list[dict], list[dict]]:
    """Rows the editor renders: the stored ones plus ``blank`` empty ones to add more."""
    step_rows = [dict(s) for s in steps] + [{"kind": "", "value": ""} for _ in range(blank)]
    tier_rows = []
    for tier in [*tiers, *({"when": [], "approvals": "", "order": "any"} for _ in range(blank))]:
        rules = [dict(r) for r in tier.get("when", [])]  # all of them: saving must not drop API-made rules
        for rule in rules:
            value = rule.get("value", "")
            rule["value_text"] = value if isinstance(value, str) else json.dumps(value)
        while len(rules) < 2:
            rules.append({"field": "", "operator": ">", "value_text": ""})
        tier_rows.append({"rules": rules, "approvals": tier.get("approvals", ""), "order": tier.get("order", "any")})
    return step_rows, tier_rows


class SimulatorForm(forms.Form):
    user = forms.ChoiceField(widget=forms.Select(attrs={**SELECT, "data-testid": "sim-user"}))
    tool = forms.ChoiceField(widget=forms.Select(attrs={**SELECT, "data-testid": "sim-tool"}))
    environment = forms.ChoiceField(widget=forms.Select(attrs={**SELECT, "data-testid": "sim-environment"}))
    arguments = forms.CharField(required=False, label="Call arguments (JSON, optional)", widget=forms.Textarea(
        attrs={**TEXT, "rows": 3, "placeholder": '{"amount": 25000}', "class": "form-control font-monospace"}))

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        org = project.organization
        self.fields["user"].choices = [
            (str(m.user_id), f"{m.user.email} ({m.role})") for m in
            Membership.objects.filter(organization=org).select_related("user").order_by("user__email")]
        self.fields["tool"].choices = [(t.name, f"{t.name} — {t.operation_key}") for t in
                                       current_tools(project).only("name", "operation_key")]
        self.fields["environment"].choices = _env_choices(project, "")[1:]

    def clean_arguments(self):
        text = self.cleaned_data["arguments"].strip()
        if not text:
            return {}
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}") from None
        if not isinstance(value, dict):
            raise forms.ValidationError("Arguments must be a JSON object.")
        return value
