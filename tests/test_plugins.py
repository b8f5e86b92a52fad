"""The three plugin routes (decorator, local file, entry point) and broken plugins."""

import importlib.metadata
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

import bench
from bench.activations import plugins, registry
from bench.activations.plugins import (
    get_activation,
    load_installed,
    load_plugin_file,
    load_registry,
)
from bench.activations.registry import BUILTIN_REGISTRY, ActivationError
from bench.cli import main
from bench.engine import train_chunk
from bench.spec import RunSpec
from tests.conftest import declarations_restored

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "examples" / "plugin-package"
EXAMPLE_FILE = ROOT / "examples" / "my_activations.py"


@pytest.fixture
def clean_registry():
    """Forgets the activations a test declares."""
    with declarations_restored():
        yield


def write(path: Path, code: str) -> Path:
    path.write_text(textwrap.dedent(code))
    return path


# --------------------------------------------------------------------------- route (a)


def test_decorator_registers_an_elementwise_function(clean_registry):
    @bench.register_activation("cube_root", aliases=("cbrt",))
    def cube_root(x):
        """sign(x) |x|^(1/3)."""
        return torch.sign(x) * x.abs() ** (1 / 3)

    activation = get_activation("CBRT")
    assert activation.name == "cube_root" and not activation.learnable
    assert activation.description == "sign(x) |x|^(1/3)."
    assert activation.source == f"python:{__name__}"
    torch.testing.assert_close(
        activation.make()(torch.tensor([8.0, -27.0])), torch.tensor([2.0, -3.0])
    )


def test_decorator_registers_a_module_with_learnable_parameters(clean_registry):
    @bench.register_activation("slope_relu")
    class SlopeReLU(nn.Module):
        """ReLU with a learnable negative slope."""

        def __init__(self):
            super().__init__()
            self.slope = nn.Parameter(torch.tensor(0.1))

        def forward(self, x):
            return torch.where(x > 0, x, self.slope * x)

    activation = get_activation("slope_relu")
    assert activation.learnable
    first, second = activation.make(), activation.make()
    assert first.slope is not second.slope  # one module (and parameter) per layer
    result = train_chunk([RunSpec(activation="slope_relu", epochs=5, n_samples=100)], activation)
    # 2->10->10->1 weights and biases, plus one slope per hidden layer.
    assert result.n_params == 151 + 2


def test_registering_a_taken_name_fails_and_names_both_sources(clean_registry):
    with pytest.raises(ActivationError, match="'relu' .* already registered .*builtin"):
        bench.register_activation("relu")(lambda x: x)


def test_registering_something_not_callable_fails_clearly(clean_registry):
    with pytest.raises(ActivationError, match="not a function or an nn.Module subclass"):
        bench.register_activation("number")(3.0)
    with pytest.raises(ActivationError, match="must be elementwise"):
        bench.register_activation("reducer")(lambda x: x.sum())
    assert "number" not in plugins.default_registry()
    assert "reducer" not in plugins.default_registry()


# --------------------------------------------------------------------------- route (b)


def test_plugin_file_yields_its_activations_with_the_file_as_source():
    loaded = load_plugin_file(EXAMPLE_FILE)
    assert [a.name for a in loaded] == ["bent_identity", "learnable_prelu"]
    assert all(a.source == str(EXAMPLE_FILE) for a in loaded)
    assert loaded[1].learnable and not loaded[0].learnable


def test_loading_a_plugin_file_returns_a_new_registry_and_changes_nothing_else():
    with_file = load_registry([EXAMPLE_FILE])
    assert "learnable_prelu" in with_file
    assert "learnable_prelu" not in load_registry()  # nothing global was touched
    assert with_file.plugin_files == (str(EXAMPLE_FILE.resolve()),)
    # The same file again (say, on the command line and in the grid) is loaded once.
    assert plugins.add_plugin_file(with_file, EXAMPLE_FILE) is with_file


def test_affine_activations_are_marked_and_piecewise_linear():
    assert BUILTIN_REGISTRY.get("none").affine
    assert not any(a.affine for a in BUILTIN_REGISTRY if a.name != "none")
    identity = registry.make_activation("ident2", lambda x: x, source="test", affine=True)
    assert identity.affine and identity.piecewise_linear


def test_list_activations_shows_plugin_files(clean_registry, capsys):
    plugin = ROOT / "examples" / "my_activations.py"
    assert main(["list-activations", "--plugin", str(plugin)]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("learnable_prelu"))
    assert str(plugin) in line and " yes " in line
    assert any(line.startswith("relu ") and "builtin" in line for line in out.splitlines())


def test_a_plugin_file_that_fails_to_import_is_named_and_leaves_the_registry_usable(
    clean_registry, tmp_path
):
    broken = write(
        tmp_path / "broken.py",
        """
        import bench
        @bench.register_activation("half_registered")
        def f(x):
            return x
        raise RuntimeError("oops in the plugin")
        """,
    )
    with pytest.raises(ActivationError, match=r"broken.py failed to import: RuntimeError: oops"):
        load_registry([broken])
    assert "half_registered" not in plugins.default_registry()
    assert get_activation("relu").name == "relu"


def test_a_plugin_file_registering_a_duplicate_is_reported_with_its_path(clean_registry, tmp_path):
    dup = write(
        tmp_path / "dup.py",
        """
        import bench
        bench.register_activation("tanh")(lambda x: x)
        """,
    )
    with pytest.raises(ActivationError, match=r"'tanh' from .*dup.py is already registered"):
        load_registry([dup])


def test_cli_reports_a_broken_plugin_without_a_traceback(clean_registry, tmp_path, capsys):
    broken = write(tmp_path / "bad.py", "import does_not_exist\n")
    assert main(["list-activations", "--plugin", str(broken)]) == 2
    err = capsys.readouterr().err
    assert "bad.py failed to import: ModuleNotFoundError" in err
    assert "Traceback" not in err
    assert main(["list-activations", "--plugin", str(tmp_path / "missing.py")]) == 2
    assert "does not exist" in capsys.readouterr().err


# --------------------------------------------------------------------------- route (c)


def fake_distribution(tmp_path: Path, entry_points: str, name="demo-acts", version="1.2.3"):
    """An installed-looking distribution on sys.path: a dist-info with entry_points.txt."""
    dist = tmp_path / f"{name.replace('-', '_')}-{version}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (dist / "entry_points.txt").write_text(f"[nonlinbench.activations]\n{entry_points}\n")
    return dist


def test_entry_point_plugin_is_listed_as_package_version_and_usable(
    clean_registry, tmp_path, monkeypatch
):
    # The example package's source, made "installed" by a dist-info on sys.path.
    monkeypatch.syspath_prepend(str(PACKAGE / "src"))
    monkeypatch.syspath_prepend(str(tmp_path))
    fake_distribution(
        tmp_path,
        "squareplus = nonlinbench_squareplus:squareplus",
        "nonlinbench-squareplus",
        "0.1.0",
    )
    activation = load_registry(installed=load_installed()).get("squareplus")
    assert activation.source == "nonlinbench-squareplus==0.1.0"
    torch.testing.assert_close(activation.make()(torch.tensor([0.0])), torch.tensor([1.0]))
    result = train_chunk([RunSpec(activation="squareplus", epochs=5, n_samples=100)], activation)
    assert 0 <= result.metrics["train_acc"][0] <= 1


def test_a_hand_built_entry_point_loads():
    ep = importlib.metadata.EntryPoint(
        name="x_squareplus",
        value="nonlinbench_squareplus:squareplus",
        group="nonlinbench.activations",
    )
    sys.path.insert(0, str(PACKAGE / "src"))
    try:
        (activation,) = plugins.load_entry_point(ep)
    finally:
        sys.path.remove(str(PACKAGE / "src"))
    assert activation.name == "x_squareplus" and activation.source.startswith("entry point")


def test_a_broken_entry_point_is_recorded_and_the_others_still_load(
    clean_registry, tmp_path, monkeypatch
):
    monkeypatch.syspath_prepend(str(PACKAGE / "src"))
    monkeypatch.syspath_prepend(str(tmp_path))
    fake_distribution(
        tmp_path,
        "aaa_broken = no_such_module:thing\nzzz_good = nonlinbench_squareplus:squareplus",
        "mixed-acts",
        "0.0.1",
    )
    loaded = load_registry(installed=load_installed())
    assert loaded.get("zzz_good").source == "mixed-acts==0.0.1"
    assert any(
        f.source == "mixed-acts==0.0.1" and "no_such_module" in f.message for f in loaded.failures
    )
    with pytest.raises(ActivationError, match="failed to load"):
        loaded.get("aaa_broken")  # the unknown-name error explains why it is missing


@pytest.mark.slow
def test_the_example_package_installs_and_is_listed(tmp_path):
    """pip-installs examples/plugin-package into a throwaway target and lists it (slow: pip)."""
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(PACKAGE),
        ],
        check=True,
    )
    out = subprocess.run(
        [sys.executable, "-m", "bench", "list-activations"],
        env={"PYTHONPATH": str(target), "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "nonlinbench-squareplus==0.1.0" in out
