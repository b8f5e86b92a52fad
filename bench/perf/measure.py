"""`nonlinbench perf`: the engine's speed against the seed notebook's loop and scikit-learn.

Everything is measured side by side in one process, on the seed's setup: circles (1000 points,
noise 0.03, 800 for training), 2->10->10->1 ReLU, full-batch SGD at lr 0.1, 1000 epochs.

    a. the notebook's loop: one nn.Sequential at a time, with its per-epoch test evaluation;
    b. scikit-learn's MLPClassifier with matched settings;
    headline: the engine training HEADLINE_MODELS (1024) models, evaluating every epoch, on
       the path train_chunk picks; a, b and the headline run interleaved, repeat by repeat;
    c. the engine at N = 1, 16, 256 and 4096 models, and its scaling with width and depth, on
       both of its CPU paths side by side (`path`: the fused Numba kernel, bench.engine.fused,
       and the generic autograd path), with `auto` marking the path train_chunk picks (on
       CUDA: captured epochs, bench.engine.graphs);
    d. on a CPU, the fused epoch's phases timed one by one (bench.engine.fused_profile).

Each figure is the median of `repeats` runs. Large engine configurations are timed over fewer
epochs (the per-epoch cost is constant, so the time is scaled to 1000 epochs and the table
says how many epochs were measured). perf.md also holds `bench.perf.crosscheck`'s comparison of the
engine's accuracy with MLPClassifier's over 20 seeds (an independent implementation).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from bench import engine
from bench.activations.registry import BUILTIN_REGISTRY
from bench.data.datasets import Dataset, data_key, load_data
from bench.engine import fused
from bench.engine.graphs import train_graphed
from bench.engine.reference import LayerStack
from bench.engine.train import training_path
from bench.grid import notebook
from bench.perf.crosscheck import cross_check, fit_sklearn, sklearn_mlp
from bench.perf.write import TARGETS, picked_path, render_markdown  # noqa: F401 (TARGETS: public)

EPOCHS = 1000
HEADLINE_MODELS = 1024  # the headline: one process training 1024 seed-sized models
CPU = torch.device("cpu")


@dataclass
class Timing:
    label: str
    method: str
    path: str  # the engine's path (fused | generic); "" for the loop and scikit-learn
    auto: bool  # whether train_chunk picks this path for this configuration
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
    data: Dataset,
    device: torch.device,
    models: int,
    width=10,
    depth=2,
    eval_every=1,
    epochs=1000,
    path: str = "auto",
) -> Callable[[], None]:
    """Trains `models` runs the way a grid would: in chunks of the engine's chunk size, on
    `path` (auto: the one train_chunk picks; fused; generic)."""
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
        for part, stacked in chunks:
            net = engine.build_stacked(part, activation, data.n_features, 1, device)
            options = engine.TrainOptions.for_runs(part, torch.float32, device)
            trainer(path, device, net)(net, stacked, options)

    return run


def trainer(path: str, device: torch.device, net: engine.StackedMLP | None = None) -> Callable:
    """The training function of `path`: fused (the CPU kernel), generic (train_stacked), or
    auto, the one train_chunk picks for `net` (default: the seed network) on `device`."""
    if path == "fused":
        return fused.train_fused
    if path == "generic":
        return engine.train_stacked
    if net is None:
        setup = notebook.setup()
        net = engine.build_stacked([setup], BUILTIN_REGISTRY.get(setup.activation), 2, 1, device)
    picked, _ = training_path(net, device, (), regression=False)
    return {"fused": fused.train_fused, "cuda-graph": train_graphed}.get(
        picked, engine.train_stacked
    )


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
    load_before = os.getloadavg()[0]
    print(f"perf on {engine.device_label(device)}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {repeats} repeats")  # fmt: skip

    # (a), (b) and the headline engine run (N = HEADLINE_MODELS, evaluating every epoch),
    # interleaved repeat by repeat, so the three see the same machine (a shared host's load
    # moves by 2x within minutes; the ratios are what is compared).
    scale = EPOCHS / loop_epochs
    head_epochs = 100 if quick else EPOCHS
    head_job = engine_job(data, device, HEADLINE_MODELS, epochs=head_epochs)
    loop_job = lambda: notebook_loop(data, device, loop_epochs)  # noqa: E731
    sk_job = lambda: fit_sklearn(sklearn_mlp(n_train=n_train, epochs=loop_epochs), data)  # noqa: E731
    for job in (loop_job, sk_job, head_job):
        job()  # warm-up: allocator, kernels, lazy imports
    rounds: dict[str, list[float]] = {"loop": [], "sklearn": [], "engine": []}
    for _ in range(repeats):
        for name, job, on in (("loop", loop_job, device), ("sklearn", sk_job, CPU),
                              ("engine", head_job, device)):  # fmt: skip
            _sync(on)
            start = time.perf_counter()
            job()
            _sync(on)
            rounds[name].append(time.perf_counter() - start)
    timings.append(Timing("notebook loop", "loop", "", False, 1, 10, 2, 1, loop_epochs,
                          [s * scale for s in rounds["loop"]]))  # fmt: skip
    print(f"  (a) notebook loop: {timings[-1].per_model:.3f} s per model")
    # scikit-learn runs on the CPU, whatever the engine's device.
    timings.append(Timing("scikit-learn MLPClassifier", "sklearn", "", False, 1, 10, 2, 0, loop_epochs,
                          [s * scale for s in rounds["sklearn"]]))  # fmt: skip
    print(f"  (b) scikit-learn: {timings[-1].per_model:.3f} s per model")
    chosen = picked_path(device, 10, 2)
    timings.append(Timing("headline", "engine", chosen, True, HEADLINE_MODELS, 10, 2, 1,
                          head_epochs, [s * EPOCHS / head_epochs for s in rounds["engine"]]))  # fmt: skip
    print(f"  headline [{chosen}] N={HEADLINE_MODELS}: {timings[-1].per_model * 1e3:.2f} ms per "
          f"model, {timings[0].per_model / timings[-1].per_model:.1f}x the loop, "
          f"{timings[1].per_model / timings[-1].per_model:.1f}x scikit-learn")  # fmt: skip

    def measure(label, models, width=10, depth=2, eval_every=1, path="auto"):
        epochs = _auto_epochs(
            lambda e: engine_job(data, device, models, width, depth, eval_every, e, path),
            budget,
            device,
        )
        if models <= 256 and width <= 16 and depth <= 2 and not quick:
            epochs = EPOCHS  # the headline configurations run the full 1000 epochs
        job = engine_job(data, device, models, width, depth, eval_every, epochs, path)
        seconds = [s * EPOCHS / epochs for s in _median_time(job, repeats, device)]
        chosen = picked_path(device, width, depth)
        ran = chosen if path == "auto" else path
        timing = Timing(label, "engine", ran, ran == chosen, models, width, depth, eval_every,
                        epochs, seconds)  # fmt: skip
        timings.append(timing)
        print(f"  engine {label} [{ran}] N={models} width={width} depth={depth} "
            f"eval_every={eval_every}: {timing.per_model * 1e3:.2f} ms per model "
            f"({epochs} epochs measured)")  # fmt: skip

    # On a CPU both paths run side by side: every configuration on each.
    paths = ("fused", "generic") if device.type == "cpu" and fused.kernels else ("auto",)
    for models in (1, 16, 256, 4096):
        measure("models", models)
    for path in paths:
        for eval_every in (1, 10):  # every epoch (the notebook's) and the grids' default
            if path != picked_path(device, 10, 2) or eval_every != 1:  # else: the N=256 row
                measure("paths", 256, eval_every=eval_every, path=path)
        for width in (4, 16, 64, 256):
            measure("width", 256, width=width, path=path)
        for depth in (1, 4, 8):
            measure("depth", 256, depth=depth, path=path)

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
                path=t.path,
                auto=t.auto,
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
    profile = None
    if device.type == "cpu" and fused.kernels is not None:
        from bench.engine.fused_profile import seed_epoch_profile

        setup = notebook.setup()
        net = engine.build_stacked([setup], BUILTIN_REGISTRY.get(setup.activation), 2, 1, CPU)
        profile = seed_epoch_profile(data.X_train.T.contiguous(), data.y_train,
                                     data.X_test.T.contiguous(), data.y_test, net)  # fmt: skip
        profile.to_csv(out / "profile.csv", index=False)
    load = (load_before, os.getloadavg()[0])
    (out / "perf.md").write_text(
        render_markdown(table, ceiling, device, checks, quick, profile, load)
    )
    print(f"wrote {out / 'perf.csv'} and {out / 'perf.md'}")
    return table
