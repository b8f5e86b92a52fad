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

# The stages, from the bottom up. A module may import its own package and any stage below its
# own, never one above it nor another package of its own stage: data flows grid file -> run
# specs -> engine -> tables -> report, and what each stage needs lies beneath it. The top-level
# modules other than these are the vocabulary every stage shares (spec, schema, stats, errors,
# colors); the package root `bench` is the public surface and imports what it re-exports.
STAGES = [
    {"vocabulary"},
    {"activations", "data"},
    {"grid"},
    {"engine"},
    {"results"},
    {"run"},
    {"report", "explore", "perf"},
    {"api"},
    {"card"},
    {"cli"},
    {"__main__"},
]
STAGE_OF = {stage: rank for rank, stages in enumerate(STAGES) for stage in stages}
VOCABULARY = {"spec", "schema", "stats", "errors", "colors"}
MAX_TOP_LEVEL_MODULES = 8  # bench/*.py, __init__ and __main__ included; the rest are packages


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


def stage(module: str) -> str:
    """bench.grid.axes -> grid; bench.spec -> vocabulary; bench.api -> api."""
    part = module.split(".")[1]
    return "vocabulary" if part in VOCABULARY else part


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Every import in `graph` (module -> the modules it imports) that runs up the stages or
    across to another package of the same stage."""
    found = []
    for name, targets in graph.items():
        if name == "bench":
            continue
        for target in sorted(targets):
            own, theirs = stage(name), stage(target)
            if own != theirs and STAGE_OF[theirs] >= STAGE_OF[own]:
                found.append(f"{name} ({own}) imports {target} ({theirs})")
    return found


def import_graph() -> dict[str, set[str]]:
    return {name: imports_at_load(path, anywhere=True) for name, path in MODULES.items()}


def test_every_package_and_top_level_module_has_a_stage():
    assert {stage(name) for name in MODULES if name != "bench"} <= set(STAGE_OF)


def test_no_import_runs_up_a_stage():
    assert upward_imports(import_graph()) == []


def test_an_upward_import_is_caught():
    # The import this layout removed: the grid's axes reading two constants from the engine's
    # reference model. Added back, the check names it.
    graph = import_graph()
    graph["bench.grid.axes"] = graph["bench.grid.axes"] | {"bench.engine.reference"}
    assert upward_imports(graph) == [
        "bench.grid.axes (grid) imports bench.engine.reference (engine)"
    ]
    graph = import_graph()  # across one stage: the report reaching into explore
    graph["bench.report.summary"] = graph["bench.report.summary"] | {"bench.explore.page"}
    assert upward_imports(graph) == [
        "bench.report.summary (report) imports bench.explore.page (explore)"
    ]


def test_the_top_level_reads_as_the_stages():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top
    for package in sorted(p.parent for p in PACKAGE.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text()))
        assert doc, f"bench/{package.name}/__init__.py has no docstring naming its stage"


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
    command_line = {"bench.cli", "bench.cli.commands", "bench.__main__"}
    for name, path in MODULES.items():
        if name not in command_line:
            imported = imports_at_load(path, anywhere=True) & command_line
            assert not imported, f"{name} imports {', '.join(sorted(imported))}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_stay_under_the_size_of_one_idea(name):
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{name} has {lines} lines"


def test_old_import_paths_keep_working_or_name_the_new_one():
    import importlib

    import bench.plugins
    import bench.registry

    import bench
    import bench.activations

    assert bench.registry.register_activation is bench.register_activation
    assert (
        bench.plugins.load_registry
        is importlib.import_module("bench.activations.plugins").load_registry
    )
    assert bench.activations.BUILTINS  # the former module bench/activations.py's names
    # A package that replaced a module serves that module's names.
    assert importlib.import_module("bench.data").make_dataset
    assert importlib.import_module("bench.grid").load_grid
    with pytest.raises(ModuleNotFoundError, match=r"bench\.runner is now bench\.run\.runner"):
        importlib.import_module("bench.runner")
    with pytest.raises(ImportError, match=r"bench\.store is now bench\.results\.store"):
        from bench import store  # noqa: F401
