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

# The audit log's web layer (its pages, REST view and URL conf, and any template tags) is not the
# audit every app uses: it reads the accounts' access helpers, so it ranks just above accounts,
# and no module imports it except a URL conf. The rest of audit depends on core only.
AUDIT_WEB_MODULES = {"api", "views", "urls", "api_urls", "templatetags"}
AUDIT_WEB = "audit_web"
RANK[AUDIT_WEB] = RANK["accounts"] + 0.5
URL_CONFS = {"urls.py", "api_urls.py"}


def _layer(module_parts: list[str]) -> str:
    """The layer of module ``apps.<app>.<...>``: its app, or the audit web layer."""
    if module_parts[0] == "audit" and len(module_parts) > 1 and module_parts[1] in AUDIT_WEB_MODULES:
        return AUDIT_WEB
    return module_parts[0]


def _imported_modules(rel: pathlib.PurePath, node: ast.AST) -> list[str]:
    """The modules of our code ``node`` imports (``apps.x.y``; relative imports resolved, and
    ``from apps.x import y`` read as ``apps.x.y`` too, since ``y`` may be a module)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom):
        if node.level:
            package = ["apps", *rel.parts[:-1]][:len(rel.parts) + 1 - node.level]
            base = ".".join([*package, *([node.module] if node.module else [])])
        else:
            base = node.module or ""
        return [base, *(f"{base}.{a.name}" for a in node.names)]
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "import_module"
            and node.args and isinstance(node.args[0], ast.Constant)):
        return [str(node.args[0].value)]
    return []


def app_edges(root=APPS) -> dict[tuple[str, str], list[str]]:
    """{(layer, other layer): ["path:line", ...]} for every import of another app (or between
    audit and its web layer, relative imports included), at module level or inside a function
    (a function-level import is still a dependency). A layer is an app, or ``audit_web``."""
    edges: dict[tuple[str, str], list[str]] = {}
    for rel, tree in _sources(root):
        if len(rel.parts) < 2:
            continue
        source = _layer([rel.parts[0], rel.parts[1].removesuffix(".py")])
        for node in ast.walk(tree):
            targets = set()
            for module in _imported_modules(rel, node):
                parts = module.split(".")
                if parts[0] == "apps" and len(parts) > 1:
                    targets.add(_layer(parts[1:]))
            for target in sorted(targets - {source}):
                where = f"apps/{rel}:{node.lineno}"
                if where not in edges.get((source, target), []):
                    edges.setdefault((source, target), []).append(where)
    return edges


def audit_web_importers(root=APPS) -> list[str]:
    """Modules other than URL confs that import the audit web layer (relative imports too)."""
    found = []
    for rel, tree in _sources(root):
        if rel.name in URL_CONFS:
            continue
        for node in ast.walk(tree):
            for module in _imported_modules(rel, node):
                parts = module.split(".")
                if parts[0] == "apps" and len(parts) > 2 and _layer(parts[1:]) == AUDIT_WEB:
                    found.append(f"apps/{rel}:{node.lineno}")
                    break
    return found


def allowed(source: str, target: str) -> bool:
    if target == AUDIT_WEB:
        return True  # only URL confs may import it: test_only_url_confs_import_the_audit_web_layer
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
    wrong = {edge: where for edge, where in app_edges().items() if not allowed(*edge)}
    assert wrong == {}, "imports against the declared app order (README 'Architecture'):\n" + "\n".join(
        f"{a} -> {b}: {', '.join(where[:5])}" for (a, b), where in sorted(wrong.items()))


def test_no_new_cycle_between_apps():
    """The app graph (the audit web layer apart from audit) has no cycle at all."""
    assert cycles(set(app_edges())) == []


def test_only_url_confs_import_the_audit_web_layer():
    """apps/audit/{api,views,urls}.py (and template tags) are reached through URL confs only, so
    their imports of accounts never make the audit every app uses depend on accounts."""
    assert audit_web_importers() == []


def test_the_checks_see_a_function_level_cycle(tmp_path):
    for app, body in (("core", "def f():\n    from apps.risk import x\n"), ("risk", "from apps.core import y\n")):
        (tmp_path / "apps" / app).mkdir(parents=True)
        (tmp_path / "apps" / app / "m.py").write_text(body)
    edges = app_edges(tmp_path / "apps")
    assert set(edges) == {("core", "risk"), ("risk", "core")}
    assert not allowed("core", "risk") and allowed("risk", "core")
    assert cycles(edges) == [["core", "risk"]]


def test_the_checks_see_the_audit_web_layer(tmp_path):
    files = {
        "audit/views.py": "from apps.accounts.access import org_access\nfrom .selectors import q\n",
        "audit/urls.py": "from . import views\n",
        "audit/services.py": "def f():\n    from apps.accounts.models import Organization\n",
        "audit/tasks.py": "from .views import page\n",
        "accounts/urls.py": "from apps.audit import views\n",
        "accounts/services.py": "from apps.audit.services import audit_record\nfrom apps.audit import api\n",
    }
    for name, body in files.items():
        (tmp_path / "apps" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "apps" / name).write_text(body)
    edges = app_edges(tmp_path / "apps")
    assert set(edges) == {(AUDIT_WEB, "accounts"), (AUDIT_WEB, "audit"), ("audit", "accounts"),
                          ("audit", AUDIT_WEB), ("accounts", AUDIT_WEB), ("accounts", "audit")}
    assert allowed(AUDIT_WEB, "accounts") and allowed(AUDIT_WEB, "audit") and allowed(AUDIT_WEB, "core")
    assert not allowed(AUDIT_WEB, "projects") and not allowed("audit", "accounts")
    assert audit_web_importers(tmp_path / "apps") == ["apps/accounts/services.py:2", "apps/audit/tasks.py:1"]
    assert cycles(edges) == [["accounts", "audit", "audit_web"]]
