"""`nonlinbench perf`: the engine's speed against the seed notebook's loop and scikit-learn.

Everything is measured side by side in one process, on the seed's setup: circles (1000 points,
noise 0.03, 800 for training), 2->10->10->1 ReLU, full-batch SGD at lr 0.1, 1000 epochs.

    a. the notebook's loop: one nn.Sequential at a time, with its per-epoch test evaluation;
    b. scikit-learn's MLPClassifier with matched settings;
    c. the engine at N = 1, 16, 256 and 4096 models, and its scaling with width and depth.

Each figure is the median of `repeats` runs. Large engine configurations are timed over fewer
epochs (the per-epoch cost is constant, so the time is scaled to 1000 epochs and the table
says how many epochs were measured). perf.md also holds `bench.crosscheck`'s comparison of the
engine's accuracy with MLPClassifier's over 20 seeds (an independent implementation).
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from bench import engine, notebook
from bench.crosscheck import cross_check, fit_sklearn, sklearn_mlp
from bench.data import Dataset, data_key, load_data
from bench.model import LayerStack
from bench.registry import BUILTIN_REGISTRY

EPOCHS = 1000


@dataclass(frozen=True)
class Target:
    """A speed goal: `measure` (a perf.csv column) of the headline row at least `at_least`."""

    measure: str
    at_least: float
    device: str  # the device type it applies to
    meaning: str


# The project's speed goals, for the headline row (N = 256 seed-sized models, evaluation every
# epoch). perf.md reports each as measured against its goal.
TARGETS: tuple[Target, ...] = (
    Target("speedup_vs_loop", 25, "cpu", "per-model speed-up over the notebook's loop"),
    Target("speedup_vs_sklearn", 10, "cpu", "per-model speed-up over MLPClassifier"),
    Target("fraction_of_matmul_ceiling", 0.25, "cpu", "share of the measured fp32 matmul rate"),
    Target("speedup_vs_loop", 1000, "cuda", "per-model speed-up over the notebook's loop"),
)


@dataclass
class Timing:
    label: str
    method: str
    models: int
    width: int
    depth: int
    eval_every: int
    epochs_measured: int
    seconds: list[float]  # per repeat, for all models, scaled to EPOCHS epochs

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def per_model(self) -> float:
        return self.median / self.models


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _median_time(fn: Callable[[], None], repeats: int, device: torch.device) -> list[float]:
    fn()  # warm-up: allocator, kernels, lazy imports
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return times


# --------------------------------------------------------------------------- (a) notebook loop


def notebook_loop(data: Dataset, device: torch.device, epochs: int = EPOCHS, seed: int = 42):
    """The seed notebook's training cell, as written there (printing aside)."""
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(2, 10), nn.ReLU(), nn.Linear(10, 10), nn.ReLU(), nn.Linear(10, 1)
    ).to(device)
    loss_fn = nn.BCEWithLogitsLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    X_train, y_train = data.X_train.to(device), data.y_train.float().to(device)
    X_test, y_test = data.X_test.to(device), data.y_test.float().to(device)

    def accuracy_fn(y_true, y_pred):
        return torch.eq(y_true, y_pred).sum().item() / len(y_pred) * 100

    for _ in range(epochs):
        model.train()
        y_logits = model(X_train).squeeze()
        y_pred = torch.round(torch.sigmoid(y_logits))
        loss = loss_fn(y_logits, y_train)
        accuracy_fn(y_true=y_train, y_pred=y_pred)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        model.eval()
        with torch.inference_mode():
            test_logits = model(X_test).squeeze()
            test_pred = torch.round(torch.sigmoid(test_logits))
            loss_fn(test_logits, y_test)
            accuracy_fn(y_true=y_test, y_pred=test_pred)
    return model


# --------------------------------------------------------------------------- (c) the engine


def engine_job(
    data: Dataset, device: torch.device, models: int, width=10, depth=2, eval_every=1, epochs=1000
) -> Callable[[], None]:
    """Trains `models` runs the way a grid would: in chunks of the engine's chunk size."""
    setup = notebook.setup()
    specs = [
        replace(setup, width=width, depth=depth, epochs=epochs, eval_every=eval_every, seed=s)
        for s in range(models)
    ]
    activation = BUILTIN_REGISTRY.get(setup.activation)
    size = engine.chunk_size(specs[0], data, device)
    key = data_key(specs[0])
    chunks = []
    for start in range(0, models, size):
        part = specs[start : start + size]
        chunks.append((part, engine.stack_data(part, {key: data}, device)))

    def run() -> None:
        for part, (X_train, y_train, X_test, y_test) in chunks:
            n = len(part)
            net = engine.build_stacked(part, activation, data.n_features, 1, device)
            engine.train_stacked(
                net, X_train, y_train, X_test, y_test, optimizer=setup.optimizer,
                lr=torch.full((n,), setup.lr, device=device),
                seeds=torch.tensor([s.seed for s in part], device=device),
                epochs=epochs, eval_every=eval_every,
            )  # fmt: skip

    return run


def flops_per_model_epoch(width: int, depth: int, n_train: int, n_test: int, eval_every: int):
    """Multiply-adds x 2 of one epoch: forward + backward (~3x forward) + evaluations."""
    macs = LayerStack.of(2, 2, depth, width).multiply_adds
    train = 3 * 2 * macs * n_train
    evaluation = 2 * macs * (n_train + n_test) / eval_every
    return train + evaluation


def matmul_ceiling(device: torch.device) -> float:
    """Measured fp32 matmul throughput (FLOP/s) of a large square product on this device."""
    n = 4096 if device.type == "cuda" else 1536
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    times = _median_time(lambda: a @ b, 5, device)
    return 2 * n**3 / min(times)


def _auto_epochs(job: Callable[[int], Callable[[], None]], budget_s: float, device) -> int:
    """Epochs such that one repeat takes about budget_s (at most 1000, at least 10)."""
    probe_epochs = 5
    probe = job(probe_epochs)
    probe()
    _sync(device)
    start = time.perf_counter()
    probe()
    _sync(device)
    per_epoch = (time.perf_counter() - start) / probe_epochs
    return int(min(EPOCHS, max(10, budget_s / max(per_epoch, 1e-9))))


# --------------------------------------------------------------------------- the report


def run_perf(
    out: Path, device: torch.device, repeats: int = 3, quick: bool = False, check: bool = True
) -> pd.DataFrame:
    out.mkdir(parents=True, exist_ok=True)
    data = load_data(notebook.setup())
    n_train, n_test = len(data.X_train), len(data.X_test)
    budget = 2.0 if quick else 12.0  # seconds per repeat for large engine configurations
    loop_epochs = 100 if quick else EPOCHS
    timings: list[Timing] = []
    print(f"perf on {engine.device_label(device)}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {repeats} repeats")  # fmt: skip

    # (a) and (b): one model at a time.
    scale = EPOCHS / loop_epochs
    seconds = _median_time(lambda: notebook_loop(data, device, loop_epochs), repeats, device)
    timings.append(Timing("notebook loop", "loop", 1, 10, 2, 1, loop_epochs,
                          [s * scale for s in seconds]))  # fmt: skip
    print(f"  (a) notebook loop: {timings[-1].per_model:.3f} s per model")
    # scikit-learn runs on the CPU, whatever the engine's device.
    seconds = _median_time(
        lambda: fit_sklearn(sklearn_mlp(n_train=n_train, epochs=loop_epochs), data),
        repeats,
        torch.device("cpu"),
    )
    timings.append(Timing("scikit-learn MLPClassifier", "sklearn", 1, 10, 2, 0, loop_epochs,
                          [s * scale for s in seconds]))  # fmt: skip
    print(f"  (b) scikit-learn: {timings[-1].per_model:.3f} s per model")

    def measure(label, models, width=10, depth=2, eval_every=1):
        epochs = _auto_epochs(
            lambda e: engine_job(data, device, models, width, depth, eval_every, e),
            budget,
            device,
        )
        if models <= 256 and width <= 16 and depth <= 2 and not quick:
            epochs = EPOCHS  # the headline configurations run the full 1000 epochs
        job = engine_job(data, device, models, width, depth, eval_every, epochs)
        seconds = [s * EPOCHS / epochs for s in _median_time(job, repeats, device)]
        timing = Timing(label, "engine", models, width, depth, eval_every, epochs, seconds)
        timings.append(timing)
        print(f"  engine {label} N={models} width={width} depth={depth} eval_every={eval_every}: "
            f"{timing.per_model * 1e3:.2f} ms per model ({epochs} epochs measured)")  # fmt: skip

    for models in (1, 16, 256, 4096):
        measure("models", models)
    measure("models", 256, eval_every=10)  # the grids' default evaluation schedule
    for width in (4, 16, 64, 256):
        measure("width", 256, width=width)
    for depth in (1, 2, 4, 8):
        measure("depth", 256, depth=depth)

    ceiling = matmul_ceiling(device)
    loop = timings[0].per_model
    sk = timings[1].per_model
    rows = []
    for t in timings:
        flops = flops_per_model_epoch(t.width, t.depth, n_train, n_test, t.eval_every or EPOCHS)
        achieved = flops * EPOCHS * t.models / t.median
        rows.append(
            dict(
                label=t.label,
                method=t.method,
                models=t.models,
                width=t.width,
                depth=t.depth,
                eval_every=t.eval_every,
                epochs_measured=t.epochs_measured,
                seconds_total=t.median,
                seconds_min=min(t.seconds),
                seconds_max=max(t.seconds),
                seconds_per_model=t.per_model,
                speedup_vs_loop=loop / t.per_model,
                speedup_vs_sklearn=sk / t.per_model,
                flops_per_model_epoch=flops,
                gflops_achieved=achieved / 1e9,
                fraction_of_matmul_ceiling=achieved / ceiling,
                device=engine.device_label(device),
                torch=torch.__version__,
                threads=torch.get_num_threads(),
                repeats=repeats,
            )
        )
    table = pd.DataFrame(rows)
    table.to_csv(out / "perf.csv", index=False)
    checks = cross_check(seeds=5 if quick else 20) if check else None
    (out / "perf.md").write_text(render_markdown(table, ceiling, device, checks, quick))
    print(f"wrote {out / 'perf.csv'} and {out / 'perf.md'}")
    return table


def render_markdown(
    table: pd.DataFrame,
    ceiling: float,
    device: torch.device,
    checks: pd.DataFrame | None,
    quick: bool,
) -> str:
    head = table.iloc[0]
    n256 = table[(table.label == "models") & (table.models == 256) & (table.eval_every == 1)]
    n256 = n256.iloc[0]
    cpu = platform.processor() or platform.machine()
    goals = pd.DataFrame(
        [
            {
                "measure": t.measure,
                "meaning": t.meaning,
                "goal": f">= {t.at_least:g}",
                "measured": f"{n256[t.measure]:.3g}",
                "reached": "yes" if n256[t.measure] >= t.at_least else "no",
            }
            for t in TARGETS
            if t.device == device.type
        ]
    )
    lines = [
        "# nonlinbench perf",
        "",
        f"Device: **{head.device}** ({cpu}, {os.cpu_count()} cores); torch {head.torch}; "
        f"{head.threads} threads; median of {head.repeats} repeats. Measured fp32 matmul "
        f"ceiling: **{ceiling / 1e9:.1f} GFLOP/s**." + (" Quick mode (--quick)." if quick else ""),
        "",
        "Setup (the seed notebook's): circles, 1000 points, noise 0.03, 800 for training, "
        "2->10->10->1 ReLU, full-batch SGD at lr 0.1, 1000 epochs. The engine evaluates train "
        "and test loss and accuracy every epoch (eval_every 1), as the notebook does, unless "
        "the table says otherwise. Times are for 1000 epochs; configurations marked with fewer "
        "measured epochs were timed over that many and scaled (the per-epoch cost is constant).",
        "",
        "## Headline: N = 256 models",
        "",
        f"- Engine: {n256.seconds_per_model * 1e3:.2f} ms per trained model, "
        f"**{n256.speedup_vs_loop:.1f}x** the notebook loop and "
        f"**{n256.speedup_vs_sklearn:.1f}x** scikit-learn (which runs on the CPU).",
        f"- Notebook loop: {table.iloc[0].seconds_per_model:.3f} s per model; "
        f"scikit-learn: {table.iloc[1].seconds_per_model:.3f} s per model.",
        "",
        f"Goals for this device type ({device.type}), from `bench.perf.TARGETS`:",
        "",
        goals.to_markdown(index=False) if len(goals) else "(none set)",
        "",
        "## All measurements",
        "",
    ]
    shown = table[
        ["label", "method", "models", "width", "depth", "eval_every", "epochs_measured",
         "seconds_per_model", "speedup_vs_loop", "speedup_vs_sklearn",
         "flops_per_model_epoch", "gflops_achieved", "fraction_of_matmul_ceiling"]
    ].copy()  # fmt: skip
    lines.append(shown.to_markdown(index=False, floatfmt=".4g"))
    if checks is not None:
        agree = int(checks.agree.sum())
        lines += [
            "",
            "## Cross-check against scikit-learn (an independent implementation)",
            "",
            'The engine with `init = "glorot"` (scikit-learn\'s initialisation) and the settings '
            "of (b), against `MLPClassifier` (identity, relu, tanh, logistic), mean test accuracy "
            f"over {checks.attrs.get('seeds', 20)} seeds each. Tolerance: 3 standard errors of "
            "the difference of means, sqrt(s_engine^2/n + s_sklearn^2/n) from the spread across "
            "seeds, with a floor of one test point (0.005). "
            f"**{agree} of {len(checks)} settings agree.**",
            "",
            checks.to_markdown(index=False, floatfmt=".4g"),
        ]
    lines.append("")
    return "\n".join(lines)
