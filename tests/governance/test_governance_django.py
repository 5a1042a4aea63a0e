"""Governance on the real database: enabled defaults and switches, grants resolved through the
selectors the gateway uses, approval requirements, suggestions, audit before/after, Security
Score facts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from apps.accounts.services import team_add_member, team_create
from apps.audit.models import AuditEvent
from apps.core.errors import DomainError
from apps.governance import selectors, services
from apps.governance.models import ApprovalPolicy, ToolSetting
from apps.inventory.selectors import current_tools, tool_by_name
from tests.factories import import_spec, make_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def petstore(people):
    project = make_project(people.org, people.owner, name="Petstore")
    import_spec(project, "petstore-v3.yaml", people.owner)
    envs = {e.slug: e for e in project.environments.all()}
    return project, envs


@pytest.fixture
def support(people):
    team = team_create(organization=people.org, name="Support", actor=people.owner)
    team_add_member(team=team, user=people.member, actor=people.owner)
    return team


def events(org, event_type):
    return list(AuditEvent.objects.filter(organization=org, event_type=event_type).order_by("seq"))


def test_enabled_map_follows_risk_defaults_until_an_admin_switches(people, petstore):
    project, envs = petstore
    tools = list(current_tools(project))
    dev = selectors.enabled_map(envs["development"], tools)
    staging = selectors.enabled_map(envs["staging"], tools)
    assert dev["GET /pet/{petId}"] is True and dev["PUT /pet"] is True          # read-only, side-effect
    assert dev["DELETE /pet/{petId}"] is False and dev["POST /user"] is False   # critical, administrative
    assert not any(staging.values())

    result = services.tool_set_enabled(project=project, environment=envs["staging"],
                                       operation_keys=["GET /pet/{petId}", "DELETE /pet/{petId}"], enabled=True,
                                       actor=people.admin, reason="Staging test of pet deletion.")
    assert result.changed == ["GET /pet/{petId}", "DELETE /pet/{petId}"]
    # enabling a critical tool without any approval policy raises a finding
    assert len(result.findings) == 1 and "deletePet (category critical" in result.findings[0]
    services.tool_set_enabled(project=project, environment=envs["development"], operation_keys=["PUT /pet"],
                              enabled=False, actor=people.admin)
    assert selectors.enabled_map(envs["staging"], tools)["DELETE /pet/{petId}"] is True
    assert selectors.enabled_map(envs["development"], tools)["PUT /pet"] is False

    enabled, disabled = events(people.org, "tool.enabled"), events(people.org, "tool.disabled")
    assert enabled[-1].payload["changes"] == [
        {"operation_key": "GET /pet/{petId}", "tool": "getPetById", "before": False, "after": True},
        {"operation_key": "DELETE /pet/{petId}", "tool": "deletePet", "before": False, "after": True}]
    assert enabled[-1].payload["findings"] and enabled[-1].actor_label == "admin@acme.test"
    assert disabled[-1].payload["changes"][0] == {"operation_key": "PUT /pet", "tool": "updatePet",
                                                  "before": True, "after": False}
    with pytest.raises(DomainError, match="Unknown tool"):
        services.tool_set_enabled(project=project, environment=envs["staging"], operation_keys=["GET /nope"],
                                  enabled=True, actor=people.admin, reason="confirmed in test")


def test_bulk_actions_by_category_and_tag(people, petstore):
    project, envs = petstore
    result = services.tool_bulk_set(project=project, environment=envs["staging"], enabled=True,
                                    category="read_only", actor=people.admin, reason="confirmed in test")
    # getUserByName is read-only but of high risk (it returns personal data): a finding too
    assert len(result.changed) == 6
    assert result.findings == ["getUserByName (high risk) is enabled in staging without an approval policy."]
    states = selectors.enabled_map(envs["staging"], current_tools(project))
    assert {k for k, v in states.items() if v} == {t.operation_key for t in current_tools(project)
                                                  if t.category == "read_only"}
    services.tool_bulk_set(project=project, environment=envs["development"], enabled=False, tag="user",
                           actor=people.admin)
    dev = selectors.enabled_map(envs["development"], current_tools(project))
    assert not any(dev[t.operation_key] for t in current_tools(project) if "user" in t.tags)
    assert events(people.org, "tool.disabled")[-1].payload["bulk"] == {"category": "", "tag": "user"}
    with pytest.raises(DomainError, match="No tool matches"):
        services.tool_bulk_set(project=project, environment=envs["staging"], enabled=True, tag="nothing",
                               actor=people.admin, reason="confirmed in test")


def test_decide_uses_role_team_and_user_grants_and_deny_wins(people, petstore, support):
    project, envs = petstore
    staging, prod = envs["staging"], envs["production"]
    get_pet = tool_by_name(project, "getPetById")
    services.tool_bulk_set(project=project, environment=staging, enabled=True, category="read_only",
                           actor=people.admin, reason="confirmed in test")

    assert selectors.decide(people.member, get_pet, staging).code == "no_grant"      # nothing without a grant
    grant = services.grant_create(project=project, actor=people.admin, effect="allow", principal_kind="team",
                                  team=support, environment=staging, categories=["read_only"])
    decision = selectors.decide(people.member, get_pet, staging)
    assert decision.allowed and decision.matched.id == grant.pk
    assert "team Support may call category read-only in staging" in decision.reason
    assert selectors.decide(people.viewer, get_pet, staging).code == "no_grant"      # not in the team
    assert selectors.decide(people.member, get_pet, prod).code == "disabled"          # grant is staging-only
    assert selectors.decide(people.outsider, get_pet, staging).allowed is False       # not a member

    deny = services.grant_create(project=project, actor=people.admin, effect="deny", principal_kind="user",
                                 user=people.member, tags=["pet"])
    decision = selectors.decide(people.member, get_pet, staging)
    assert not decision.allowed and decision.code == "denied" and decision.matched.id == deny.pk
    services.grant_delete(grant=deny, actor=people.admin)
    assert selectors.decide(people.member, get_pet, staging).allowed

    services.grant_create(project=project, actor=people.admin, effect="allow", principal_kind="role", role="reviewer",
                          all_tools=True)
    assert selectors.decide(people.admin, get_pet, staging).allowed                    # reviewer or higher
    assert not selectors.decide(people.viewer, get_pet, staging).allowed

    created, deleted = events(people.org, "grant.created"), events(people.org, "grant.deleted")
    assert created[0].payload["before"] is None and created[0].payload["after"]["principal"] == "Support"
    assert deleted[0].payload["before"]["effect"] == "deny" and deleted[0].payload["after"] is None


def test_grant_validation_messages(people, petstore):
    project, envs = petstore
    other_team = team_create(organization=people.other_org, name="Intruders", actor=people.outsider)
    cases = [
        (dict(principal_kind="team", team=other_team, all_tools=True), "team of this organization"),
        (dict(principal_kind="user", user=people.outsider, all_tools=True), "member of this organization"),
        (dict(principal_kind="role", role="god", all_tools=True), "Choose a role"),
        (dict(principal_kind="role", role="member"), "Choose the tools"),
        (dict(principal_kind="role", role="member", categories=["dangerous"]), "Unknown category"),
        (dict(principal_kind="role", role="member", operation_keys=["GET /nope"]), "Unknown tool"),
    ]
    for kwargs, message in cases:
        with pytest.raises(DomainError, match=message):
            services.grant_create(project=project, actor=people.admin, effect="allow", **kwargs)


def test_callable_tools_agrees_with_decide_in_at_most_five_queries(people, petstore, support,
                                                                   django_assert_max_num_queries):
    project, envs = petstore
    services.tool_bulk_set(project=project, environment=envs["staging"], enabled=True, tag="pet", actor=people.admin,
                           reason="staging")
    services.tool_bulk_set(project=project, environment=envs["staging"], enabled=True, tag="user", actor=people.admin,
                           reason="staging")
    services.grant_create(project=project, actor=people.admin, effect="allow", principal_kind="team", team=support,
                          environment=envs["staging"], tags=["pet", "store"])
    services.grant_create(project=project, actor=people.admin, effect="allow", principal_kind="role",
                          role="admin", categories=["administrative"])
    services.grant_create(project=project, actor=people.admin, effect="deny", principal_kind="role", role="member",
                          operation_keys=["DELETE /pet/{petId}"])
    for user in (people.member, people.admin, people.viewer, people.outsider):
        for env in envs.values():
            with django_assert_max_num_queries(5):
                visible = selectors.callable_tools(user, env)
            expected = [t for t in current_tools(project) if selectors.decide(user, t, env).allowed]
            assert [t.pk for t in visible] == [t.pk for t in expected], (user, env.slug)
    names = [t.name for t in selectors.callable_tools(people.member, envs["staging"])]
    assert "getPetById" in names and "deletePet" not in names and "createUser" not in names


def test_simulator_page_and_api_show_exactly_what_decide_returns(people, petstore, support, client_for, api_for):
    project, envs = petstore
    staging = envs["staging"]
    services.tool_bulk_set(project=project, environment=staging, enabled=True, category="read_only",
                           actor=people.admin, reason="confirmed in test")
    services.grant_create(project=project, actor=people.admin, effect="allow", principal_kind="team", team=support,
                          environment=staging, categories=["read_only"])
    services.grant_create(project=project, actor=people.admin, effect="deny", principal_kind="role", role="viewer",
                          tags=["user"])
    html = client_for(people.viewer)
    api = api_for(people.viewer)
    for user in (people.member, people.viewer, people.admin):
        for tool in current_tools(project):
            decision = selectors.decide(user, tool, staging)
            simulated = selectors.simulate(user=user, tool=tool, environment=staging).decision
            assert simulated == decision
            page = html.get(f"/o/acme/p/{project.slug}/governance/simulator/",
                            {"user": user.pk, "tool": tool.name, "environment": "staging"})
            assert page.status_code == 200
            assert page.context["result"].decision == decision
            body = api.get(f"/api/v1/projects/{project.public_id}/simulate/",
                           {"user": user.email, "tool": tool.name, "environment": "staging"}).json()
            assert (body["allowed"], body["code"], body["reason"]) == (decision.allowed, decision.code,
                                                                       decision.reason)


def test_approval_requirement_with_conditions_and_validation(people):
    project = make_project(people.org, people.owner, name="Payments")
    import_spec(project, "adyen-checkout-v71.json", people.owner)
    prod = project.environments.get(slug="production")
    finance = team_create(organization=people.org, name="Finance", actor=people.owner)
    refund = tool_by_name(project, "post-payments-paymentPspReference-refunds")
    assert selectors.approval_requirement(refund, prod, {}) is None

    policy = services.policy_create(
        project=project, actor=people.admin, name="Refunds", kind="single", operation_keys=[refund.operation_key],
        steps=[{"kind": "team", "value": "Finance"}], justification_required=True,
        conditional_tiers=[{"when": [{"field": "body.amount.value", "operator": ">", "value": 10000}],
                            "approvals": 2, "order": "sequential"}])
    big = selectors.approval_requirement(refund, prod, {"body": {"amount": {"value": 25000, "currency": "EUR"}}})
    small = selectors.approval_requirement(refund, prod, {"body": {"amount": {"value": 900, "currency": "EUR"}}})
    assert (big.kind, big.approvals_required, big.order) == ("multi", 2, "sequential")
    assert (small.kind, small.approvals_required, small.order) == ("single", 1, "any")
    assert big.policy_id == str(policy.public_id) and big.policy_label == "Refunds"
    assert big.steps == [{"kind": "team", "value": finance.slug, "label": "Finance"}]
    assert big.expires_after == timedelta(hours=24) and big.justification_required

    # the rule is validated on save, with a message naming the tier and rule
    with pytest.raises(DomainError, match="tier 1, rule 1: .*operator"):
        services.policy_update(policy=policy, actor=people.admin,
                               conditional_tiers=[{"when": [{"field": "amount", "operator": "bigger", "value": 1}],
                                                   "approvals": 2}])
    with pytest.raises(DomainError, match="needs a number"):
        services.policy_update(policy=policy, actor=people.admin,
                               conditional_tiers=[{"when": [{"field": "amount", "operator": ">", "value": "x"}],
                                                   "approvals": 2}])
    with pytest.raises(DomainError, match="no team 'Nobody'"):
        services.policy_update(policy=policy, actor=people.admin, steps=[{"kind": "team", "value": "Nobody"}])
    with pytest.raises(DomainError, match="5 minutes to 30 days"):
        services.policy_update(policy=policy, actor=people.admin, expires_after=timedelta(days=90))

    services.policy_update(policy=policy, actor=people.admin, kind="multi", approvals_required=3)
    assert selectors.approval_requirement(refund, prod, {}).approvals_required == 3
    updated = events(people.org, "policy.updated")
    assert len(updated) == 1
    assert updated[0].payload["before"]["kind"] == "single" and updated[0].payload["after"]["kind"] == "multi"
    assert updated[0].payload["after"]["approvals_required"] == 3
    services.policy_delete(policy=policy, actor=people.admin)
    assert selectors.approval_requirement(refund, prod, {}) is None
    assert events(people.org, "policy.deleted")[0].payload["before"]["name"] == "Refunds"


def test_suggestions_from_risk_are_accepted_once(people):
    project = make_project(people.org, people.owner, name="Payments")
    import_spec(project, "adyen-checkout-v71.json", people.owner)
    suggestions = {s.key: s for s in selectors.suggested_policies(project)}
    assert suggestions["category:billing"].kind == "multi" and suggestions["category:billing"].approvals_required == 2
    assert suggestions["category:administrative"].kind == "single"
    created = services.accept_suggested_policies(project=project, actor=people.admin)
    assert {p.source for p in created} == {ApprovalPolicy.Source.SUGGESTED}
    assert selectors.suggested_policies(project) == []
    prod = project.environments.get(slug="production")
    refund = tool_by_name(project, "post-payments-paymentPspReference-refunds")
    origin = tool_by_name(project, "post-originKeys")
    assert selectors.approval_requirement(refund, prod, {}).approvals_required == 2
    assert selectors.approval_requirement(origin, prod, {}).approvals_required == 1
    with pytest.raises(DomainError, match="no longer applies"):
        services.accept_suggested_policies(project=project, actor=people.admin, keys=["category:billing"])


def test_governance_facts_follow_switches_policies_grants_and_credentials(people, petstore):
    from apps.credentials.services import credential_set

    project, envs = petstore
    staging = envs["staging"]
    facts = selectors.governance_facts(project)
    assert [e.name for e in facts.environments] == ["development", "staging", "production"]
    assert facts.environments[1].enabled_tools == set()
    services.tool_set_enabled(project=project, environment=staging,
                              operation_keys=["DELETE /pet/{petId}", "GET /pet/{petId}"], enabled=True,
                              actor=people.admin, reason="staging")
    (env_facts,) = selectors.governance_facts(project, staging).environments
    assert env_facts.enabled_tools == {"deletePet", "getPetById"}
    assert env_facts.approval_policies == {"deletePet": "none", "getPetById": "none"}
    assert env_facts.credentials_configured is False and env_facts.credential_age_days is None
    assert env_facts.restricted_tools == {"deletePet", "getPetById"}   # no grant: nobody may call them

    services.policy_create(project=project, actor=people.admin, name="Critical", kind="single",
                           categories=["critical"])
    services.grant_create(project=project, actor=people.admin, effect="allow", principal_kind="role", role="member",
                          categories=["read_only"])
    credential_set(environment=staging, scheme_name="petstore_auth", kind="oauth2_token",
                   values={"access_token": "tok-" + "x" * 30}, actor=people.admin)
    (env_facts,) = selectors.governance_facts(project, staging).environments
    assert env_facts.approval_policies["deletePet"] == "single"
    assert env_facts.restricted_tools == {"deletePet"}
    assert env_facts.credentials_configured is True and env_facts.credential_age_days == 0


def test_matrix_marks_unguarded_sensitive_tools_and_explicit_settings(people, petstore):
    project, envs = petstore
    services.tool_set_enabled(project=project, environment=envs["production"], operation_keys=["POST /user"],
                              enabled=True, actor=people.admin, reason="Sign-ups open.")
    rows = {r.tool.name: r for r in selectors.matrix(project, list(envs.values()))}
    cell = rows["createUser"].cells[2]
    assert cell["enabled"] and cell["explicit"] and cell["unguarded"] and not cell["default"]
    assert not rows["getPetById"].cells[0]["explicit"] and rows["getPetById"].cells[0]["enabled"]
    findings = selectors.unguarded_findings(project)
    # the two axes the inventory shows: category administrative, and high risk (read-only getUserByName)
    assert sorted((f["tool"], f["environment"]) for f in findings) == [("createUser", "production"),
                                                                       ("getUserByName", "development")]
    services.policy_create(project=project, actor=people.admin, name="Admin tools", kind="single",
                           categories=["administrative"], environment=envs["production"])
    assert [(f["tool"], f["environment"]) for f in selectors.unguarded_findings(project)] == [
        ("getUserByName", "development")]
    assert ToolSetting.objects.filter(project=project, by_default=False).count() == 1


def test_large_spec_matrix_page_and_tools_list_stay_cheap(people, client_for, django_assert_max_num_queries):
    import time

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    project = make_project(people.org, people.owner, name="Box")
    version = import_spec(project, "box.json", people.owner)
    assert version.status == "ready" and version.tool_count > 150
    staging = project.environments.get(slug="staging")
    services.tool_bulk_set(project=project, environment=staging, enabled=True, category="read_only",
                           actor=people.admin, reason="confirmed in test")
    services.grant_create(project=project, actor=people.admin, effect="allow", principal_kind="role", role="member",
                          all_tools=True)
    client = client_for(people.admin)
    url = f"/o/acme/p/{project.slug}/governance/permissions/"
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        page = client.get(url)
        elapsed = time.perf_counter() - started
    assert page.status_code == 200
    assert len(page.context["rows"]) == 100 and page.context["total"] == version.tool_count
    count = len(queries)   # read now: later requests reset the connection's query log
    assert count <= 15, [q["sql"][:80] for q in queries]
    assert elapsed < 3.0
    print(f"\nbox.json: {version.tool_count} tools, permissions page {count} queries, {elapsed * 1000:.0f} ms")
    second = client.get(url, {"page": 2})
    assert second.context["page"].number == 2
    with django_assert_max_num_queries(5):
        visible = selectors.callable_tools(people.member, staging)
    assert len(visible) == sum(1 for t in current_tools(project) if t.category == "read_only")
