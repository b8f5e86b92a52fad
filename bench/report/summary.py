"""Assemble a report from a results directory: figures, tables and summary.md.

Nothing here is a finding: every number and every comparative word in summary.md is computed from
the results, once, by :func:`bench.report.summaries.summaries`. The only literal numbers are the
seed notebook's printed results (:mod:`bench.notebook`), quoted for the reproduction check.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import seaborn as sns

from bench.report.markdown import accuracy_pivot, ranking_markdown
from bench.report.plotting import activation_styles
from bench.report.results import levels, load_results, succeeded
from bench.report.sections import FIGURE_FILES, FIGURES, Inputs, Skip
from bench.report.summaries import Summaries, summaries
from bench.report.tables import N_RESAMPLES
from bench.report.text import (
    environment,
    grid_description,
    headline,
    resolve_grid_name,
    seed_reproduction,
)

DPI = 120  # sharp on screen at the figures' sizes, a few hundred kB each
RC = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "legend.title_fontsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
}
HOW = (
    "Test accuracy (%): mean over seeds [95% bootstrap interval over seeds]; each seed is first "
    "averaged over every other axis. Failed runs are left out."
)


def build_report(
    results_dir: Path | str,
    out_dir: Path | str,
    grid_name: str | None = None,
    *,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
) -> Path:
    """Write ``out_dir/summary.md``, ``out_dir/figures/*.png`` and ``out_dir/tables/*.csv`` from
    the results in ``results_dir``; return the path of summary.md.

    ``grid_name`` is used for the reproduce command when the manifest does not name the grid.
    ``seed`` seeds every bootstrap interval, so the same results give the same report.
    """
    matplotlib.use("Agg")
    results_dir, out_dir = Path(results_dir), Path(out_dir)
    results = load_results(results_dir)
    runs = results.runs
    name = resolve_grid_name(results.manifest, grid_name, results_dir)
    figures_dir, tables_dir = out_dir / "figures", out_dir / "tables"
    figures_dir.mkdir(parents=True, exist_ok=True)
    tables_dir.mkdir(parents=True, exist_ok=True)
    for filename in FIGURE_FILES:  # a figure skipped this time must not linger from last time
        (figures_dir / filename).unlink(missing_ok=True)

    s = summaries(results, n_resamples=n_resamples, seed=seed)
    styles = activation_styles(levels(succeeded(runs), "activation"), s.affine)
    inputs = Inputs(results, s, styles)

    parts = [f"# nonlinbench report: {name}", headline(runs, s)]
    parts += ["## Grid", grid_description(runs)]
    reproduction = seed_reproduction(s.notebook)
    if reproduction is not None:
        parts += ["## Reproducing the seed notebook", reproduction]

    parts.append("## Figures")
    with sns.axes_style("whitegrid"), plt.rc_context(RC):
        for number, (filename, title, builder) in enumerate(FIGURES, start=1):
            parts.append(f"### {number}. {title}")
            try:
                if succeeded(runs).empty:
                    raise Skip("every run failed.")
                built = builder(inputs)
            except Skip as skip:
                parts.append(f"> Skipped: {skip}")
                continue
            built.figure.savefig(figures_dir / filename, dpi=DPI, bbox_inches="tight")
            plt.close(built.figure)
            parts.append(f"![{title}](figures/{filename})\n\n*Figure {number}. {built.caption}*")

    parts += ["## Tables", *_tables(s, tables_dir)]
    parts += ["## Environment", environment(results.manifest)]
    parts += [
        "## Reproduce",
        "Rerun the grid and rebuild this report with:",
        f"```\nnonlinbench run --grid {name} && nonlinbench report --grid {name}\n```",
    ]
    summary_path = out_dir / "summary.md"
    summary_path.write_text("\n\n".join(p for p in parts if p) + "\n")
    return summary_path


def _tables(s: Summaries, tables_dir: Path) -> list[str]:
    """The tables section of summary.md; each table is also written as a CSV file."""
    by_dataset = s.by_dataset[["activation", "dataset", "mean", "low", "high", "n"]]
    by_dataset = by_dataset.sort_values(["activation", "dataset"], kind="stable")
    by_dataset.to_csv(tables_dir / "accuracy_by_activation_dataset.csv", index=False)
    s.by_depth.to_csv(tables_dir / "accuracy_by_activation_depth.csv", index=False)
    parts = [
        "### Test accuracy by activation and dataset",
        HOW + " Networks with hidden layers only.",
        accuracy_pivot(by_dataset, "dataset").to_markdown(),
        "### Test accuracy by activation and depth",
        HOW + " Depth 0 is logistic regression.",
        accuracy_pivot(s.by_depth, "depth").to_markdown(),
        "### Ranking",
    ]
    if len(s.ranking):
        s.ranking.to_csv(tables_dir / "ranking.csv", index=False)
        parts += [
            "IQM of test accuracy over tasks and seeds with 95% stratified-bootstrap intervals, "
            f"and the probability of improving on {s.ranking.attrs['reference']} (rliable's "
            "method); networks with hidden layers, tasks that every activation ran.",
            ranking_markdown(s.ranking),
        ]
    else:
        parts.append("> Skipped: no task was run by every activation.")
    s.failures.to_csv(tables_dir / "failures.csv")
    parts += [
        "### Failed and diverged runs",
        "Failed: the run stopped with an error (its metrics are missing). Diverged: the loss "
        "stopped being finite during training.",
        s.failures.to_markdown(),
    ]
    return parts
