"""The package's modules import one way: no import circle, deferred imports included.

An import inside a function is a dependency like any other (it only runs later), so it counts;
an import under ``if TYPE_CHECKING:`` never runs, so it does not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import infoflow_widget

PACKAGE = Path(infoflow_widget.__file__).parent


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(source: str, module: str, is_package: bool, known: set[str]) -> set[str]:
    """The modules of ``known`` that ``source`` (the module ``module``) imports, TYPE_CHECKING blocks left out."""
    tree = ast.parse(source)
    skipped = {
        id(node)
        for branch in ast.walk(tree)
        if isinstance(branch, ast.If) and "TYPE_CHECKING" in ast.unparse(branch.test)
        for statement in branch.body
        for node in ast.walk(statement)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            # A package's own name is the base of its relative imports; a module's base is its package.
            base = module.split(".")
            base = base[: len(base) - node.level + is_package] if node.level else []
            target = ".".join([*base, *([node.module] if node.module else [])])
            # ``from . import low`` imports the submodule low; ``from . import f`` takes f from the package itself.
            found |= {f"{target}.{alias.name}" if f"{target}.{alias.name}" in known else target for alias in node.names}
    return {name for name in found if name in known and name != module}


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    paths = {module_name(p, root): p for p in root.rglob("*.py")}
    return {
        name: imports_of(path.read_text(encoding="utf-8"), name, path.name == "__init__.py", set(paths))
        for name, path in paths.items()
    }


def find_circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as ``[a, b, ..., a]``, or None (depth-first search for a back edge)."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = "open"
        stack.append(name)
        for other in sorted(graph[name]):
            if state.get(other) == "open":
                return [*stack[stack.index(other) :], other]
            if other not in state and (circle := visit(other)):
                return circle
        stack.pop()
        state[name] = "done"
        return None

    return next((circle for name in sorted(graph) if name not in state and (circle := visit(name))), None)


def test_the_package_has_no_import_circle():
    graph = import_graph()
    engine = "infoflow_widget.engine.engine"
    assert engine in graph and graph[engine], "the scan found the modules"
    circle = find_circle(graph)
    assert circle is None, "import circle: " + " -> ".join(circle or [])


def test_deferred_imports_count_and_type_checking_imports_do_not(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from .low import f\n")
    (package / "low.py").write_text("def f():\n    from .high import g\n    return g\n")
    (package / "high.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .top import T\nfrom . import low\n"
    )
    (package / "top.py").write_text("from pkg.high import g\n")
    graph = import_graph(package)
    assert graph == {
        "pkg": {"pkg.low"},
        "pkg.low": {"pkg.high"},
        "pkg.high": {"pkg.low"},
        "pkg.top": {"pkg.high"},
    }
    assert find_circle(graph) == ["pkg.low", "pkg.high", "pkg.low"]
    (package / "low.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .high import g\n")
    assert find_circle(import_graph(package)) is None
