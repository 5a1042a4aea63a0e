"""tools/list answered from the listing's pre-encoded tools (apps/gateway/listing_wire.py).

The fast path must be the SDK's own answer, byte for byte, for every protocol version the SDK
supports, through the real ASGI app; and it must follow the snapshot's invalidation exactly
(a changed enablement, grant or import shows at once, in both protocol eras).
"""

from __future__ import annotations

import json

import httpx
import pytest
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS

from apps.gateway import listing_wire, selectors, server
from tests.factories import import_spec, make_project
from tests.gateway.conftest import audit_events, list_names

pytestmark = pytest.mark.django_db(transaction=True)

VERSIONS = (*HANDSHAKE_PROTOCOL_VERSIONS, *MODERN_PROTOCOL_VERSIONS)


def raw_list(endpoint: str, token: str, version: str, cursor: str | None = None) -> httpx.Response:
    """One tools/list over plain HTTP, as an agent of ``version`` sends it."""
    params: dict = {"cursor": cursor} if cursor else {}
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
               "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": version}
    if version in MODERN_PROTOCOL_VERSIONS:
        params["_meta"] = {"io.modelcontextprotocol/protocolVersion": version,
                           "io.modelcontextprotocol/clientCapabilities": {},
                           "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "1"}}
        headers["Mcp-Method"] = "tools/list"
    response = httpx.post(endpoint, json={"jsonrpc": "2.0", "id": "l-1", "method": "tools/list", "params": params},
                          headers=headers, timeout=60)
    assert response.status_code == 200, response.text
    return response


def all_pages(endpoint: str, token: str, version: str) -> list[httpx.Response]:
    pages, cursor = [], None
    while True:
        pages.append(raw_list(endpoint, token, version, cursor))
        cursor = pages[-1].json()["result"].get("nextCursor")
        if not cursor:
            return pages


def petstore_without_orders() -> bytes:
    """The shared Petstore document without its /store/order operations (a re-import removes them)."""
    import yaml

    from tests.conftest import SPECS_DIR

    spec = yaml.safe_load((SPECS_DIR / "petstore-v3.yaml").read_text())
    spec["paths"] = {path: item for path, item in spec["paths"].items() if not path.startswith("/store/order")}
    return yaml.safe_dump(spec).encode()


@pytest.fixture
def sdk_only(monkeypatch):
    """Switch the fast path off: the handler returns the whole page and the SDK validates,
    serializes and encodes it as it does any result (the reference answer)."""
    fast = server._list_and_audit

    def whole_page(caller, cursor, page_size, version):
        page, _ = fast(caller, cursor, page_size, version)  # audited as always
        whole = selectors.page_of(selectors.tool_definitions(caller), cursor, page_size)
        return {**page, "tools": whole["tools"]}, None

    def switch(on: bool) -> None:
        monkeypatch.setattr(server, "_list_and_audit", whole_page if on else fast)

    return switch


def test_fast_listing_is_the_sdks_answer_byte_for_byte_in_every_protocol_version(world, sdk_only, settings):
    from apps.governance.services import grant_create, policy_create

    owner = world.people.owner
    box = make_project(world.people.org, owner, name="Box")
    assert import_spec(box, "box.json", owner).status == "ready"
    grant_create(project=box, actor=owner, effect="allow", principal_kind="role", role="member", all_tools=True)
    # held tools get an approval-aware outputSchema: part of what is validated and encoded
    policy_create(project=box, actor=owner, name="Critical", kind="single", categories=["critical"])
    endpoint = f"{world.url}/mcp/{world.people.org.slug}/{box.slug}/development/"
    member = world.tokens["member"]

    for page_size in (1000, 70):  # one page, then pages with a cursor
        settings.MCP_TOOLS_PAGE_SIZE = page_size
        for version in VERSIONS:
            sdk_only(False)
            fast = all_pages(endpoint, member, version)
            again = all_pages(endpoint, member, version)  # from the cache
            sdk_only(True)
            reference = all_pages(endpoint, member, version)
            assert len(fast) == len(reference) and (len(fast) == 1) == (page_size == 1000)
            for fast_page, cached_page, sdk_page in zip(fast, again, reference, strict=True):
                assert fast_page.content == sdk_page.content == cached_page.content, version
                assert fast_page.headers["content-length"] == str(len(sdk_page.content))
                assert json.loads(fast_page.content)["result"]["tools"], version

    tools = json.loads(fast[0].content)["result"]["tools"]
    assert any(any(ord(c) > 127 for c in json.dumps(t, ensure_ascii=False)) for t in tools)  # both encodings tried
    # every answer, fast or not, is audited
    listed = audit_events(world.people.org, "gateway.tools_listed")
    assert len(listed) == len(VERSIONS) * 3 * (1 + len(fast))


def test_fast_listing_follows_every_change_at_once_in_both_eras(world):
    """The encoded pages live in the project snapshot next to the listing, so whatever drops
    the listing (a config version bump) drops them: enablement, grants, a re-import."""
    from apps.governance.models import Grant
    from apps.governance.services import grant_delete, tool_set_enabled

    owner, endpoint, member = world.people.owner, world.endpoint(), world.tokens["member"]
    eras = (HANDSHAKE_PROTOCOL_VERSIONS[-1], MODERN_PROTOCOL_VERSIONS[-1])

    def names(version: str) -> list[str]:
        return [t["name"] for t in raw_list(endpoint, member, version).json()["result"]["tools"]]

    before = {version: names(version) for version in eras}
    assert all("getInventory" in listed for listed in before.values())
    assert list_names(endpoint, member) == before[eras[0]]  # the official client reads it (auto mode)
    assert list_names(endpoint, member, mode="legacy") == before[eras[0]]

    tool_set_enabled(project=world.project, environment=world.environment, operation_keys=["GET /store/inventory"],
                     enabled=False, actor=owner)
    for version in eras:
        assert names(version) == [name for name in before[version] if name != "getInventory"]

    assert import_spec(world.project, "petstore-v3.yaml", owner, data=petstore_without_orders()).status == "ready"
    for version in eras:
        assert "getOrderById" not in names(version) and "getPetById" in names(version)

    grant_delete(grant=Grant.objects.get(project=world.project, role="member"), actor=owner)
    for version in eras:
        assert names(version) == ["mcpforge_approval_status"]
    assert list_names(endpoint, member) == ["mcpforge_approval_status"]


def test_splice_needs_exactly_one_empty_tools_array():
    assert listing_wire.splice(b'{"result":{"tools":[],"ttlMs":0}}', b'[{"name":"a"}]') == \
        b'{"result":{"tools":[{"name":"a"}],"ttlMs":0}}'
    assert listing_wire.splice(b'{"error":{"code":-32603,"message":"x"}}', b"[]") is None
    assert listing_wire.splice(b'{"tools":[],"tools":[]}', b"[]") is None
    # a request id cannot fake the key: inside a JSON string every quote is escaped
    body = json.dumps({"id": '"tools":[]', "result": {"tools": []}}, separators=(",", ":")).encode()
    assert listing_wire.splice(body, b"[1]") == body.replace(b'{"tools":[]}', b'{"tools":[1]}')
