"""What a gateway process keeps in memory per project, valid for one config version.

Why
    Every tools/call needs the project's grants, approval policies and tool switches, the
    called tool's row (schemas, argument map) and the environment's decrypted credentials.
    Reading them costs about ten ORM queries, which is most of a call's latency. They change
    rarely, so each process keeps them here and re-reads only when they change.

How a change is noticed
    Database triggers bump ``governance_configversion.version`` for a project on every insert,
    update or delete of its tools, spec versions, tool switches, grants, approval policies,
    credentials and credential versions (governance migration 0002). The query that
    authenticates each MCP request (``selectors.caller_query``) reads that version too, so
    a snapshot is used only while its version is the current one: a change committed by any
    process (web, worker, shell, another gateway replica) applies from the very next request.
    The caller's role, teams, token state and the environment row are read live by that same
    query, so they are never cached.

    A snapshot is filled lazily: rules on first use, a tool on its first call, the tool
    list on the first tools/list, credentials on the first call that needs them. Data read
    after the version was read can only be newer than that version, never older.

Memory
    One snapshot per project (the current version replaces older ones), at most
    ``MAX_PROJECTS`` projects, least recently used dropped first. Decrypted secrets live only
    here and in the request being built, never in logs or reprs.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from apps.governance import rules as governance_rules

MAX_PROJECTS = 512
MAX_TOOLS_PER_PROJECT = 5000
MAX_LISTINGS_PER_PROJECT = 256

# Light columns of the current tools for tools/list (the schemas come from the definitions cache).
LISTING_FIELDS = ("name", "operation_key", "category", "category_tags", "tags", "poisoning", "position",
                  "updated_at")


@dataclass(frozen=True)
class SnapshotKey:
    project_id: int
    project_public_id: str  # a restored database could reuse a project id; never its uuid
    version: int


@dataclass
class ProjectSnapshot:
    """One project's cached governance, tools and credentials for one config version."""

    key: SnapshotKey
    rules: governance_rules.ProjectRules | None = None
    tools: dict[str, Any] = field(default_factory=dict)
    listing: list[Any] | None = None
    # environment id -> operation_key -> pinned Tool row served instead of the current one
    # (None: not served); see governance.selectors.stale_pins
    pins: dict[str, dict[str, Any]] | None = None
    # tools/list answers by (subject, environment, definition variant): same version, same rules,
    # same caller facts -> same list (selectors.tool_definitions), and its pages encoded for the
    # wire (listing_wire.py, keyed by selectors.wire_page_key); dropped with the snapshot
    listings: dict[tuple, Any] = field(default_factory=dict)
    secrets: dict[tuple[int, str], tuple] = field(default_factory=dict)
    # slug -> ToolsetView of the project's toolsets (apps/toolsets); their changes bump the version
    toolsets: dict[str, Any] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class SnapshotCache:
    """Process-wide ``ProjectSnapshot`` per project; thread-safe (gateway database threads)."""

    def __init__(self, max_projects: int = MAX_PROJECTS):
        self.max_projects = max_projects
        self._by_project: OrderedDict[int, ProjectSnapshot] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: SnapshotKey) -> ProjectSnapshot:
        with self._lock:
            snapshot = self._by_project.get(key.project_id)
            if snapshot is None or snapshot.key != key:
                snapshot = ProjectSnapshot(key=key)
                self._by_project[key.project_id] = snapshot
            self._by_project.move_to_end(key.project_id)
            while len(self._by_project) > self.max_projects:
                self._by_project.popitem(last=False)
            return snapshot

    def clear(self) -> None:
        with self._lock:
            self._by_project.clear()


snapshots = SnapshotCache()


# --------------------------------------------------------------------------- lazy parts (ORM)


def project_rules(snapshot: ProjectSnapshot) -> governance_rules.ProjectRules:
    """The project's grants, policies and switches (three queries on first use)."""
    if snapshot.rules is None:
        from apps.governance.selectors import project_rules as load_rules

        loaded = load_rules(snapshot.key.project_id)
        with snapshot.lock:
            if snapshot.rules is None:
                snapshot.rules = loaded
    return snapshot.rules


def tool(snapshot: ProjectSnapshot, project, name: str):
    """The current tool called ``name``, or None (one query on first use; misses are not
    remembered, so unknown names cannot fill the memory)."""
    found = snapshot.tools.get(name)
    if found is not None:
        return found
    from apps.inventory.selectors import tool_by_name

    found = tool_by_name(project, name)
    if found is not None:
        with snapshot.lock:
            if len(snapshot.tools) < MAX_TOOLS_PER_PROJECT:
                snapshot.tools[name] = found
    return found


def listing(snapshot: ProjectSnapshot, project) -> list[Any]:
    """The current tools in document order, light columns only (one query on first use)."""
    if snapshot.listing is None:
        from apps.inventory.selectors import current_tools

        loaded = list(current_tools(project).only(*LISTING_FIELDS))
        with snapshot.lock:
            if snapshot.listing is None:
                snapshot.listing = loaded
    return snapshot.listing


def toolsets(snapshot: ProjectSnapshot) -> dict[str, Any]:
    """slug -> ``ToolsetView`` of the project's toolsets (one query on first use)."""
    if snapshot.toolsets is None:
        from apps.toolsets.selectors import toolset_views

        loaded = toolset_views(snapshot.key.project_id)
        with snapshot.lock:
            if snapshot.toolsets is None:
                snapshot.toolsets = loaded
    return snapshot.toolsets


def pins(snapshot: ProjectSnapshot, environment_id) -> dict[str, Any]:
    """operation_key -> the pinned ``Tool`` row an environment serves instead of the current
    one (a re-import changed it and no admin accepted the change yet), or None (not served).
    Two queries on first use per config version; empty for most environments."""
    if snapshot.pins is None:
        from apps.governance.selectors import stale_pins

        loaded = stale_pins(snapshot.key.project_id)
        with snapshot.lock:
            if snapshot.pins is None:
                snapshot.pins = loaded
    return snapshot.pins.get(str(environment_id), {})


def served_tool(env_pins: dict[str, Any], name: str, current: Any) -> Any:
    """The tool an environment serves under ``name``: a pinned row of that name, else the
    current tool (``current``, a row or None) unless its operation is pinned to another row."""
    for row in env_pins.values():
        if row is not None and row.name == name:
            return row
    if current is not None and current.operation_key in env_pins:
        return None
    return current


def served_listing(env_pins: dict[str, Any], tools: list[Any]) -> list[Any]:
    """The current tools as an environment serves them: pinned rows in place of changed ones,
    tools pinned to nothing dropped, and no current tool that shadows a pinned name."""
    if not env_pins:
        return tools
    pinned_names = {row.name for row in env_pins.values() if row is not None}
    served = []
    for tool_row in tools:
        if tool_row.operation_key in env_pins:
            if env_pins[tool_row.operation_key] is not None:
                served.append(env_pins[tool_row.operation_key])
        elif tool_row.name not in pinned_names:
            served.append(tool_row)
    return served


def _secrets_key(environment, tool_row) -> tuple[int, str]:
    return (environment.pk, json.dumps(tool_row.security or [], sort_keys=True, default=str))


def secrets_ready(snapshot: ProjectSnapshot, environment, tool_row) -> bool:
    """Whether ``tool_row``'s credentials can be applied without I/O: decrypted material cached
    here and, for OAuth2 client credentials, an access token that is still fresh."""
    from apps.credentials import oauth, schemes

    cached = snapshot.secrets.get(_secrets_key(environment, tool_row))
    if cached is None:
        return False
    return all(oauth.has_fresh_token(cache_key=m.version_id, scopes=list(m.config.get("scopes", [])))
               for m in cached if m.kind == schemes.OAUTH2_CLIENT_CREDENTIALS)


def upstream_secrets(snapshot: ProjectSnapshot, environment, tool_row) -> tuple:
    """The decrypted credentials ``tool_row`` needs in ``environment`` (two queries and the
    decryption on first use per environment and security requirement). A missing credential
    raises ``CredentialMissing`` and is not remembered."""
    from apps.credentials.services import upstream_secrets as load_secrets

    key = _secrets_key(environment, tool_row)
    cached = snapshot.secrets.get(key)
    if cached is not None:
        return cached
    loaded = load_secrets(environment, tool_row)
    with snapshot.lock:
        snapshot.secrets[key] = loaded
    return loaded
