"""The package's layers: no import circle at run time, each package imports only the packages below it, and no module
reads another package's private names.

An import inside a function is a dependency like any other (it only runs later), so it always counts. An import
under ``if TYPE_CHECKING:`` never runs, so it does not count for circles, but it does for layers: a type names what
a module depends on.
"""

from __future__ import annotations

import ast
from pathlib import Path

import infoflow_widget

PACKAGE = Path(infoflow_widget.__file__).parent


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(source: str, module: str, is_package: bool, known: set[str], typing: bool = False) -> set[str]:
    """The modules of ``known`` that ``source`` (module ``module``) imports; TYPE_CHECKING blocks if ``typing``."""
    tree = ast.parse(source)
    skipped = {
        id(node)
        for branch in ast.walk(tree)
        if not typing and isinstance(branch, ast.If) and "TYPE_CHECKING" in ast.unparse(branch.test)
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


def import_graph(root: Path = PACKAGE, typing: bool = False) -> dict[str, set[str]]:
    paths = {module_name(p, root): p for p in root.rglob("*.py")}
    return {
        name: imports_of(path.read_text(encoding="utf-8"), name, path.name == "__init__.py", set(paths), typing)
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


# The layers, bottom first; README's architecture section lists them with one line each. A package may import from
# itself and from the packages before it in this list. The top-level ``infoflow_widget`` only names the public API
# (each name imported on first use), so it sits above every layer.
LAYERS = ["core", "text", "graph", "interventions", "search", "engine", "analysis", "widget", "cli"]


def layer_of(module: str) -> int:
    parts = module.split(".")
    return len(LAYERS) if len(parts) == 1 else LAYERS.index(parts[1])


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{module} -> {other}"
        for module, others in graph.items()
        for other in others
        if layer_of(other) > layer_of(module)
    )


def test_every_package_is_a_layer_and_every_layer_a_package():
    assert sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()) == sorted(LAYERS)
    loose = sorted(p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    assert loose == [], f"modules outside the layers: {loose}"


def test_each_package_imports_only_the_layers_below_it_type_only_imports_included():
    graph = import_graph(typing=True)
    assert any(layer_of(m) == 0 for m in graph) and graph["infoflow_widget.engine.engine"], "the scan found modules"
    assert upward_imports(graph) == []


def test_the_layer_check_sees_type_only_and_deferred_imports(tmp_path):
    package = tmp_path / "infoflow_widget"
    for layer in ("core", "engine"):
        (package / layer).mkdir(parents=True)
        (package / layer / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "engine" / "run.py").write_text("from ..core import low\n")
    (package / "core" / "low.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..engine.run import R\n"
    )
    assert upward_imports(import_graph(package, typing=True)) == [
        "infoflow_widget.core.low -> infoflow_widget.engine.run"
    ]
    (package / "core" / "low.py").write_text("def f():\n    from ..engine import run\n")
    assert upward_imports(import_graph(package, typing=True)) == [
        "infoflow_widget.core.low -> infoflow_widget.engine.run"
    ]
    (package / "core" / "low.py").write_text("")
    assert upward_imports(import_graph(package, typing=True)) == []


def private_reads(root: Path = PACKAGE) -> list[str]:
    """Private names one package takes from another: ``from .x import _name``, and ``obj._attr`` (obj not self or
    cls) where ``_attr`` is defined in another of our packages and not in the reader's own (third-party privates,
    such as nnsight's ``model._module``, are the business of the module that wraps them)."""
    trees = {module_name(p, root): ast.parse(p.read_text(encoding="utf-8")) for p in root.rglob("*.py")}

    def package(module: str) -> str:
        return module.split(".")[1] if module.count(".") else ""

    def private(name: str) -> bool:
        return name.startswith("_") and not name.startswith("__")

    defined: dict[str, set[str]] = {}
    for module, tree in trees.items():
        names = defined.setdefault(package(module), set())
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
    found = []
    for module, tree in trees.items():
        own = defined[package(module)]
        others = set().union(*(names for name, names in defined.items() if name != package(module)))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level:
                found += [f"{module}: from {'.' * node.level}{node.module or ''} import {a.name}"
                          for a in node.names if private(a.name) and a.name not in own]  # fmt: skip
            elif isinstance(node, ast.Attribute) and private(node.attr) and node.attr in others - own:
                if not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                    found.append(f"{module}: {ast.unparse(node)}")
    return sorted(set(found))


def test_no_module_reads_another_packages_private_names():
    assert private_reads() == []
