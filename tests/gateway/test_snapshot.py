"""The gateway's in-memory project snapshot and the config version that invalidates it.

The database triggers (governance migration 0002) are what makes caching safe, so every
table the gateway caches is checked for a version bump, through the services and through
raw SQL; then the real gateway is shown to pick up each kind of change on the next request.
"""

from __future__ import annotations

import pytest
from django.db import connection

from apps.gateway import selectors, services, snapshot
from tests.factories import import_spec, make_project
from tests.gateway.conftest import audit_events, call, list_names, make_token, run_client

ECHO_KEY_SPEC = """
openapi: 3.0.3
info: {title: Keyed echo, version: "1.0"}
components:
  securitySchemes:
    key: {type: apiKey, in: header, name: X-Api-Key}
security: [{key: []}]
paths:
  /echo/{thing}:
    get:
      operationId: getEcho
      summary: Echoes the request it received
      parameters: [{name: thing, in: path, required: true, schema: {type: string}}]
      responses: {"200": {description: ok, content: {application/json: {schema: {type: object}}}}}
"""


def version_of(project) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT version FROM governance_configversion WHERE project_id = %s", [project.pk])
        row = cursor.fetchone()
    return row[0] if row else 0


class Bumps:
    """``with bumps(project):`` asserts the block raised the project's config version."""

    def __init__(self, project):
        self.project = project

    def __enter__(self):
        self.before = version_of(self.project)

    def __exit__(self, *exc):
        if exc[0] is None:
            assert version_of(self.project) > self.before, "the config version did not change"


@pytest.mark.django_db
def test_every_cached_table_bumps_the_project_version(people):
    from apps.credentials.services import credential_set
    from apps.governance.models import Grant
    from apps.governance.services import grant_create, grant_delete, policy_create, policy_update, tool_set_enabled
    from apps.inventory.selectors import tool_by_name
    from apps.inventory.services import tool_rename
    from apps.risk.services import risk_override_set

    owner = people.owner
    project = make_project(people.org, owner)
    other = make_project(people.org, owner, name="Other")
    with Bumps(project):  # spec version and tools
        assert import_spec(project, "petstore-v3.yaml", owner).status == "ready"
    other_before = version_of(other)
    dev = project.environments.get(slug="development")

    with Bumps(project):
        grant = grant_create(project=project, actor=owner, effect="allow", principal_kind="role", role="member",
                             all_tools=True)
    with Bumps(project):  # raw SQL, as a data migration or a DBA would
        Grant.objects.filter(pk=grant.pk).update(categories=["read_only"])
    with Bumps(project):
        grant_delete(grant=grant, actor=owner)
    with Bumps(project):
        policy = policy_create(project=project, actor=owner, name="Critical", kind="single", categories=["critical"])
    with Bumps(project):
        policy_update(policy=policy, actor=owner, justification_required=True)
    with Bumps(project):
        tool_set_enabled(project=project, environment=dev, operation_keys=["DELETE /pet/{petId}"], enabled=True,
                         actor=owner, reason="confirmed in test")
    with Bumps(project):
        credential_set(environment=dev, scheme_name="api_key", values={"value": "k1"}, actor=owner)
    with Bumps(project):  # rotation: a new version, the old one retiring
        credential_set(environment=dev, scheme_name="api_key", values={"value": "k2"}, actor=owner)
    with Bumps(project):
        tool_rename(tool=tool_by_name(project, "getPetById"), new_name="fetchPet", actor=owner)
    with Bumps(project):
        risk_override_set(tool=tool_by_name(project, "fetchPet"), category="critical", risk_level="high",
                     justification="reads customer data", actor=owner)

    assert version_of(other) == other_before  # another project's cache stays valid


@pytest.mark.django_db
def test_deleting_a_project_with_tools_still_works(people):
    from apps.projects.models import Project

    project = make_project(people.org, people.owner)
    assert import_spec(project, "petstore-v3.yaml", people.owner).status == "ready"
    Project.objects.filter(pk=project.pk).delete()  # cascades to tools, whose trigger bumps a gone project
    assert not Project.objects.filter(pk=project.pk).exists()


@pytest.mark.django_db
def test_caller_resolution_is_one_query(people, django_assert_num_queries):
    project = make_project(people.org, people.owner)
    raw = make_token(people.member, people.org)
    selectors.caller_resolve(raw_token=raw, org_slug="acme", project_slug=project.slug, env_slug="staging")
    with django_assert_num_queries(1):
        caller = selectors.caller_resolve(raw_token=raw, org_slug="acme", project_slug=project.slug,
                                          env_slug="staging")
    assert caller.role == "member" and caller.environment.slug == "staging"
    assert caller.environment.project == project and caller.organization == people.org
    assert caller.user == people.member and caller.subject.team_ids == frozenset()


@pytest.mark.django_db
def test_caller_subject_carries_live_teams_and_role(people):
    from apps.accounts.models import Membership, Team

    project = make_project(people.org, people.owner)
    raw = make_token(people.member, people.org)
    team = Team.objects.create(organization=people.org, name="Support", slug="support")
    team.members.add(people.member)
    outside_team = Team.objects.create(organization=people.other_org, name="Evil", slug="evil")
    outside_team.members.add(people.member)  # a team of another organization never counts here

    caller = selectors.caller_resolve(raw_token=raw, org_slug="acme", project_slug=project.slug, env_slug="staging")
    assert caller.subject.team_ids == frozenset({str(team.pk)}) and caller.subject.role == "member"
    Membership.objects.filter(user=people.member, organization=people.org).update(role="reviewer")
    caller = selectors.caller_resolve(raw_token=raw, org_slug="acme", project_slug=project.slug, env_slug="staging")
    assert caller.subject.role == "reviewer"


@pytest.mark.django_db
def test_unknown_endpoint_and_foreign_organization_are_404(people):
    project = make_project(people.org, people.owner)
    raw = make_token(people.member, people.org)
    other = make_project(people.other_org, people.outsider, name="Secret")
    for org, proj, env in [("acme", project.slug, "nope"), ("acme", "nope", "staging"),
                           (people.other_org.slug, other.slug, "staging")]:
        with pytest.raises(selectors.GatewayRefusal) as exc:
            selectors.caller_resolve(raw_token=raw, org_slug=org, project_slug=proj, env_slug=env)
        assert exc.value.status == 404


@pytest.mark.django_db
def test_warm_tools_call_makes_only_the_audit_write(people, django_assert_num_queries, settings):
    from apps.credentials.services import credential_set, environment_upstream_set
    from apps.governance.services import grant_create

    owner = people.owner
    project = make_project(people.org, owner)
    assert import_spec(project, "petstore-v3.yaml", owner).status == "ready"
    dev = project.environments.get(slug="development")
    environment_upstream_set(environment=dev, base_url="http://127.0.0.1:9", allow_private_network=True, actor=owner)
    credential_set(environment=dev, scheme_name="api_key", values={"value": "secret-key-1"}, actor=owner)
    grant_create(project=project, actor=owner, effect="allow", principal_kind="role", role="member", all_tools=True)
    raw = make_token(people.member, people.org)

    def begin():
        caller = selectors.caller_resolve(raw_token=raw, org_slug="acme", project_slug=project.slug,
                                          env_slug="development")
        return services.call_begin(caller=caller, name="getPetById", arguments={"petId": 3})

    cold = begin()
    assert cold.action == "send" and cold.request.headers["api_key"] == "secret-key-1"
    with django_assert_num_queries(2):  # the caller query and the tool.called audit row
        warm = begin()
    assert warm.action == "send" and warm.request.headers["api_key"] == "secret-key-1"
    assert str(warm.request.url).endswith("/pet/3")

    credential_set(environment=dev, scheme_name="api_key", values={"value": "secret-key-2"}, actor=owner)
    assert begin().request.headers["api_key"] == "secret-key-2"  # the rotation changed the version


@pytest.mark.django_db
def test_snapshot_cache_keeps_one_version_per_project_and_is_bounded():
    cache = snapshot.SnapshotCache(max_projects=2)
    first = cache.get(snapshot.SnapshotKey(1, "a", 1))
    assert cache.get(snapshot.SnapshotKey(1, "a", 1)) is first
    second = cache.get(snapshot.SnapshotKey(1, "a", 2))
    assert second is not first and cache.get(snapshot.SnapshotKey(1, "a", 2)) is second
    assert cache.get(snapshot.SnapshotKey(1, "b", 2)) is not second  # same id, another project (restored database)
    cache.get(snapshot.SnapshotKey(2, "c", 1))
    cache.get(snapshot.SnapshotKey(3, "d", 1))
    assert len(cache._by_project) == 2 and 1 not in cache._by_project  # least recently used dropped


# --------------------------------------------------------------------------- through the real gateway


@pytest.mark.django_db(transaction=True)
def test_gateway_applies_each_governance_change_on_the_next_request(world, misbehaving_upstream):
    """Warm the gateway's snapshot, change things in the database the way an admin would, and
    the very next MCP request follows: grants, switches, policies, credentials, renames."""
    from apps.credentials.services import credential_set, environment_upstream_set
    from apps.governance.models import Grant
    from apps.governance.services import grant_delete, policy_create, tool_set_enabled
    from apps.inventory.selectors import tool_by_name
    from apps.inventory.services import tool_rename

    owner, endpoint, member = world.people.owner, world.endpoint(), world.tokens["member"]
    assert "getInventory" in list_names(endpoint, member)
    assert call(endpoint, member, "getOrderById", {"orderId": 7}).is_error is False

    # switch a tool off in this environment: gone from the list, refused when called
    tool_set_enabled(project=world.project, environment=world.environment, operation_keys=["GET /store/inventory"],
                     enabled=False, actor=owner)
    assert "getInventory" not in list_names(endpoint, member)
    refused = call(endpoint, member, "getInventory")
    assert refused.is_error and "disabled" in refused.content[0].text

    # a policy now holds the read: pending instead of a Prism answer
    policy_create(project=world.project, actor=owner, name="Orders", kind="single",
                  operation_keys=["GET /store/order/{orderId}"])
    held = call(endpoint, member, "getOrderById", {"orderId": 7})
    assert held.is_error is False and held.structured_content["mcpforge_approval"]["status"] == "pending"

    # the member's grant goes: nothing but the built-in tool
    grant_delete(grant=Grant.objects.get(project=world.project, role="member"), actor=owner)
    assert list_names(endpoint, member) == ["mcpforge_approval_status"]

    # renames are served under the new name at once
    admin = world.tokens["admin"]
    tool_rename(tool=tool_by_name(world.project, "getUserByName"), new_name="lookupUser", actor=owner)
    names = list_names(endpoint, admin)
    assert "lookupUser" in names and "getUserByName" not in names

    # a credential rotation is used by the next call (echo upstream shows the header it got)
    project = make_project(world.people.org, owner, name="Keyed")
    assert import_spec(project, "keyed.yaml", owner, data=ECHO_KEY_SPEC.encode()).status == "ready"
    env = project.environments.get(slug="development")
    environment_upstream_set(environment=env, base_url=misbehaving_upstream, allow_private_network=True, actor=owner)
    from apps.governance.services import grant_create

    grant_create(project=project, actor=owner, effect="allow", principal_kind="role", role="member", all_tools=True)
    keyed = f"{world.url}/mcp/{world.people.org.slug}/{project.slug}/development/"
    missing = call(keyed, member, "getEcho", {"thing": "a"})
    assert missing.is_error and "No credential configured for scheme 'key'" in missing.content[0].text
    credential_set(environment=env, scheme_name="key", values={"value": "first-key"}, actor=owner)
    assert call(keyed, member, "getEcho", {"thing": "a"}).structured_content["headers"]["x-api-key"] == "first-key"
    credential_set(environment=env, scheme_name="key", values={"value": "second-key"}, actor=owner)
    assert call(keyed, member, "getEcho", {"thing": "b"}).structured_content["headers"]["x-api-key"] == "second-key"

    denied = [e.payload["reason"] for e in audit_events(world.people.org, "tool.call_denied")]
    assert denied == ["disabled"]


@pytest.mark.django_db(transaction=True)
def test_revoked_token_and_removed_member_are_refused_on_the_next_request(world):
    from apps.accounts.models import ApiToken, Membership
    from apps.accounts.services import token_revoke

    member = world.tokens["member"]
    assert call(world.endpoint(), member, "getOrderById", {"orderId": 7}).is_error is False
    token = ApiToken.objects.get(user=world.people.member)
    token_revoke(token=token, actor=world.people.member)

    async def listing(client):
        return await client.list_tools()

    with pytest.raises(Exception) as exc:
        run_client(world.endpoint(), member, listing)
    assert "401" in str(exc.value) or "revoked" in str(exc.value)

    admin = world.tokens["admin"]
    assert "deletePet" not in list_names(world.endpoint(), admin)
    Membership.objects.filter(user=world.people.admin).delete()
    with pytest.raises(Exception) as exc:
        run_client(world.endpoint(), admin, listing)
    assert "403" in str(exc.value) or "no longer a member" in str(exc.value)
