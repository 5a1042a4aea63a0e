"""Architecture rules checked on the source of apps/ (issue 23): no guarded imports of our own
code, and (below) one direction of dependencies between the apps."""

from __future__ import annotations

import ast
import pathlib

APPS = pathlib.Path(__file__).resolve().parent.parent / "apps"


def _sources(root=APPS):
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if "migrations" in rel.parts:
            continue
        yield rel, ast.parse(path.read_text(), filename=str(path))


def _imports_our_code(node: ast.AST) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, ast.ImportFrom) and sub.level == 0 and (sub.module or "").split(".")[0] == "apps":
            return True
        if isinstance(sub, ast.ImportFrom) and sub.level > 0:
            return True
        if isinstance(sub, ast.Import) and any(a.name.split(".")[0] == "apps" for a in sub.names):
            return True
        if (isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute) and sub.func.attr == "import_module"
                and sub.args and isinstance(sub.args[0], ast.Constant)
                and str(sub.args[0].value).startswith(("apps.", "."))):
            return True
    return False


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True  # a bare except hides an ImportError too
    names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError", "Exception",
                                                    "BaseException") for n in names)


def guarded_imports(root=APPS) -> list[str]:
    found = []
    for rel, tree in _sources(root):
        for node in ast.walk(tree):
            if not isinstance(node, ast.Try):
                continue
            if any(_catches_import_error(h) for h in node.handlers) and any(
                    _imports_our_code(stmt) for stmt in node.body):
                found.append(f"apps/{rel}:{node.lineno}")
    return found


def test_no_import_of_our_own_code_is_guarded():
    """A failing import of apps.* must be loud: never `try: from apps... except ImportError`."""
    assert guarded_imports() == []


def test_the_guard_check_sees_a_guarded_import(tmp_path):
    bad = tmp_path / "apps" / "x"
    bad.mkdir(parents=True)
    (bad / "selectors.py").write_text(
        "def f():\n    try:\n        from apps.governance.selectors import enabled_map\n"
        "    except ImportError:\n        enabled_map = None\n")
    assert guarded_imports(tmp_path / "apps") == ["apps/x/selectors.py:2"]


# --------------------------------------------------------------------------- dependency direction
# Issue 23 item 1. Apps depend only downward in this order (README "Architecture"); audit is
# usable by every app and itself depends only on core; oauth and reports sit above gateway.
ORDER = ["core", "accounts", "projects", "specs", "inventory", "risk", "governance", "credentials", "approvals",
         "toolsets", "gateway"]
RANK = {app: i for i, app in enumerate(ORDER)} | {"oauth": len(ORDER), "reports": len(ORDER)}

# Edges that still point the wrong way. Each is a TODO naming where; remove an entry when its
# import is gone (the test fails on an entry that no longer exists, so this list only shrinks).
KNOWN_UPWARD = {
    # TODO(issue 23): audit.models FK to Organization, audit/api+views use the access helpers,
    # audit_checkpoint_all lists organizations
    ("audit", "accounts"),
}


def app_edges(root=APPS) -> dict[tuple[str, str], list[str]]:
    """{(app, other app): ["path:line", ...]} for every import of another app, at module level
    or inside a function (a function-level import is still a dependency)."""
    edges: dict[tuple[str, str], list[str]] = {}
    for rel, tree in _sources(root):
        if len(rel.parts) < 2:
            continue
        source = rel.parts[0]
        for node in ast.walk(tree):
            modules: list[str] = []
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [f"apps.{a.name}" for a in node.names] if node.module == "apps" else [node.module]
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr == "import_module" and node.args and isinstance(node.args[0], ast.Constant)):
                modules = [str(node.args[0].value)]
            for module in modules:
                parts = module.split(".")
                if parts[0] == "apps" and len(parts) > 1 and parts[1] != source:
                    edges.setdefault((source, parts[1]), []).append(f"apps/{rel}:{node.lineno}")
    return edges


def allowed(source: str, target: str) -> bool:
    if source == "audit":
        return target == "core"
    if target == "audit":
        return True
    return RANK[target] < RANK[source]


def cycles(edges) -> list[list[str]]:
    """Strongly connected components with more than one app (Tarjan)."""
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_app_is_in_the_declared_order():
    apps = {p.name for p in APPS.iterdir() if (p / "apps.py").exists()}
    assert apps - {"audit"} <= set(RANK), apps - set(RANK)


def test_dependencies_point_down():
    wrong = {edge: where for edge, where in app_edges().items()
             if not allowed(*edge) and edge not in KNOWN_UPWARD}
    assert wrong == {}, "imports against the declared app order (README 'Architecture'):\n" + "\n".join(
        f"{a} -> {b}: {', '.join(where[:5])}" for (a, b), where in sorted(wrong.items()))


def test_known_upward_edges_still_exist():
    """An allow-list entry whose import is gone must be removed (the list only shrinks)."""
    edges = app_edges()
    assert sorted(e for e in KNOWN_UPWARD if e not in edges) == []


def test_no_new_cycle_between_apps():
    """Without the known upward edges the app graph has no cycle at all."""
    edges = {e for e in app_edges() if e not in KNOWN_UPWARD}
    assert cycles(edges) == []


def test_the_checks_see_a_function_level_cycle(tmp_path):
    for app, body in (("core", "def f():\n    from apps.risk import x\n"), ("risk", "from apps.core import y\n")):
        (tmp_path / "apps" / app).mkdir(parents=True)
        (tmp_path / "apps" / app / "m.py").write_text(body)
    edges = app_edges(tmp_path / "apps")
    assert set(edges) == {("core", "risk"), ("risk", "core")}
    assert not allowed("core", "risk") and allowed("risk", "core")
    assert cycles(edges) == [["core", "risk"]]
