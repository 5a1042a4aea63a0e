"""tools/list does a constant number of queries, whatever the number of tools (Box: ~300)."""

from __future__ import annotations

import pytest

from apps.gateway import selectors
from tests.factories import import_spec, make_project
from tests.gateway.conftest import make_token

pytestmark = pytest.mark.django_db

MAX_LIST_QUERIES = 7  # cold snapshot: rules (3), the tool list, their definitions, two spare


def caller_for(people, project, env_slug="development"):
    from apps.accounts.services import token_authenticate
    from apps.governance.services import grant_create

    grant_create(project=project, actor=people.owner, effect="allow", principal_kind="role", role="member",
                 all_tools=True)
    raw = make_token(people.member, people.org)
    assert token_authenticate(raw) is not None
    return selectors.caller_resolve(raw_token=raw, org_slug=people.org.slug, project_slug=project.slug,
                                    env_slug=env_slug)


def test_tools_list_queries_are_constant(people, django_assert_max_num_queries, django_assert_num_queries):
    from apps.governance.services import policy_create

    small = make_project(people.org, people.owner, name="Petstore")
    assert import_spec(small, "petstore-v3.yaml", people.owner).status == "ready"
    big = make_project(people.org, people.owner, name="Box")
    assert import_spec(big, "box.json", people.owner).status == "ready"
    for project in (small, big):  # policies make every held tool's outputSchema approval-aware
        policy_create(project=project, actor=people.owner, name="Critical", kind="single", categories=["critical"])

    small_caller, big_caller = caller_for(people, small), caller_for(people, big)
    with django_assert_max_num_queries(MAX_LIST_QUERIES) as small_queries:
        small_tools = selectors.tool_definitions(small_caller)
    with django_assert_num_queries(len(small_queries)):
        big_tools = selectors.tool_definitions(big_caller)
    with django_assert_num_queries(0):  # warm snapshot and definitions cache: no query at all
        assert selectors.tool_definitions(big_caller) == big_tools

    assert big.tools.filter(spec_version__is_current=True).count() >= 250
    assert len(big_tools) > 100 > len(small_tools)  # enabled by default in development: read-only + side-effect
    names = [t["name"] for t in big_tools]
    assert names[0] == "mcpforge_approval_status" and len(set(names)) == len(names)


def test_former_member_token_is_refused_with_403(people):
    from apps.accounts.models import Membership

    project = make_project(people.org, people.owner)
    raw = make_token(people.member, people.org)
    Membership.objects.filter(user=people.member).delete()  # removed without the service's token revocation
    with pytest.raises(selectors.GatewayRefusal) as exc:
        selectors.caller_resolve(raw_token=raw, org_slug="acme", project_slug=project.slug, env_slug="staging")
    assert exc.value.status == 403 and exc.value.reason == "not_a_member"
    assert exc.value.audit_token.user == people.member
