"""perf.md: the measurements of `nonlinbench perf`, the fused and generic paths side by side,
and each goal of bench.perf.measure.TARGETS against what was measured."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, replace

import pandas as pd
import torch

from bench import engine
from bench.activations.registry import BUILTIN_REGISTRY
from bench.engine import fused
from bench.grid import notebook


@dataclass(frozen=True)
class Target:
    """A speed goal: `measure` (a perf.csv column) of the headline row at least `at_least`."""

    measure: str
    at_least: float
    device: str  # the device type it applies to
    meaning: str


# The project's speed goals, for the headline row (one process training 1024 seed-sized models,
# evaluating every epoch, timed interleaved with the loop and scikit-learn). perf.md reports
# each as measured against its goal.
TARGETS: tuple[Target, ...] = (
    Target("speedup_vs_loop", 60, "cpu", "per-model speed-up over the notebook's loop"),
    Target("speedup_vs_sklearn", 15, "cpu", "per-model speed-up over MLPClassifier"),
    Target("fraction_of_matmul_ceiling", 0.25, "cpu", "share of the measured fp32 matmul rate"),
    Target("speedup_vs_loop", 1000, "cuda", "per-model speed-up over the notebook's loop"),
)


def picked_path(device: torch.device, width: int, depth: int) -> str:
    """The path train_chunk picks for the seed setup at this width and depth."""
    setup = replace(notebook.setup(), width=width, depth=depth)
    activation = BUILTIN_REGISTRY.get(setup.activation)
    net = engine.build_stacked([setup], activation, 2, 1, device)
    return "fused" if fused.use_fused(net, device) else "generic"


def side_by_side(table: pd.DataFrame) -> str:
    """One row per configuration at N = 256: ms per model on each path, their ratio, the pick."""
    runs = table[(table.method == "engine") & (table.models == 256)]
    if runs.path.nunique() < 2:
        return "(one path on this device)"
    rows = []
    for (width, depth, every), group in runs.groupby(["width", "depth", "eval_every"]):
        ms = {r.path: r.seconds_per_model * 1e3 for r in group.itertuples()}
        if {"fused", "generic"} <= ms.keys():
            rows.append({
                "width": width, "depth": depth, "eval_every": every,
                "fused_ms": ms["fused"], "generic_ms": ms["generic"],
                "generic / fused": ms["generic"] / ms["fused"],
                "auto picks": group[group.auto].path.iloc[0] if group.auto.any() else "",
            })  # fmt: skip
    return pd.DataFrame(rows).to_markdown(index=False, floatfmt=".3g")


def render_markdown(
    table: pd.DataFrame,
    ceiling: float,
    device: torch.device,
    checks: pd.DataFrame | None,
    quick: bool,
    profile: pd.DataFrame | None = None,
    load: tuple[float, float] | None = None,
) -> str:
    head = table.iloc[0]
    headline = table[table.label == "headline"].iloc[0]
    n256 = headline  # the goals are read from the headline row
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
        *(
            [
                f"Host load (1-minute load average): {load[0]:.1f} at the start, {load[1]:.1f} at "
                f"the end, on {os.cpu_count()} cores. Above the core count, other processes shared "
                "the cores: the interleaved ratios still compare like with like, the absolute "
                "times do not carry over to a quiet host.",
                "",
            ]
            if load
            else []
        ),  # fmt: skip
        "Setup (the seed notebook's): circles, 1000 points, noise 0.03, 800 for training, "
        "2->10->10->1 ReLU, full-batch SGD at lr 0.1, 1000 epochs. The engine evaluates train "
        "and test loss and accuracy every epoch (eval_every 1), as the notebook does, unless "
        "the table says otherwise. Times are for 1000 epochs; configurations marked with fewer "
        "measured epochs were timed over that many and scaled (the per-epoch cost is constant).",
        "",
        f"## Headline: one process, N = {headline.models} models",
        "",
        f"- Engine ({headline.path} path): {headline.seconds_per_model * 1e3:.2f} ms per trained "
        f"model, **{headline.speedup_vs_loop:.1f}x** the notebook loop and "
        f"**{headline.speedup_vs_sklearn:.1f}x** scikit-learn (which runs on the CPU), at "
        f"**{headline.fraction_of_matmul_ceiling:.0%}** of the compute floor (the FLOPs of "
        "training and evaluation at the measured matmul rate: "
        f"{headline.flops_per_model_epoch * 1e3 / ceiling * 1e3:.1f} ms per model).",
        f"- Notebook loop: {table.iloc[0].seconds_per_model:.3f} s per model; "
        f"scikit-learn: {table.iloc[1].seconds_per_model:.3f} s per model.",
        "- The three were timed interleaved, repeat by repeat (loop, scikit-learn, engine), so "
        "the ratios compare runs on the same machine at the same moment.",
        "",
        f"Goals for this device type ({device.type}), from `bench.perf.measure.TARGETS`:",
        "",
        goals.to_markdown(index=False) if len(goals) else "(none set)",
        "",
        "## The fused and generic paths side by side (N = 256)",
        "",
        "Milliseconds per trained model (1000 epochs) on each of the engine's CPU paths, and the "
        "path `train_chunk` picks (`auto`: `bench.engine.fused.use_fused`; set "
        "`NONLINBENCH_ENGINE=generic` or `=fused` to force one). Seed setup unless the row "
        "says otherwise.",
        "",
        side_by_side(table),
        "",
        "## All measurements",
        "",
    ]
    shown = table[
        ["label", "method", "path", "auto", "models", "width", "depth", "eval_every", "epochs_measured",
         "seconds_per_model", "speedup_vs_loop", "speedup_vs_sklearn",
         "flops_per_model_epoch", "gflops_achieved", "fraction_of_matmul_ceiling"]
    ].copy()  # fmt: skip
    lines.append(shown.to_markdown(index=False, floatfmt=".4g"))
    if profile is not None:
        lines += ["", *limits_section(profile, ceiling, headline)]
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


def limits_section(profile: pd.DataFrame, ceiling: float, headline) -> list[str]:
    """perf.md's "What limits it": the fused epoch's phases, timed one by one on one thread
    (bench.engine.fused_profile), against one core's share of the matmul rate."""
    per_core = ceiling / max(int(headline.threads), 1)
    shown = profile.copy()
    shown["of one core's matmul rate"] = shown.gflops * 1e9 / per_core
    whole = profile[profile.phase == "whole epoch"].iloc[0]
    phases = profile[~profile.phase.isin(["whole epoch"])].sort_values("share", ascending=False)
    top = phases.iloc[0]
    kernel = whole.gflops * 1e9 / per_core
    return [
        "## What limits it",
        "",
        "One full-batch epoch of one seed-sized model on the fused path, each phase of the "
        "kernel timed on its own in a compiled loop on one thread (`bench.engine.fused_profile`"
        f"); one core's share of the matmul rate is {per_core / 1e9:.1f} GFLOP/s.",
        "",
        shown.to_markdown(index=False, floatfmt=".3g"),
        "",
        f"On one thread the epoch takes {whole.us_per_epoch:.1f} us and its multiply-adds run "
        f"at {whole.gflops:.1f} GFLOP/s, **{kernel:.0%} of one core's matmul rate**; the "
        f"headline run reached {headline.fraction_of_matmul_ceiling:.0%} of the "
        f"{int(headline.threads)} threads' rate. {top.phase.capitalize()} is the largest share "
        f"({top.share:.0%}): two products per layer (the weights' gradient, a reduction over "
        "samples, and the inputs' gradient) to the forward's one. Where the kernel alone is "
        "near the matmul rate, the gap to the floor is what the whole-process run adds to it: "
        "threads that share a loaded host (see the load above), and per-chunk work outside the "
        "kernel (packing the parameters, building the chunks, the curves' copies).",
    ]
