"""The package's dependency rules hold: api → core → providers, infra implements core's interfaces, no cycles."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import llmgateway

PACKAGE = Path(llmgateway.__file__).parent

#: What each layer may import from the project (besides itself). Third-party imports are not checked here,
#: except Flask, which only the api layer and the composition root may use.
ALLOWED = {
    "providers": {"errors"},
    "core": {"providers", "errors", "config"},
    "infra": {"core", "providers", "errors", "config"},
    "config": {"errors", "providers"},
}
FLASK_FREE = ("providers", "core", "config")


def project_imports(path: Path) -> set[str]:
    """The `llmgateway.*` modules a file imports at run time (TYPE_CHECKING blocks excluded)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from package import submodule` depends on the submodule (resolved in `modules()`)
            names.update(f"{node.module}:{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def modules() -> dict[str, set[str]]:
    raw = {}
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        raw[".".join(relative.parts).removesuffix(".__init__")] = project_imports(path)
    found: dict[str, set[str]] = {}
    for name, imports in raw.items():
        resolved = set()
        for entry in imports:
            module, _, attribute = entry.partition(":")
            resolved.add(f"{module}.{attribute}" if f"{module}.{attribute}" in raw else module)
        found[name] = resolved
    return found


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_each_layer_imports_only_what_it_may():
    wrong = []
    for module, imports in modules().items():
        allowed = ALLOWED.get(layer(module))
        for imported in imports:
            if allowed is not None and imported.startswith("llmgateway."):
                target = layer(imported)
                if target != layer(module) and target not in allowed:
                    wrong.append(f"{module} imports {imported}")
            if layer(module) in FLASK_FREE and (imported == "flask" or imported.startswith("flask.")):
                wrong.append(f"{module} imports {imported}")
    assert wrong == []


def test_no_import_cycle_between_modules():
    graph: dict[str, set[str]] = defaultdict(set)
    known = modules()
    for module, imports in known.items():
        graph[module] = {name for name in imports if name in known and name != module}
    cycles = []
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for successor in sorted(graph[node]):
            if state.get(successor) == 1:
                cycles.append([*path[path.index(successor) :], successor] if successor in path else [node, successor])
            elif successor not in state:
                visit(successor, [*path, successor])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_no_module_is_over_400_lines():
    lines = {str(p.relative_to(PACKAGE)): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    assert {name: count for name, count in lines.items() if count > 400} == {}
