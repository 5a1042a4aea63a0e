"""Issue 18, item 13, on every page: a role that may view a settings or admin page but not change
it gets a read-only page: no form that posts, no enabled input outside a (GET) filter form, no
Save button. Admins keep the forms (the control, so the check cannot pass on an empty page)."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from apps.accounts.services import team_create
from apps.governance.models import ToolSetting
from apps.governance.services import grant_create, policy_create, tool_set_enabled
from tests.conftest import SPECS_DIR
from tests.factories import import_spec, make_project

pytestmark = pytest.mark.django_db

FIELDS = ("input", "select", "textarea")


class Controls(HTMLParser):
    """Posting forms (the logout form of the page header aside) and live fields outside GET forms."""

    def __init__(self):
        super().__init__()
        self.posting_forms: list[str] = []
        self.live_fields: list[str] = []
        self.buttons: list[str] = []
        self._form: list[str] = []  # method of each open form
        self._fieldsets: list[bool] = []  # open fieldsets: disabled or not
        self._disabled_fieldsets = 0
        self._in_button = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            method = (a.get("method") or "get").lower()
            action = a.get("action") or ""
            is_post = (method == "post" or "hx-post" in a) and "logout" not in action
            self._form.append("post" if is_post else "get")
            if is_post:
                self.posting_forms.append(action or "(this page)")
        elif tag == "fieldset":
            self._fieldsets.append("disabled" in a)
            self._disabled_fieldsets += "disabled" in a
        elif tag in FIELDS:
            in_filter = bool(self._form) and self._form[-1] == "get"
            if a.get("type") != "hidden" and "disabled" not in a and not self._disabled_fieldsets and not in_filter:
                self.live_fields.append(a.get("name") or a.get("id") or tag)
        elif tag == "button":
            self._in_button = True
            self.buttons.append("")

    def handle_endtag(self, tag):
        if tag == "form" and self._form:
            self._form.pop()
        elif tag == "fieldset" and self._fieldsets:
            self._disabled_fieldsets -= self._fieldsets.pop()
        elif tag == "button":
            self._in_button = False

    def handle_data(self, data):
        if self._in_button and self.buttons:
            self.buttons[-1] += data.strip()


def controls(html: str) -> Controls:
    parser = Controls()
    parser.feed(html)
    return parser


@pytest.fixture
def site(people):
    project = make_project(people.org, people.owner, name="Petstore")
    assert import_spec(project, "petstore-v3.yaml", people.owner).status == "ready"
    team = team_create(organization=people.org, name="Support", actor=people.owner)
    grant_create(project=project, actor=people.owner, effect="allow", principal_kind="role", role="member",
                 all_tools=True)
    policy = policy_create(project=project, actor=people.owner, name="Guard", kind="single",
                           operation_keys=["POST /store/order"])
    production = project.environments.get(slug="production")
    tool_set_enabled(project=project, environment=production, operation_keys=["GET /pet/{petId}"], enabled=True,
                     actor=people.admin, reason="confirmed in test")
    reworded = (SPECS_DIR / "petstore-v3.yaml").read_text().replace("Returns a single pet.", "Returns one pet.")
    assert import_spec(project, "petstore-v3.yaml", people.owner, data=reworded.encode()).status == "ready"
    review = ToolSetting.objects.get(environment=production, operation_key="GET /pet/{petId}")
    assert review.pending_tool_id is not None
    o, p = people.org.slug, project.slug
    g = f"/o/{o}/p/{p}/governance/"
    # name: (page, lowest role that may change something on it)
    return {
        "members": (f"/o/{o}/members/", "admin"),
        "teams": (f"/o/{o}/teams/", "admin"),
        "team": (f"/o/{o}/teams/{team.slug}/", "admin"),
        "project settings": (f"/o/{o}/p/{p}/settings/", "admin"),
        "environment settings": (f"/o/{o}/p/{p}/settings/environments/production/", "admin"),
        "permissions": (g + "permissions/", "admin"),
        "grants": (g + "grants/", "admin"),
        "policies": (g + "policies/", "admin"),
        "policy": (g + f"policies/{policy.public_id}/", "admin"),
        "reviews": (g + "reviews/", "admin"),
        "review": (g + f"reviews/{review.public_id}/", "admin"),
        "credentials": (g + "credentials/production/", "admin"),
        "tool": (f"/o/{o}/p/{p}/tools/getPetById/", "admin"),
        "import": (f"/o/{o}/p/{p}/specs/import/", "member"),
        "version": (f"/o/{o}/p/{p}/specs/2/", "member"),
        "reports": (f"/o/{o}/p/{p}/reports/", "member"),
    }


RANK = ["viewer", "member", "reviewer", "admin", "owner"]


def test_pages_are_read_only_below_the_role_that_changes_them(people, client_for, site):
    clients = {role: client_for(people.by_role(role)) for role in RANK}
    checked = []
    for url, minimum in site.values():
        for role in RANK[: RANK.index(minimum)]:
            response = clients[role].get(url)
            assert response.status_code == 200, (role, url, response.status_code)
            found = controls(response.content.decode())
            assert found.posting_forms == [], (role, url, found.posting_forms)
            assert found.live_fields == [], (role, url, found.live_fields)
            assert not [b for b in found.buttons if b.startswith(("Save", "Add", "Import", "Generate"))], \
                (role, url, found.buttons)
            checked.append((role, url))
    assert len(checked) >= 40


@pytest.mark.parametrize("name", ["members", "team", "project settings", "environment settings", "grants",
                                  "policy", "review", "credentials", "tool", "import", "reports"])
def test_the_roles_that_may_change_them_keep_the_forms(people, client_for, site, name):
    url, minimum = site[name]
    found = controls(client_for(people.by_role(minimum)).get(url).content.decode())
    assert found.posting_forms, (minimum, url)


def test_a_read_only_policy_page_shows_the_policy(people, client_for, site):
    html = client_for(people.reviewer).get(site["policy"][0]).content.decode()
    assert 'data-testid="policy-read-only"' in html and 'value="Guard"' in html and "<fieldset disabled>" in html
    assert "Back to policies" in html
