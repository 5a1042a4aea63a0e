"""Issue 18, item 9: the actor filter finds events by the API token's name or mcpf_ prefix, and a
project filter keeps one project's events."""

import pytest

from apps.audit.services import audit_record
from tests.factories import make_project

pytestmark = pytest.mark.django_db


def test_actor_filter_matches_token_name_and_prefix_and_project_filter(people, client_for):
    petstore = make_project(people.org, people.owner, name="Petstore")
    make_project(people.org, people.owner, name="Ledger")
    audit_record(organization=people.org, event_type="tool.called", actor=people.member, target=petstore,
                 payload={"project": "petstore", "token_name": "claude-desktop", "token_prefix": "mcpf_Ab12Cd"})
    audit_record(organization=people.org, event_type="tool.called", actor=people.member, target=petstore,
                 payload={"project": "ledger", "token_name": "ci-bot", "token_prefix": "mcpf_Zz99Yy"})
    client = client_for(people.admin)

    def rows(**query):
        page = client.get(f"/o/{people.org.slug}/audit/", query)
        assert page.status_code == 200
        return [e.payload for e in page.context["page"].object_list if e.event_type == "tool.called"]

    assert [p["token_name"] for p in rows(actor="claude-desktop")] == ["claude-desktop"]
    assert [p["token_name"] for p in rows(actor="mcpf_Zz99")] == ["ci-bot"]
    assert len(rows(actor="member@acme.test")) == 2  # the person still matches
    assert [p["project"] for p in rows(project="ledger")] == ["ledger"]
    assert rows(project="nope") == []
    html = client.get(f"/o/{people.org.slug}/audit/").content.decode()
    assert 'data-testid="audit-project"' in html and ">Ledger</option>" in html
