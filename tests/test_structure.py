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


def imports_at_load(path: Path, anywhere: bool = False) -> set[str]:
    """bench modules imported when `path` is imported (top level), or, with `anywhere`, also
    inside its functions (imported when they are first called)."""
    found = set()
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree) if anywhere else tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bench"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("bench"))
    return {m for m in found if m in MODULES and m != "bench"}


@pytest.mark.parametrize("anywhere", [False, True], ids=["at load", "inside functions too"])
def test_no_module_imports_itself_back_through_others(anywhere):
    # An import inside a function only hides a cycle from the interpreter: the modules still
    # depend on each other, so data no longer flows one way.
    graph = {name: imports_at_load(path, anywhere) for name, path in MODULES.items()}
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for target in sorted(graph[name]):
            # A package's __init__ re-exports its modules (`from bench.card import cost` names the
            # package itself); importing one of them is not a cycle.
            if target == name or name.startswith(target + ".") or target.startswith(name + "."):
                continue
            if state.get(target) == "open":
                pytest.fail("import cycle: " + " -> ".join([*trail, name, target]))
            if target not in state:
                visit(target, [*trail, name])
        state[name] = "done"

    for name in graph:
        if name not in state:
            visit(name, [])


def test_no_library_module_imports_the_command_line():
    command_line = {"bench.cli", "bench.commands", "bench.__main__"}
    for name, path in MODULES.items():
        if name not in command_line:
            imported = imports_at_load(path, anywhere=True) & command_line
            assert not imported, f"{name} imports {', '.join(sorted(imported))}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_stay_under_the_size_of_one_idea(name):
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{name} has {lines} lines"
