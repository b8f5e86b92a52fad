"""What a card says, computed from the runs of the candidate and the references.

Every number comes from the report's own functions, so a card and a report agree:

* per dataset: ``bench.report.tables.summarize`` (the one selection rule, two-level bootstrap
  over data samples then seeds), tiers and the tied group by ``bench.report.wording``, beside the
  Bayes rule's accuracy on the same test points (``bench.report.yardsticks``);
* overall: rliable's IQM of the share of the best possible (``of_best`` = test accuracy / the
  Bayes rule's accuracy on the same test points) over runs x tasks matrices on common tasks
  (``score_matrices``), with a stratified bootstrap interval, and the probability of
  improvement over relu and gelu (``bench.stats``): ``better`` when its interval lies above 0.5,
  ``worse`` when below, ``tied`` when it contains 0.5;
* affine: the activation is declared affine, or every usable run's logits are an affine
  function of the inputs (linear-fit R^2 >= AFFINE_R2) with one linear region where counted;
* saturating: where the function is flat (probed far out on each side) and the share of dead
  units after training;
* trainable at depth: the deepest depth up to which, from its best depth on, the candidate stays
  in the tied group of its best depth (share of the best possible, by depth);
* learning speed: test accuracy at an early epoch (EARLY_EPOCH).

All functions are pure functions of DataFrames and return plain values (JSON-ready).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from bench.activations.registry import Activation
from bench.report.results import is_regression, usable, with_hidden_layers
from bench.report.tables import accuracy_at_epoch, score_matrices, summarize
from bench.report.wording import tiers, top_group
from bench.stats import iqm, probability_of_improvement_ci, stratified_bootstrap_ci

N_RESAMPLES = 2000
AFFINE_R2 = 0.9999  # every run's logits this close to an affine map of the inputs: affine
FLAT_SLOPE = 1e-3  # |f(100) - f(50)| / 50 below this: flat on that side
EARLY_EPOCH = 50  # learning speed: test accuracy this early
VERSUS = ("relu", "gelu")  # the references a card's probability of improvement is against


def _interval(row) -> dict:
    """{mean, low, high} of a summary row (a Series or an itertuples row)."""
    return {k: _num(getattr(row, k)) for k in ("mean", "low", "high")}


def _num(value) -> float | None:
    value = float(value)
    return round(value, 6) if np.isfinite(value) else None


def verdict(low: float, high: float) -> str:
    """better / worse / tied by where the interval of P(improvement) lies against 0.5."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return "unknown"
    if low > 0.5:
        return "better"
    if high < 0.5:
        return "worse"
    return "tied"


def split(runs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(classification runs, regression runs)."""
    regression = is_regression(runs)
    return runs[~regression], runs[regression]


def per_dataset(
    runs: pd.DataFrame, candidate: str, metric: str = "test_acc", n_resamples: int = N_RESAMPLES
) -> list[dict]:
    """Per dataset: every activation's mean with its interval and tier, the tied group at the
    top, and the candidate's tier; for accuracy also the Bayes rule on the same test points."""
    summary = summarize(runs, ["dataset", "activation"], metric, n_resamples=n_resamples)
    out = []
    for dataset, rows in summary.groupby("dataset", sort=False):
        rows = rows.reset_index(drop=True)
        rows["tier"] = tiers(rows)
        top = top_group(rows)
        mine = rows[rows["activation"] == candidate]
        tier = int(mine["tier"].iloc[0]) if len(mine) else None
        entry = {
            "dataset": str(dataset),
            "tier": tier,
            "tiers": int(rows["tier"].max()) if len(rows) else 0,
            "top_group": list(top.names) if top else [],
            "best": bool(top and top.clear),
            "same_tier": [str(a) for a in rows.loc[rows["tier"] == tier, "activation"]],
            "activations": {
                str(r.activation): {**_interval(r), "tier": int(r.tier)} for r in rows.itertuples()
            },
        }
        if metric == "test_acc":
            entry["bayes"] = _num(rows["bayes"].mean()) if "bayes" in rows else None
            entry["chance"] = _num(rows["chance"].mean()) if "chance" in rows else None
        out.append(entry)
    return out


def overall(
    runs: pd.DataFrame,
    candidate: str,
    activations: Sequence[str],
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
) -> dict:
    """IQM of the share of the best possible per activation (runs x tasks on common tasks), the
    tiers of those intervals, and P(candidate > reference) for VERSUS."""
    matrices = score_matrices(with_hidden_layers(runs), "of_best", list(activations))
    if not matrices or matrices[candidate].shape[1] == 0 or np.isnan(matrices[candidate]).all():
        return {"score": None, "versus": {}, "scores": {}, "tasks": 0}
    rng = np.random.default_rng(seed)
    scores = stratified_bootstrap_ci(matrices, iqm, n_resamples=n_resamples, rng=rng)
    scores = scores.rename(columns={"method": "activation", "point": "mean"})
    scores["tier"] = tiers(scores)
    table = {str(r.activation): {**_interval(r), "tier": int(r.tier)} for r in scores.itertuples()}
    versus = {}
    for reference in VERSUS:
        if reference not in matrices:
            continue
        p = probability_of_improvement_ci(
            matrices[candidate], matrices[reference], n_resamples=n_resamples, rng=rng
        )
        versus[reference] = {
            "p_improvement": _num(p.point),
            "low": _num(p.low),
            "high": _num(p.high),
            "verdict": verdict(p.low, p.high),
        }
    mine = table[candidate]
    return {
        "score": {"iqm": mine["mean"], "low": mine["low"], "high": mine["high"]},
        "tier": mine["tier"],
        "versus": versus,
        "scores": table,
        "tasks": int(matrices[candidate].shape[1]),
    }


def is_affine(activation: Activation, runs: pd.DataFrame) -> dict:
    """Declared affine, or measured: every usable run with hidden layers has logits affine in
    the inputs (linear-fit R^2 >= AFFINE_R2) and, where regions are counted, one region."""
    mine = with_hidden_layers(usable(runs))
    r2 = pd.to_numeric(mine["linear_fit_r2"], errors="coerce").dropna()
    regions = pd.to_numeric(mine["linear_regions"], errors="coerce").dropna()
    measured = bool(len(r2) and r2.min() >= AFFINE_R2 and (regions <= 1).all())
    return {
        "affine": bool(activation.affine or measured),
        "declared": bool(activation.affine),
        "min_linear_fit_r2": _num(r2.min()) if len(r2) else None,
        "max_linear_regions": _num(regions.max()) if len(regions) else None,
    }


def flat_sides(activation: Activation) -> str:
    """Where the function goes flat far from 0: 'both', 'negative', 'positive' or 'neither'
    (a learnable one as initialised)."""
    module = activation.make().double()
    x = torch.tensor([-100.0, -50.0, 50.0, 100.0], dtype=torch.float64)
    with torch.no_grad():
        y = module(x).double()
    if not torch.isfinite(y).all():
        return "neither"
    negative = abs(float(y[0] - y[1])) / 50 < FLAT_SLOPE
    positive = abs(float(y[3] - y[2])) / 50 < FLAT_SLOPE
    return {(True, True): "both", (True, False): "negative", (False, True): "positive"}.get(
        (negative, positive), "neither"
    )


def mechanism(runs: pd.DataFrame, candidate: str, n_resamples: int = N_RESAMPLES) -> dict:
    """Dead units after training, per activation (mean over runs with hidden layers)."""
    summary = summarize(with_hidden_layers(runs), ["activation"], "dead_unit_frac",
                        n_resamples=n_resamples)  # fmt: skip
    return {str(r.activation): _interval(r) for r in summary.itertuples()}


def by_depth(runs: pd.DataFrame, n_resamples: int = N_RESAMPLES) -> dict[str, dict]:
    """Per activation: the share of the best possible by depth (its own runs, common support),
    its best depth, and the deepest depth up to which it stays in that depth's tied group."""
    out = {}
    for activation, mine in with_hidden_layers(runs).groupby("activation", sort=False):
        summary = summarize(mine, ["depth"], "of_best", n_resamples=n_resamples)
        if summary.empty:
            continue
        summary = summary.sort_values("depth").reset_index(drop=True)
        top = top_group(summary, key="depth")
        tied = set(top.names) if top else set()
        best = summary.loc[summary["mean"].idxmax(), "depth"]
        deepest = None
        for depth in summary["depth"]:
            if depth < best:
                continue
            if depth not in tied:
                break
            deepest = int(depth)
        out[str(activation)] = {
            "best_depth": int(best),
            "trainable_to_depth": deepest,
            "depths": {int(r.depth): _interval(r) for r in summary.itertuples()},
        }
    return out


def early_accuracy(
    runs: pd.DataFrame, curves: pd.DataFrame, n_resamples: int = N_RESAMPLES
) -> dict:
    """Test accuracy at EARLY_EPOCH per activation (runs with hidden layers), with intervals;
    empty when the curves do not store that epoch."""
    mine = with_hidden_layers(runs)
    at, epoch = accuracy_at_epoch(mine, curves, EARLY_EPOCH)
    if epoch is None:
        return {}
    summary = summarize(at, ["activation"], "test_acc", n_resamples=n_resamples)
    return {"epoch": epoch, **{str(r.activation): _interval(r) for r in summary.itertuples()}}


def left_out(runs: pd.DataFrame, candidate: str) -> dict:
    """The candidate's runs: how many, failed, diverged (left out of every statistic), and the
    first error message."""
    mine = runs[runs["activation"] == candidate]
    errors = mine.loc[mine["failed"], "error"]
    return {
        "runs": int(len(mine)),
        "failed": int(mine["failed"].sum()),
        "diverged": int((mine["diverged"] & ~mine["failed"]).sum()),
        "first_error": str(errors.iloc[0]) if len(errors) else "",
    }
