"""How much nonlinearity matters on real data: per dataset without a known best possible (a real
table or a CSV file), the networks beside chance and two tuned scikit-learn yardsticks on the
same test points (bench.data.references): a linear reference and a strong reference (the best
standard model by cross-validation on the training split: "a tuned standard model reaches").

"Best" compares every network with hidden layers, the one without an activation included, by
the report's rule (tied when intervals overlap). The share of the gap closed is how far the
highest-scoring network goes from the linear reference towards the strong one. Where the
network without an activation falls clearly below the linear reference, the same function
class trained differently, the section says how (its training score and train-test gap), and
where the activations fall below the linear network (overfitting), it says so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.report.results import usable
from bench.report.tables import summarize
from bench.report.wording import top_group, top_phrase

MIN_GAP = 0.005  # a strong reference under half a point above the linear one: nothing to close
TITLE = "How much does nonlinearity matter on real data?"


def has_references(runs: pd.DataFrame) -> bool:
    return "linear_ref" in runs and bool(np.isfinite(runs["linear_ref"].to_numpy(float)).any())


def _score(value: float, regression: bool) -> str:
    if not np.isfinite(value):
        return "–"
    return f"{value:.3f}" if regression else f"{100 * value:.1f}%"


def _ci(row, regression: bool) -> str:
    if row is None:
        return "–"
    text = _score(row["mean"], regression)
    if np.isfinite(row["low"]):
        low, high = (_score(row[k], regression).rstrip("%") for k in ("low", "high"))
        text += f" [{low}, {high}]"
    return text


def dataset_summary(part: pd.DataFrame, control: str, **options) -> dict:
    """One dataset's numbers: its yardsticks (means over its test sets), each network's score
    with hidden layers (pooled over depths) and at depth 0, and the top by the rule."""
    regression = bool((pd.to_numeric(part["n_classes"]) == 0).all())
    metric = "test_r2" if regression else "test_acc"
    hidden = part[part["depth"] > 0]
    networks = summarize(hidden, ["activation"], metric, within=[], **options)
    shallow = part[part["depth"] == 0]
    depth0 = summarize(shallow, [], metric, **options).iloc[0] if len(shallow) else None
    models = part["strong_model"].replace("", np.nan).dropna() if "strong_model" in part else []
    return {
        "regression": regression,
        "metric": metric,
        "chance": float(part["chance"].mean()) if not regression else np.nan,
        "linear": float(part["linear_ref"].mean()),
        "strong": float(part["strong_ref"].mean()),
        "strong_model": models.str.split(" \\(").str[0].mode().iloc[0] if len(models) else "",
        "networks": networks.set_index("activation"),
        "depth0": depth0,
        "top": top_group(networks),
        "control": control,
        "rows": part,
    }


def gap_closed(found: dict) -> float:
    """(highest network - linear reference) / (strong - linear); NaN without a gap to close."""
    gap = found["strong"] - found["linear"]
    if not np.isfinite(gap) or gap < MIN_GAP or found["top"] is None:
        return np.nan
    return float((found["top"].rows.iloc[0]["mean"] - found["linear"]) / gap)


def table(results: dict[str, dict]) -> pd.DataFrame:
    rows = []
    for dataset, found in results.items():
        r = found["regression"]
        networks = found["networks"]
        linear = networks.loc[found["control"]] if found["control"] in networks.index else None
        top = found["top"]
        share = gap_closed(found)
        rows.append({
            "dataset": dataset,
            "scored by": "test R²" if r else "test accuracy",
            "chance": _score(found["chance"], r),
            "linear reference": _score(found["linear"], r),
            "strong reference": f"{_score(found['strong'], r)} ({found['strong_model']})",
            f"{found['control']} (depths 1–2)": _ci(linear, r),
            "depth 0": _ci(found["depth0"], r),
            "top (tied)": ", ".join(top.names) if top is not None else "–",
            "gap closed": f"{100 * share:.0f}%" if np.isfinite(share) else "–",
        })  # fmt: skip
    return pd.DataFrame(rows)


def findings(dataset: str, found: dict) -> str:
    """One honest sentence or two per dataset, every comparative word by the rule."""
    r, networks, control = found["regression"], found["networks"], found["control"]
    top = found["top"]
    if top is None:
        return ""
    name = "R²" if r else "accuracy"
    text = f"- **{dataset}**: " + top_phrase(top, lambda row: _ci(row, r))
    text += (
        f"; the linear reference (a tuned linear model) scores {_score(found['linear'], r)} and a "
        f"tuned standard model ({found['strong_model']}) {_score(found['strong'], r)}"
    )
    if found["strong"] - found["linear"] < MIN_GAP:
        text += ": a linear model is already as good as the tuned standard model here"
    else:
        share = gap_closed(found)
        if np.isfinite(share):
            text += f"; the top network closes {100 * share:.0f}% of the gap between the two"
    text += "."
    if control in networks.index:
        linear = networks.loc[control]
        if linear["high"] < found["linear"]:
            text += " " + _why_below(found, linear, name)
        nonlinear = networks.drop(index=control)
        below = [a for a, row in nonlinear.iterrows() if row["high"] < linear["low"]]
        if below and control in top.names:
            text += " " + _overfit(found, below)
    return text


def _why_below(found: dict, linear: pd.Series, name: str) -> str:
    """The network without an activation below the linear reference: the same function class,
    so the difference is training; its training score and the train-test gap say which."""
    runs = usable(found["rows"])
    mine = runs[(runs["activation"] == found["control"]) & (runs["depth"] > 0)]
    train = "train_r2" if found["regression"] else "train_acc"
    fitted = float(mine[train].mean())
    r = found["regression"]
    return (
        f"The network without an activation is the same function class as the linear reference "
        f"yet scores lower ({_ci(linear, r)}): it fits its training points to "
        f"{_score(fitted, r)} {name} with no regularisation, a train-test gap of "
        f"{_score(fitted - linear['mean'], r).rstrip('%')}{'' if r else ' points'}, where the "
        "reference's penalty is chosen by cross-validation: it overfits."
    )


def _overfit(found: dict, below: list[str]) -> str:
    runs = usable(found["rows"])
    train = "train_r2" if found["regression"] else "train_acc"
    fits = runs[runs["activation"].isin(below) & (runs["depth"] > 0)][train].mean()
    return (
        f"{', '.join(below)} score lower than the network without an activation: with hidden "
        f"units to spare they fit the training points ({_score(float(fits), found['regression'])}"
        " on them) and overfit; more parameters are no help without regularisation here."
    )


def section(runs: pd.DataFrame, control: str | None, **options) -> list[str]:
    """The section's markdown parts, or [] without a dataset that has references."""
    runs = usable(runs)
    if control is None or not has_references(runs):
        return []
    results = {}
    for dataset in runs["dataset"].drop_duplicates():
        part = runs[runs["dataset"] == dataset]
        if np.isfinite(part["linear_ref"].to_numpy(float)).any():
            results[str(dataset)] = dataset_summary(part, control, **options)
    if not results:
        return []
    parts = [
        f"## {TITLE}",
        "Where no best possible is known, two tuned scikit-learn models are the yardsticks, "
        "scored on the very test points of each run: a **linear reference** (logistic "
        "regression or ridge, its penalty chosen by cross-validation on the training split) and "
        "a **strong reference**, what a tuned standard model reaches (the best by "
        "cross-validation of an RBF support-vector machine, gradient boosting and k-nearest "
        "neighbours). Networks: mean over replicates [95% interval], hidden layers pooled over "
        "depths 1–2; depth 0 is logistic (or linear) regression trained as the networks are.",
        table(results).to_markdown(index=False),
        "\n".join(findings(d, f) for d, f in results.items()),
        "Each data sample's references (its own split; the networks above are scored on the "
        "same test points):",
        per_sample(runs[runs["dataset"].isin(list(results))]).to_markdown(index=False),
    ]
    return parts


def per_sample(runs: pd.DataFrame) -> pd.DataFrame:
    """The references of every (dataset, data sample): one row each, as scored."""
    columns = ["dataset", "data_seed", "linear_ref", "strong_ref", "strong_model"]
    rows = runs[[c for c in columns if c in runs]].drop_duplicates(["dataset", "data_seed"])
    regression = runs.groupby("dataset")["n_classes"].apply(lambda c: (c == 0).all())
    return pd.DataFrame({
        "dataset": rows["dataset"],
        "data sample": rows["data_seed"],
        "linear reference": [_score(v, regression[d]) for d, v in
                             zip(rows["dataset"], rows["linear_ref"], strict=True)],
        "strong reference": [_score(v, regression[d]) for d, v in
                             zip(rows["dataset"], rows["strong_ref"], strict=True)],
        "strong model": rows["strong_model"] if "strong_model" in rows else "",
    })  # fmt: skip
