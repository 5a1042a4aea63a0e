"""Issue 18, item 3: clients auto-approve tools that say they are read-only, so tools/list never
sends ``readOnlyHint`` (nor ``idempotentHint``) for a non-safe HTTP method unless an admin
override says so. Through the official ``mcp`` client against the real gateway."""

import pytest

from .conftest import make_token, run_client

pytestmark = pytest.mark.django_db(transaction=True)


def listed(world, project, token):
    async def tools(client):
        return {t.name: t for t in (await client.list_tools()).tools}

    env = project.environments.get(slug="development")
    return run_client(f"{world.url}/mcp/{world.people.org.slug}/{project.slug}/{env.slug}/", token, tools)


def test_a_post_that_creates_a_session_is_never_read_only(world):
    from apps.governance.services import grant_create
    from apps.inventory.selectors import tool_by_name
    from apps.risk import services as risk
    from tests.factories import import_spec, make_project

    people = world.people
    project = make_project(people.org, people.owner, name="Checkout")
    assert import_spec(project, "adyen-checkout-v71.json", people.owner).status == "ready"
    grant_create(project=project, actor=people.owner, effect="allow", principal_kind="role", role="owner",
                 all_tools=True)
    token = make_token(people.owner, people.org, name="hints")
    stored = tool_by_name(project, "post-applePay-sessions")
    # the classifier reads it as a lookup (read-only category) but HTTP says POST
    assert stored.method == "POST" and stored.category == "read_only"

    tools = listed(world, project, token)
    session = tools["post-applePay-sessions"]
    assert session.annotations.read_only_hint is False
    assert session.annotations.idempotent_hint is False
    for name, tool in tools.items():
        if name.startswith("post-") and tool.annotations is not None:
            assert tool.annotations.read_only_hint is not True, name
    # a safe method keeps its hints
    get = next(t for n, t in tools.items() if n.startswith("get-"))
    assert get.annotations.read_only_hint is True

    # an admin override of the category is the one way to say otherwise
    risk.risk_override_set(tool=stored, actor=people.admin, category="read_only",
                           justification="Apple Pay sessions are stateless lookups on our upstream.")
    assert listed(world, project, token)["post-applePay-sessions"].annotations.read_only_hint is True
