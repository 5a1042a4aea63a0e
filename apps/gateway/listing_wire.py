"""tools/list on the wire: the tools of a cached listing page, validated and encoded once.

A Box listing is ~300 tools with large schemas. Through the SDK alone, every tools/list would
validate the whole page into the protocol version's ``ListToolsResult`` (pydantic), dump it
back, and JSON-encode it in the response envelope: tens of milliseconds of CPU per request for
an answer that only changes with the project snapshot. So the gateway splits the answer:

- the ``tools`` array of a page is validated with the SDK's own surface model for the
  negotiated protocol version (``mcp_types.methods.serialize_server_result``, what the SDK's
  runner does to every result) and encoded the way that version's transport encodes it, once
  per snapshot, caller fingerprint, page and version (``encoded_tools``, cached in the
  project snapshot by ``selectors.listing_memo``, so it is dropped exactly when the listing is);
- the handler returns the page with ``"tools": []``, which the SDK validates, stamps and
  encodes as always (cursor, ``ttlMs``, ``cacheScope``, ``resultType``, ``_meta``, the
  JSON-RPC envelope, the HTTP response);
- ``splice`` puts the encoded tools in place of the empty array in the response body.

Why the splice is exact: the body is compact JSON (both transports encode without spaces), and
``"tools":[]`` can only be the result's own key: inside a JSON string every ``"`` is escaped,
so no string value (a request id, the server info) can contain it. ``splice`` insists on
exactly one occurrence. tests/gateway/test_listing_wire.py compares the answer byte for byte
with the SDK's own serialization of the same result for every protocol version it supports.
"""

from __future__ import annotations

import json
from typing import Any

import pydantic_core
from mcp_types import methods
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

METHOD = "tools/list"
PLACEHOLDER = b'"tools":[]'


def encoded_tools(page: dict[str, Any], version: str) -> bytes:
    """The page's ``tools`` as the SDK would put them on the wire for ``version``: validated
    and sieved by the version's ``ListToolsResult`` (raises ``pydantic.ValidationError`` on an
    invalid page, as the SDK's runner would), then encoded like that era's transport: the
    handshake era's (``StreamableHTTPServerTransport``) with pydantic's ``model_dump_json``,
    the 2026-07-28 one (``_streamable_http_modern``) with compact ``json.dumps``."""
    tools = methods.serialize_server_result(METHOD, version, page)["tools"]
    if version in HANDSHAKE_PROTOCOL_VERSIONS:
        return pydantic_core.to_json(tools)
    return json.dumps(tools, separators=(",", ":")).encode()


def splice(body: bytes, tools: bytes) -> bytes | None:
    """``body`` with ``tools`` in place of its empty tools array; None when the body is not
    a listing answer with exactly one (e.g. a JSON-RPC error that replaced the result)."""
    if body.count(PLACEHOLDER) != 1:
        return None
    return body.replace(PLACEHOLDER, b'"tools":' + tools, 1)
