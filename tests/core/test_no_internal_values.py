"""Issue 18 item 12: pages speak in display labels. The visible text of every key page (tags,
attributes, scripts and styles stripped; code blocks kept apart) carries no stored enum value
such as ``read_only`` or ``side_effect``, no bare arrow count like "→ 0" and no Python "None"."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
import yaml

from apps.approvals.services import approval_request_create
from apps.governance.policies import Requirement
from apps.governance.services import accept_suggested_policies, grant_create
from tests.conftest import SPECS_DIR
from tests.factories import import_spec, make_project

pytestmark = pytest.mark.django_db

# stored values of the enums pages show (Tool.Category, grant/policy fields, diff fields, operators)
RAW = re.compile(r"\b(read_only|side_effect|not_in|all_tools|operation_keys?|principal_kind|risk_level|input_schema|"
                 r"output_schema|approvals_required|justification_required)\b|→ 0\b|\bNone\b")


class VisibleText(HTMLParser):
    """Text a reader sees, without <script>, <style>, <pre> and <code> (code shows code)."""

    SKIP = {"script", "style", "pre", "code", "template", "textarea"}

    def __init__(self):
        super().__init__()
        self.depth = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.depth += 1

    def handle_endtag(self, tag):
        if tag in self.SKIP and self.depth:
            self.depth -= 1

    def handle_data(self, data):
        if not self.depth:
            self.parts.append(data)


def visible(html: str) -> str:
    parser = VisibleText()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def petstore_without(path: str) -> bytes:
    document = yaml.safe_load((SPECS_DIR / "petstore-v3.yaml").read_text())
    del document["paths"][path]
    return yaml.safe_dump(document).encode()


def test_visible_text_of_key_pages_has_no_internal_values(people, client_for):
    project = make_project(people.org, people.owner)
    import_spec(project, "petstore-v3.yaml", people.owner, data=petstore_without("/store/order/{orderId}"))
    import_spec(project, "petstore-v3.yaml", people.owner)  # v2 adds getOrderById and deleteOrder
    accept_suggested_policies(project=project, actor=people.owner)
    staging = project.environments.get(slug="staging")
    grant_create(project=project, actor=people.owner, effect="allow", principal_kind="role", role="member",
                 environment=staging, categories=["read_only", "side_effect"])
    tool = project.tools.filter(spec_version__is_current=True, name="deletePet").first()
    held = approval_request_create(
        tool=tool, environment=project.environments.get(slug="development"), requester=people.member, token=None,
        arguments={"petId": 1}, justification="cleanup",
        requirement=Requirement(policy_id="p", policy_label="Critical tools", kind="single", approvals_required=1))
    org, p = people.org.slug, f"/o/{people.org.slug}/p/{project.slug}"
    pages = [f"/o/{org}/", f"{p}/", f"{p}/tools/", f"{p}/tools/deletePet/", f"{p}/tools/getPetById/",
             f"{p}/governance/permissions/", f"{p}/governance/grants/", f"{p}/governance/policies/",
             f"{p}/governance/policies/new/",
             f"{p}/governance/simulator/?user={people.member.pk}&tool=deletePet&environment=staging",
             f"{p}/specs/diff/?from=1&to=2", f"{p}/specs/1/", f"{p}/findings/", f"{p}/score/", f"{p}/reports/",
             f"/o/{org}/approvals/?scope=all", f"/o/{org}/approvals/{held.public_id}/", f"/o/{org}/audit/"]
    client = client_for(people.owner)
    leaks = {}
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        text = visible(response.content.decode())
        found = sorted({text[max(0, m.start() - 50):m.end() + 30] for m in RAW.finditer(text)})
        if found:
            leaks[url] = found
    assert leaks == {}
