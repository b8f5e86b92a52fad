"""Export: one stored run as a standalone PyTorch model, reloadable without nonlinbench.

    runs.parquet + weights.parquet -> FILE                TorchScript: coordinates -> outputs
                                      FILE.state_dict.pt  the plain nn.Sequential's state dict
                                      FILE.json           axes, metrics, layout, how to read
                                      FILE.test.npz       the run's test set

A run is picked by its id (or a unique prefix of it) or by axis filters (`--where
activation=relu --where seed=3`, bench.results.pick) that must leave exactly one successful run. Its
network is rebuilt as `bench.engine.reference.MLP(...).net` from the run's axes, the stored parameters are loaded into it, and
the feature map and the network are traced together, so `torch.jit.load(FILE)` alone maps the
data's raw coordinates to what the network outputs. The export is then checked: the traced
model's score on the saved test set is compared with the stored one.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

import bench
from bench.activations.plugins import add_plugin_file
from bench.activations.registry import Activation, ActivationError, Registry
from bench.data.csv_files import CsvName
from bench.data.datasets import Dataset, is_csv, load_data
from bench.data.features import apply_feature_map
from bench.engine.reference import MLP, output_size, score
from bench.grid.layers import activation_record
from bench.results.pick import PickError, select_run
from bench.results.store import Store
from bench.schema import AXES
from bench.spec import RunSpec, hidden_widths

SUFFIXES = {"state_dict": ".state_dict.pt", "metadata": ".json", "test_set": ".test.npz"}


class ExportError(ValueError):
    """A mistake in what was asked to export: printed as one line by the command."""


@dataclass
class Exported:
    """What `export_run` wrote and what its check found."""

    run_id: str
    files: list[tuple[Path, str]]  # (path, what it holds)
    metric: str  # test_acc or test_r2
    stored: float
    recomputed: float

    @property
    def reproduced(self) -> bool:
        """Accuracy exactly (a fraction of integers in float32), R^2 to 1e-5."""
        tolerance = 0.0 if self.metric == "test_acc" else 1e-5
        both_nan = math.isnan(self.stored) and math.isnan(self.recomputed)
        return both_nan or abs(self.stored - self.recomputed) <= tolerance


# --------------------------------------------------------------------------- rebuilding it


def _python(value):
    """A numpy scalar as a plain Python value (NaN as None), for RunSpec and JSON."""
    value = value.item() if isinstance(value, np.generic) else value
    return None if isinstance(value, float) and math.isnan(value) else value


def run_spec(row: pd.Series, results: Path | None = None) -> RunSpec:
    """The run's settings; a CSV dataset's name (as written in the grid) found again relative
    to the grid file that the results' manifest names."""
    axes = {axis: _python(row[axis]) for axis in AXES if axis in row}
    if results is not None and is_csv(axes.get("dataset")):
        source = str(Store(results).read_manifest().get("grid", {}).get("source", ""))
        path = Path(axes["dataset"])
        if not path.is_absolute() and source and not source.startswith("builtin:"):
            path = Path(source).parent / path
        if not path.is_file():
            raise ExportError(
                f"dataset file {axes['dataset']!r} of run {row.run_id} is not at {path} (its "
                "path is relative to the grid file that trained it); put it back to export"
            )
        axes["dataset"] = CsvName(axes["dataset"], str(path.resolve()), int(axes["n_samples"]))
    return RunSpec(**axes)


def _rerun_hint(results: Path) -> str:
    grid = Store(results).read_manifest().get("grid", {})
    source = str(grid.get("source") or "GRID").removeprefix("builtin:")
    return f"rerun the grid with `nonlinbench run {source} --out {results} --fresh`"


def stored_parameters(results: Path, run_id: str) -> tuple[list[tuple[str, tuple]], np.ndarray]:
    """The run's stored layout [(name, shape), ...] and parameters (float32, flattened)."""
    path = Store(results).path("weights")
    if not path.exists():
        raise ExportError(
            f"no weights in {results} (weights.parquet is missing: these results were written "
            f"before trained weights were stored); {_rerun_hint(results)}"
        )
    try:
        rows = pd.read_parquet(path, filters=[("run_id", "==", run_id)])
    except Exception as exc:  # pyarrow's errors for a damaged file vary
        raise ExportError(f"{path} cannot be read ({type(exc).__name__}: {exc})"[:300]) from None
    if rows.empty:
        raise ExportError(
            f"run {run_id} has no stored weights in {path} (trained before weights were "
            f"stored); {_rerun_hint(results)}"
        )
    row = rows.iloc[-1]
    layout = [(str(name), tuple(int(n) for n in shape)) for name, shape in json.loads(row.layout)]
    return layout, np.asarray(row.params, dtype=np.float32)


def run_registry(results: Path, registry: Registry) -> Registry:
    """`registry` plus the plugin files the results' grid named (where they still exist)."""
    for plugin in Store(results).read_manifest().get("grid", {}).get("plugins", []):
        if Path(plugin).is_file():
            try:
                registry = add_plugin_file(registry, plugin)
            except ActivationError:
                pass  # the activation it would give is reported missing below, if needed
    return registry


def architecture(spec: RunSpec, registry: Registry) -> tuple[Activation, list[int]]:
    """The run's activation record (a per-layer stack's, bench.grid.layers) and hidden widths."""
    return activation_record(spec, registry), hidden_widths(spec)


def rebuild_network(
    row: pd.Series, activation: Activation, widths, data: Dataset, layout, params: np.ndarray
) -> nn.Sequential:
    """bench.engine.reference.MLP(...).net for the run, holding its stored parameters."""
    spec = run_spec(row)
    model = MLP(
        data.n_features,
        output_size(data.n_classes),
        spec.depth,
        spec.width,
        activation,
        init=spec.init,
        seed=spec.seed,
        **({"widths": widths} if widths else {}),
    )
    net = model.net.eval()
    built = {name: tuple(p.shape) for name, p in net.named_parameters()}
    stored = dict(layout)
    if built != stored or len(layout) != len(stored):
        raise ExportError(
            f"the stored weights of run {row.run_id} do not fit the network rebuilt from its "
            f"axes: stored {sorted(stored.items())}, rebuilt {sorted(built.items())}"
        )
    sizes = [math.prod(shape) for _, shape in layout]
    if sum(sizes) != params.size:
        raise ExportError(
            f"the stored weights of run {row.run_id} hold {params.size} numbers; its layout "
            f"needs {sum(sizes)}"
        )
    tensors = torch.from_numpy(params.copy()).split(sizes)
    state = {name: t.reshape(shape) for (name, shape), t in zip(layout, tensors, strict=True)}
    missing, unexpected = net.load_state_dict(state, strict=False)
    buffers = {name for name, _ in net.named_buffers()}
    if unexpected or set(missing) - buffers:
        raise ExportError(f"run {row.run_id}: state dict mismatch {missing} {unexpected}")
    return net


class Standalone(nn.Module):
    """Raw coordinates (n, d) -> the network's outputs: logits (n, out), or (n,) values for
    regression. The feature map runs in float64, then the network in float32, as the data
    pipeline made the network's inputs."""

    def __init__(self, net: nn.Sequential, feature_map: str, regression: bool,
                 scaler=None, target_scaler=None):  # fmt: skip
        super().__init__()
        self.net = net
        self.feature_map = feature_map
        self.regression = regression
        # The data's standardisation, fitted on the run's training rows (bench.data.real.
        # Scaler): raw coordinates in, and a regression's values back in the target's units.
        self.register_buffer("mean", _float64(scaler.mean if scaler else 0.0))
        self.register_buffer("scale", _float64(scaler.scale if scaler else 1.0))
        self.register_buffer("target_mean", _float64(target_scaler.mean if target_scaler else 0.0))
        self.register_buffer("target_scale",
                             _float64(target_scaler.scale if target_scaler else 1.0))  # fmt: skip

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        standard = (coords.double() - self.mean) / self.scale
        inputs = apply_feature_map(self.feature_map, standard).float()
        out = self.net(inputs)
        if not self.regression:
            return out
        return (out.squeeze(-1).double() * self.target_scale + self.target_mean).float()


def _float64(value) -> torch.Tensor:
    return torch.as_tensor(np.asarray(value, dtype=np.float64))


def how_to_read(n_classes: int) -> str:
    if n_classes == 0:
        return "regression: the value (the module returns shape (n,))"
    if n_classes == 2:
        return "one logit: class 1 where > 0, else class 0 (shape (n, 1))"
    return f"argmax over classes: one logit per class (shape (n, {n_classes}))"


def _metadata(row, activation, data, layout, files) -> dict:
    regression = data.regression
    metrics = ("test_r2", "test_mse", "train_r2") if regression else ("test_acc", "train_acc")
    return {
        "run_id": row.run_id,
        "axes": {axis: _python(row[axis]) for axis in AXES if axis in row},
        "metrics": {m: _python(row[m]) for m in (*metrics, "test_loss") if m in row},
        "n_classes": int(data.n_classes),
        "diverged": bool(row.get("diverged", False)),
        "layout": [[name, list(shape)] for name, shape in layout],
        "activation": {
            "name": activation.name,
            "learnable": activation.learnable,
            "source": activation.source,
            "description": activation.description,
        },
        "input": f"float32 raw coordinates, shape (n, {data.n_coords})",
        "feature_map": {
            "name": data.feature_map,
            "coordinates": data.n_coords,
            "network_inputs": data.n_features,
            "applied_by": "the TorchScript file (not the state dict): bench.data.features",
        },
        "outputs": how_to_read(data.n_classes),
        "files": {what: path.name for path, what in files},
        "nonlinbench_version": bench.__version__,
        "trained_with": {
            k: _python(row[k])
            for k in ("nonlinbench_version", "engine_version", "device")
            if k in row
        },
    }


def output_paths(out: Path) -> dict[str, Path]:
    """The four files of an export to `out` (the TorchScript file)."""
    if out.is_dir():
        raise ExportError(f"--out {out} is a folder; give the file to write, e.g. {out}/model.pt")
    if out.suffix in (".json", ".npz"):
        raise ExportError(f"--out {out}: give the TorchScript file's name, e.g. model.pt")
    stem = out.with_suffix("") if out.suffix == ".pt" else out
    paths = {"torchscript": out}
    paths.update({what: Path(f"{stem}{suffix}") for what, suffix in SUFFIXES.items()})
    return paths


def export_run(
    results: str | Path,
    out: str | Path | None,
    *,
    registry: Registry,
    run: str | None = None,
    where: list[str] | str | None = None,
) -> Exported:
    """Exports the run that `run` (an id, or a start of one) or `where` (AXIS=VALUE filters,
    bench.results.pick) names; see the module."""
    results = Path(results)
    runs = Store(results).load("runs")
    if runs.empty or "run_id" not in runs:
        raise ExportError(f"no runs in {results / 'runs.parquet'}")
    try:
        row = select_run(runs, run=run, where=where, folder=str(results))
    except PickError as exc:
        raise ExportError(str(exc)) from None
    layout, params = stored_parameters(results, row.run_id)
    spec = run_spec(row, results)
    try:
        activation, widths = architecture(spec, run_registry(results, registry))
    except ActivationError as exc:
        raise ExportError(f"{exc}; pass the plugin file that defines it with --plugin") from None
    data = load_data(spec)
    net = rebuild_network(row, activation, widths, data, layout, params)

    paths = output_paths(Path(out) if out else Path("exports") / f"{row.run_id}.pt")
    paths["torchscript"].parent.mkdir(parents=True, exist_ok=True)
    module = Standalone(net, data.feature_map, data.regression, data.scaler,
                        data.target_scaler).eval()  # fmt: skip
    # the test set in the data's own units: the module standardises as training did
    raw_test = data.coords_test.numpy()
    if data.scaler is not None:
        raw_test = data.scaler.inverse(raw_test).astype(np.float32)
    raw_y = data.y_test.numpy()
    if data.target_scaler is not None:
        raw_y = data.target_scaler.inverse(raw_y).astype(np.float32)
    coords_test, y_test = torch.from_numpy(raw_test), torch.from_numpy(raw_y)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch 2.13 deprecates torch.jit
        torch.jit.trace(module, coords_test[:8]).save(str(paths["torchscript"]))
        reloaded = torch.jit.load(str(paths["torchscript"]))
    torch.save(net.state_dict(), paths["state_dict"])
    np.savez(
        paths["test_set"],
        X_test=raw_test,
        y_test=raw_y,
        inputs_test=data.X_test.numpy(),
    )
    reading = ("logits (n, 1): class 1 where > 0", f"logits (n, {data.n_classes}): argmax")
    reading = "values (n,)" if data.regression else reading[data.n_classes > 2]
    files = [
        (paths["torchscript"], f"TorchScript: raw coordinates (n, {data.n_coords}) -> {reading}"),
        (paths["state_dict"], "state dict of the plain nn.Sequential, without the feature map"),
        (paths["metadata"], "metadata: axes, stored metrics, layout, feature map, outputs"),
        (paths["test_set"], f"test set: X_test (raw coordinates), y_test; {len(data.y_test)} rows"),
    ]
    meta = _metadata(row, activation, data, layout, [(p, w) for w, p in paths.items()])
    paths["metadata"].write_text(json.dumps(meta, indent=2) + "\n")

    # The check: the saved module, reloaded, scores the saved test set as stored.
    with torch.no_grad():
        outputs = reloaded(coords_test)
        outputs = outputs[:, None] if data.regression else outputs
        recomputed = float(score(outputs, y_test).item())
    metric = "test_r2" if data.regression else "test_acc"
    stored = float(row[metric]) if metric in row else math.nan
    return Exported(row.run_id, files, metric, stored, recomputed)
