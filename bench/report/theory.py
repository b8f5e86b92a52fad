"""Theory beside measurement: what known results predict for the quantities the runs measure,
the measurement with its interval, and a verdict by a stated tolerance.

* **Deep linear collapse.** A product of affine maps is affine, so every network of an affine
  activation is one affine map of its inputs at every depth: the affine fit to its logits has
  R^2 = 1 and it has one linear region. Checked on every such run on raw inputs; the count of
  exceptions must be zero.
* **Gradient at initialisation** (mean-field theory, bench.activations.theory): each further hidden layer
  multiplies the first layer's gradient norm by sqrt(chi_1), so log10 of the norm falls with
  depth by log10(sqrt(chi_1)) per layer. Measured: per replicate, the least-squares slope of
  log10(grad_norm_init_first) against depth (each depth first averaged over the other axes,
  on common support), then the mean with its two-level bootstrap interval. The verdict is
  "agrees" when the measured mean is within TOLERANCE of the prediction, else "departs".
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from bench.activations.plugins import get_activation
from bench.activations.registry import ActivationError
from bench.activations.theory import mean_field
from bench.report.figure_kit import Built, Inputs, Skip
from bench.report.markdown import fmt, note
from bench.report.plotting import activation_legend, legend_handles
from bench.report.results import is_regression, levels, seed_axes, with_hidden_layers
from bench.report.support import select
from bench.report.tables import CONFIDENCE, seed_level, summarize, summarize_replicates

TOLERANCE = 0.1  # decades per layer: a factor of 1.26 in the per-layer gradient ratio
LINEAR_R2 = 1 - 1e-6  # an affine map's logits are fitted exactly, up to float32 rounding
GRADIENT = "grad_norm_init_first"
PANEL = 3.6  # inches per width panel


def linear_collapse(runs: pd.DataFrame) -> dict:
    """Affine-activation runs on raw inputs: how many, and how many break the theorem (an
    affine fit R^2 below LINEAR_R2, or more than one linear region)."""
    chosen = select(runs, ["activation"], metric="linear_fit_r2", where=_affine_networks).runs
    if chosen.empty:
        return {}
    regions = pd.to_numeric(chosen["linear_regions"], errors="coerce")
    broken = (chosen["linear_fit_r2"] < LINEAR_R2) | (regions.notna() & (regions != 1))
    return {
        "runs": len(chosen),
        "exceptions": int(broken.sum()),
        "min_r2": float(chosen["linear_fit_r2"].min()),
        "depths": levels(chosen, "depth"),
        "activations": levels(chosen, "activation"),
    }


def _affine_networks(runs: pd.DataFrame) -> pd.DataFrame:
    return runs[runs["affine"].to_numpy(bool) & (runs["depth"] > 0).to_numpy()]


def gradient_slopes(runs: pd.DataFrame, n_resamples: int, seed: int) -> pd.DataFrame:
    """Per init, width and activation: the measured slope of log10(first-layer gradient norm at
    initialisation) against depth (mean, low, high, n over replicates) and the mean-field
    prediction (``predicted``; NaN where the activation cannot be loaded, e.g. a plugin that is
    not installed, or a mixed stack)."""
    runs = runs.assign(init=runs["init"] if "init" in runs else "pytorch")
    chosen = select(runs, ["activation", "depth"], ["init", "width"], metric=GRADIENT,
                    where=with_hidden_layers)  # fmt: skip
    kept = chosen.runs
    kept = kept[kept[GRADIENT] > 0]
    if kept.empty or kept["depth"].nunique() < 2:
        return pd.DataFrame()
    kept = kept.assign(log_gradient=np.log10(kept[GRADIENT].astype(float)))
    cells = ["init", "width", "activation"]
    level = seed_level(kept, [*cells, "depth"], "log_gradient")
    replicate = [*cells, *seed_axes(kept)]
    slopes = (
        level.groupby(replicate, sort=True)
        .apply(_slope, include_groups=False)
        .rename("slope")
        .dropna()
        .reset_index()
    )
    summary = summarize_replicates(slopes, cells, "slope", n_resamples, CONFIDENCE, seed)
    summary["predicted"] = [
        _predicted(r.activation, r.init, int(r.width)) for r in summary.itertuples()
    ]
    summary.attrs["selection"] = chosen
    return summary


def _slope(part: pd.DataFrame) -> float:
    if part["depth"].nunique() < 2:
        return np.nan
    return float(np.polyfit(part["depth"].astype(float), part["log_gradient"], 1)[0])


def _predicted(name: str, init: str, width: int) -> float:
    try:
        return mean_field(get_activation(name), init, width).log10_slope
    except (ActivationError, ValueError, RuntimeError, TypeError):
        return np.nan


KAIMING_TOLERANCE = 0.25  # zero biases: within 25% of 2N regions, N = depth x width units


def regions_at_init(runs: pd.DataFrame, n_resamples: int, seed: int) -> pd.DataFrame:
    """Linear regions at initialisation and after training, per piecewise-linear activation,
    init, width and depth (mean, low, high over replicates on common support; the trained count
    in ``trained``)."""
    if "linear_regions_init" not in runs:
        return pd.DataFrame()
    runs = runs.assign(init=runs["init"] if "init" in runs else "pytorch")
    counted = runs[np.isfinite(pd.to_numeric(runs["linear_regions_init"], errors="coerce"))]
    counted = counted[~counted["affine"].to_numpy(bool)]
    if counted.empty:
        return pd.DataFrame()
    by = ["activation", "init", "width", "depth"]
    options = {"within": by[:3], "where": with_hidden_layers, "n_resamples": n_resamples,
               "seed": seed}  # fmt: skip
    summary = summarize(counted, by, "linear_regions_init", **options)
    trained = summarize(counted, by, "linear_regions", **options)
    return summary.merge(trained[[*by, "mean"]].rename(columns={"mean": "trained"}), on=by)


def _region_rows(regions: pd.DataFrame) -> list[dict]:
    """The rows of the theory table on linear regions (module docstring of bench.activations.theory and
    Hanin & Rolnick 2019): zero biases give about 2N regions at any depth; random biases grow
    polynomially in the number of units, not exponentially with depth."""
    rows = []
    for (activation, init, width), part in regions.groupby(["activation", "init", "width"]):
        part = part.sort_values("depth")
        counts = ", ".join(
            f"depth {fmt(r.depth)}: {r.mean:.0f} [{r.low:.0f}, {r.high:.0f}]"
            if np.isfinite(r.low) else f"depth {fmt(r.depth)}: {r.mean:.0f}"
            for r in part.itertuples()
        )  # fmt: skip
        trained = ", ".join(f"{r.trained:.0f}" for r in part.itertuples())
        if init == "kaiming":
            targets = 2 * width * part["depth"].to_numpy(float)  # 2N, N = hidden units
            ok = bool(
                (np.abs(part["mean"].to_numpy(float) / targets - 1) <= KAIMING_TOLERANCE).all()
            )
            prediction = (
                f"{activation}, width {fmt(width)}, zero biases (kaiming): the network is "
                "positively homogeneous, every boundary a ray through the origin, so about 2N "
                f"regions for N hidden units at any depth ({', '.join(f'{t:.0f}' for t in targets)}"
                f"; within {100 * KAIMING_TOLERANCE:.0f}%)"
            )
        else:
            depths = part["depth"].to_numpy(float)
            growth = float(part["mean"].iloc[-1] / part["mean"].iloc[0])
            allowed = (depths[-1] / depths[0]) ** 2  # the square of the ratio of units
            ok = growth <= allowed
            prediction = (
                f"{activation}, width {fmt(width)}, init {init} (random biases): at most about "
                f"N^2 in the number of units N, no exponential growth with depth (from depth "
                f"{fmt(depths[0])} to {fmt(depths[-1])}: at most x{allowed:.0f})"
            )
            counts += f"; x{growth:.1f}"
        rows.append({
            "prediction": prediction,
            "measurement": f"{counts} (after training: {trained})",
            "verdict": "agrees" if ok else "departs",
        })  # fmt: skip
    return rows


def verdict(row) -> str:
    if not (np.isfinite(row["mean"]) and np.isfinite(row["predicted"])):
        return "no prediction"
    return "agrees" if abs(row["mean"] - row["predicted"]) <= TOLERANCE else "departs"


def plot_slopes(summary: pd.DataFrame, styles: dict) -> plt.Figure:
    """Measured against predicted slope, a panel per width (per init when it varies), with
    the identity line and the tolerance band."""
    panels = list(summary.groupby(["init", "width"], sort=True))
    fig, axes = plt.subplots(1, len(panels), figsize=(PANEL * len(panels) + 1.4, PANEL),
                             squeeze=False, sharex=True, sharey=True)  # fmt: skip
    finite = summary[["mean", "low", "high", "predicted"]].to_numpy(float)
    finite = finite[np.isfinite(finite)]
    low, high = float(finite.min()) - 0.1, float(min(finite.max(), 0.2)) + 0.1
    line = np.array([low, high])
    for ax, ((init, width), part) in zip(axes.flat, panels, strict=True):
        ax.fill_between(line, line - TOLERANCE, line + TOLERANCE, color="0.9", zorder=0)
        ax.plot(line, line, color="0.3", linewidth=1, linestyle=":")
        for row in part.itertuples():
            style = styles.get(row.activation, {"color": "0.3", "marker": "o"})
            spread = [[row.mean - row.low], [row.high - row.mean]] if np.isfinite(row.low) else None
            ax.errorbar(row.predicted, row.mean, yerr=spread, color=style["color"],
                        marker=style["marker"], markersize=6, capsize=3, linestyle="")  # fmt: skip
        suffix = f", init {init}" if summary["init"].nunique() > 1 else ""
        ax.set_title(f"width {fmt(width)}{suffix}")
        ax.set_xlim(low, high)
        ax.set_ylim(low, high)
        ax.set_xlabel("predicted (mean field)")
    axes.flat[0].set_ylabel("measured slope\n(decades of gradient norm per layer)")
    shown = {a: styles[a] for a in levels(summary, "activation") if a in styles}
    activation_legend(fig, legend_handles(shown), loc="outside right center")
    return fig


def build(inputs: Inputs) -> Built:
    runs = inputs.all_runs
    runs = runs[~is_regression(runs)]
    collapse = linear_collapse(runs)
    regions = regions_at_init(runs, inputs.n_resamples, inputs.seed)
    slopes = gradient_slopes(runs, inputs.n_resamples, inputs.seed)
    if slopes.empty:
        raise Skip("the runs have no first-layer gradient at initialisation at two depths.")
    figure = plot_slopes(slopes, inputs.styles)
    slopes = slopes.assign(verdict=[verdict(r) for _, r in slopes.iterrows()])
    caption = (
        "How fast the gradient reaching the first layer falls with depth at initialisation: "
        "measured (mean over replicates of each replicate's least-squares slope of log10 norm "
        "against depth, with 95% intervals) against the mean-field prediction "
        "log10(sqrt(chi_1)) computed from each activation by quadrature (bench/activations/theory.py); the "
        f"dotted line is agreement, the grey band +-{TOLERANCE:g} decades per layer, the "
        f"stated tolerance. {note(slopes)}"
    )
    return Built(figure, caption, _text(collapse, slopes, regions, _affine(runs)), data=slopes)


def _text(
    collapse: dict, slopes: pd.DataFrame, regions: pd.DataFrame, affine: set = frozenset()
) -> str:
    rows = []
    if collapse:
        ok = collapse["exceptions"] == 0
        rows.append(
            {
                "prediction": "a product of affine maps is affine: the affine fit to the "
                "logits has R^2 = 1 and one linear region, at every depth",
                "measurement": f"{collapse['runs'] - collapse['exceptions']} of "
                f"{collapse['runs']} runs of {', '.join(collapse['activations'])} (depths "
                f"{', '.join(fmt(d) for d in collapse['depths'])}); lowest R^2 "
                f"{collapse['min_r2']:.6f}",
                "verdict": "agrees" if ok else f"departs: {collapse['exceptions']} exceptions",
            }
        )
    if len(regions):
        rows += _region_rows(regions)
    for row in slopes.itertuples():
        interval = f" [{row.low:+.3f}, {row.high:+.3f}]" if np.isfinite(row.low) else ""
        rows.append(
            {
                "prediction": f"{row.activation}, width {fmt(row.width)}, init {row.init}: "
                f"gradient slope {row.predicted:+.3f} decades per layer",
                "measurement": f"{row.mean:+.3f}{interval}",
                "verdict": row.verdict,
            }
        )
    table = pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True)
    departs = slopes[slopes["verdict"] == "departs"]
    where = _departures(departs, affine, len(slopes))
    return f"{table}\n\n{where}"


def _affine(runs: pd.DataFrame) -> set:
    if "affine" not in runs:
        return set()
    return set(runs.loc[runs["affine"].to_numpy(bool), "activation"])


def _departures(departs: pd.DataFrame, affine: set, total: int) -> str:
    """Why each departure departs, by its case: an affine network's pre-activations are as
    Gaussian as its inputs make them, so its departures are the finite width alone; a
    nonlinear one's can be that and non-Gaussian pre-activations."""
    if departs.empty:
        return "Every slope agrees within the tolerance."

    def at(rows: pd.DataFrame) -> str:
        return "; ".join(
            f"{a} at width {', '.join(fmt(w) for w in sorted(part['width']))}"
            for a, part in rows.groupby("activation", sort=False)
        )

    linear = departs[departs["activation"].isin(affine)]
    other = departs[~departs["activation"].isin(affine)]
    parts = [f"Departures: {len(departs)} of {total}."]
    if len(linear):
        parts.append(
            f"{at(linear)}: with no activation there is nothing non-Gaussian to blame; the "
            "theory predicts the mean squared gradient, and the mean of its logarithm over a "
            "few units falls faster with depth (the log of a product of random matrices drifts "
            "below the log of their mean product, by less as the layers widen)."
        )
    if len(other):
        parts.append(
            f"{at(other)}: the same finite-width drift, and at a few units the pre-activations "
            "are far from the Gaussian the theory assumes."
        )
    return " ".join(parts)


SECTION = ("theory_vs_measurement.png", "Theory beside measurement", build)
