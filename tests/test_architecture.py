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
