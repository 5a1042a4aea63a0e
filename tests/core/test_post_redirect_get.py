"""Issue 18, item 7: every browser form that creates something answers its POST with a redirect,
so the page the user then sees is a GET: reloading it creates nothing a second time.

One row per create form in the product (the list is the inventory of create forms):
POST the form once, follow the redirect the way a browser does, reload that page, and count the
rows the form writes.
"""

from __future__ import annotations

import pytest

from apps.accounts.models import ApiToken, Invitation, Organization, Team
from apps.approvals.models import WebhookSettings
from apps.credentials.models import CredentialVersion
from apps.governance.models import ApprovalPolicy, Grant
from apps.projects.models import Environment, Project
from apps.reports.models import Report
from apps.risk.models import RiskOverride
from apps.specs.models import SpecVersion
from tests.conftest import SPECS_DIR
from tests.factories import import_spec, make_project

pytestmark = pytest.mark.django_db

P = "/o/acme/p/petstore"


def _team_members(team_slug):
    return lambda: Team.objects.get(slug=team_slug).members.count()


def forms(people, project):
    """(name, user, url, data, rows written): every create form of the browser UI."""
    team = Team.objects.create(organization=people.org, name="Platform", slug="platform")
    member = people.org.memberships.get(user=people.member)
    return [
        ("organization", people.owner, "/orgs/new/", {"name": "Beta"}, Organization.objects.count),
        ("project", people.owner, "/o/acme/projects/new/", {"name": "Shop", "description": ""},
         Project.objects.count),
        ("environment", people.owner, f"{P}/settings/", {"env-name": "qa"}, Environment.objects.count),
        ("invitation", people.admin, "/o/acme/members/", {"email": "new@acme.test", "role": "viewer"},
         Invitation.objects.count),
        ("team", people.admin, "/o/acme/teams/", {"name": "Payments", "description": ""}, Team.objects.count),
        ("team member", people.admin, "/o/acme/teams/platform/",
         {"action": "add", "member": str(member.public_id)}, _team_members(team.slug)),
        ("api token", people.member, "/o/acme/tokens/", {"name": "laptop", "expires_days": 30},
         ApiToken.objects.count),
        ("spec import", people.member, f"{P}/specs/import/",
         {"via": "paste", "document": (SPECS_DIR / "petstore-v3.yaml").read_text()}, SpecVersion.objects.count),
        ("grant", people.admin, f"{P}/governance/grants/",
         {"effect": "allow", "principal_kind": "role", "role": "member", "environment": "staging", "tags": "pet"},
         Grant.objects.count),
        ("approval policy", people.admin, f"{P}/governance/policies/new/",
         {"name": "Deletes", "kind": "single", "order": "any", "expires_hours": "24", "tags": "pet"},
         ApprovalPolicy.objects.count),
        ("suggested policies", people.admin, f"{P}/governance/policies/suggestions/accept/", {},
         ApprovalPolicy.objects.count),
        ("credential", people.admin, f"{P}/governance/credentials/development/schemes/api_key/",
         {"kind": "api_key", "value": "secret-value-1"}, CredentialVersion.objects.count),
        ("risk override", people.admin, f"{P}/tools/getPetById/override/",
         {"category": "side_effect", "risk_level": "high", "justification": "It writes an access log"},
         RiskOverride.objects.count),
        ("report", people.member, f"{P}/reports/generate/", {"environment": "all"}, Report.objects.count),
        ("webhook secret", people.admin, "/o/acme/approvals/settings/",
         {"url": "http://127.0.0.1:9/hook", "generate_secret": "on", "enabled": "on", "action": "save"},
         WebhookSettings.objects.count),
    ]


@pytest.fixture
def world(people):
    project = make_project(people.org, people.owner)
    assert import_spec(project, "petstore-v3.yaml", people.owner).status == "ready"
    return project


FORM_NAMES = ["organization", "project", "environment", "invitation", "team", "team member", "api token",
              "spec import", "grant", "approval policy", "suggested policies", "credential", "risk override",
              "report", "webhook secret"]


@pytest.mark.parametrize("name", FORM_NAMES)
def test_a_reload_after_a_create_form_creates_nothing(name, people, world, client_for, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True  # the hook below is a loopback address
    rows = {f[0]: f for f in forms(people, world)}
    assert sorted(rows) == sorted(FORM_NAMES)
    _, user, url, data, count = rows[name]
    client = client_for(user)
    before = count()
    response = client.post(url, data)
    assert response.status_code == 302, (name, response.status_code)
    assert count() == before + 1 or (name == "suggested policies" and count() > before), name
    after = count()
    shown = client.get(response["Location"])  # what the browser shows after the POST
    assert shown.status_code == 200
    client.get(response["Location"])  # the user presses reload
    assert count() == after, f"{name}: a reload created another row"
