"""The package's shape: data flows one way (no import cycles) and modules stay readable."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "bench"
MAX_MODULE_LINES = 400  # one idea per module; past this, a module holds several


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_at_load(path: Path) -> set[str]:
    """bench modules imported when `path` is imported (top level, not inside functions)."""
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bench"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("bench"))
    return {m for m in found if m in MODULES and m != "bench"}


def test_no_module_imports_itself_back_through_others():
    graph = {name: imports_at_load(path) for name, path in MODULES.items()}
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for target in sorted(graph[name]):
            # A package's __init__ re-exports its modules; importing one of them is not a cycle.
            if name.startswith(target + ".") or target.startswith(name + "."):
                continue
            if state.get(target) == "open":
                pytest.fail("import cycle: " + " -> ".join([*trail, name, target]))
            if target not in state:
                visit(target, [*trail, name])
        state[name] = "done"

    for name in graph:
        if name not in state:
            visit(name, [])


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_stay_under_the_size_of_one_idea(name):
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{name} has {lines} lines"
