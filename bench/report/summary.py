"""Assemble a report from a results directory: figures, tables and summary.md.

Nothing here is a finding: every number and every comparative word in summary.md is computed from
the results, once, by :func:`bench.report.summaries.summaries`. The only literal numbers are the
seed notebook's printed results (:mod:`bench.grid.notebook`), quoted for the reproduction check.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from bench.activations.registry import BUILTIN_REGISTRY
from bench.report import born_dead, regression, theory, wording
from bench.report.blocks import sections as block_sections
from bench.report.blocks import studies
from bench.report.blocks import title as block_title
from bench.report.convergence import RULE as CONVERGENCE_RULE
from bench.report.convergence import unconverged
from bench.report.glossary import glossary
from bench.report.headline import headline
from bench.report.lesson_sections import Writers, lead_parts, why_parts
from bench.report.markdown import accuracy_pivot, note, ranking_markdown, yardstick_markdown
from bench.report.plotting import activation_styles
from bench.report.real_data import section as real_section
from bench.report.regression_summaries import regression_summaries
from bench.report.results import (
    affine_activations,
    is_regression,
    levels,
    linear_control,
    load_results,
    split_tasks,
    usable,
)
from bench.report.sections import Inputs, Skip, figure_plan
from bench.report.seed_longer import longer_paragraph
from bench.report.summaries import Summaries, summaries
from bench.report.tables import N_RESAMPLES, failure_counts
from bench.report.text import (
    environment,
    grid_description,
    reading_guide,
    reproduce,
    resolve_grid_name,
    seed_reproduction,
)
from bench.report.yardsticks import with_yardsticks
from bench.results.blocks import Blocks, load_blocks
from bench.results.export import run_registry

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
# No software version or date in the PNGs: the same results give byte-identical files.
PNG_METADATA = {"Software": None}
HOW = (
    "Test accuracy (%): mean over replicates [95% interval]; each replicate (a data sample and "
    "an initialisation seed) is first averaged over the other axes. Failed and diverged runs "
    "are left out."
)


def build_report(
    results_dir: Path | str,
    out_dir: Path | str,
    grid_name: str | None = None,
    *,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
    explore_page: str | None = None,
) -> Path:
    """Write ``out_dir/summary.md``, ``out_dir/figures/*.png`` and ``out_dir/tables/*.csv`` from
    the results in ``results_dir``; return the path of summary.md.

    ``grid_name`` is used for the title and the reproduce command when the manifest does not
    name the grid. ``seed`` seeds every bootstrap interval, so the same results give the same
    report, byte for byte; a file whose content did not change is not rewritten.
    ``explore_page``: the file name of the explore page written beside summary.md, linked from
    the first screen (None: none is written).
    """
    matplotlib.use("Agg")
    results_dir, out_dir = Path(results_dir), Path(out_dir)
    results = load_results(results_dir)
    runs = results.runs
    name = resolve_grid_name(results.manifest, grid_name, results_dir)
    figures = Outputs(out_dir / "figures", ".png")
    tables = Tables(out_dir / "tables")

    # The main block is the report's body; every further block gets a section of its own.
    main, further = studies(results, _blocks(results_dir))
    # Classification and regression runs are summarised apart: every accuracy section reads
    # the classification runs only, the regression section the regression runs.
    classification, fits = split_tasks(main)
    s = summaries(classification, n_resamples=n_resamples, seed=seed) if classification else None
    rs = regression_summaries(fits, n_resamples=n_resamples, seed=seed) if fits else None
    # the lesson's pair (relu, the classic, and the lesson's best activation) in strong colours
    emphasis = {"relu", s.lesson.best} if s is not None and s.lesson is not None else ()
    styles = activation_styles(
        levels(usable(runs), "activation"), affine_activations(runs), emphasis
    )
    inputs = Inputs(classification or fits, s, styles, n_resamples, seed, rs, results.runs)

    parts = [f"# nonlinbench report: {name}"]
    if s is not None and s.lesson is not None:
        with plt.rc_context(RC):
            write = Writers(lambda name, fig: figures.write_bytes(name, _png(fig)), tables.write)
            parts += lead_parts(s.lesson, results.surfaces, write, explore_page)
            parts += why_parts(s.lesson, results, styles, write)
    parts += real_section(with_yardsticks(usable(main.runs)), linear_control(main.runs),
                          n_resamples=n_resamples, seed=seed)  # fmt: skip
    if s is not None:
        parts.append("## Findings")
        parts.append(headline(classification.runs, s))
    if rs is not None:
        parts.append(regression.headline(rs))
    for study in further:
        if is_regression(study.results.runs).all():
            block_rs = regression_summaries(study.results, n_resamples=n_resamples, seed=seed)
            parts.append(f"*{block_title(study)}* " + regression.headline(block_rs))
    reproduction = seed_reproduction(s.notebook) if s is not None else None
    if reproduction is not None:
        longer = longer_paragraph(s.notebook, runs, results.curves, n_resamples=n_resamples,
                                  seed=seed)  # fmt: skip
        parts += ["## Reproducing the seed notebook", reproduction, longer]

    parts.append("## Figures")
    with sns.axes_style("whitegrid"), plt.rc_context(RC):
        plan = figure_plan(s, with_regression=rs is not None)
        if s is not None and born_dead.measured(classification.runs):
            plan.insert(plan.index(theory.SECTION) + 1, born_dead.SECTION)
        plan += [section for study in further for section in block_sections(study)]
        for number, (filename, title, builder) in enumerate(plan, start=1):
            parts.append(f"### {number}. {title}")
            try:
                if usable(runs).empty:
                    raise Skip("every run failed or diverged.")
                built = builder(inputs)
            except Skip as skip:
                parts.append(f"> Skipped: {skip}")
                continue
            figures.write_bytes(filename, _png(built.figure))
            if built.data is not None and len(built.data):
                tables.write(built.data, f"{Path(filename).stem}.csv")
            parts.append(f"![{title}](figures/{filename})\n\n*Figure {number}. {built.caption}*")
            parts.append(built.text)  # empty for most figures; dropped below
    figures.remove_stale()  # a figure skipped this time must not linger

    parts.append("## Tables")
    if s is not None:
        parts += _tables(s, tables)
    parts += _failures_table(failure_counts(runs), tables)
    # Method and reproduction last: how to read the words and intervals, the terms, the grid.
    guide = reading_guide() if s is not None else wording.RULE
    parts += ["## How to read this report", guide + (f" {regression.READING}" if rs else "")]
    activations = levels(usable(runs), "activation")
    parts += ["### Glossary", glossary(activations, run_registry(results.path, BUILTIN_REGISTRY))]
    parts += ["## Grid", grid_description(runs)]
    parts += ["## Environment", environment(results.manifest)]
    parts += ["## Reproduce", reproduce(results.manifest, name)]
    tables.remove_stale()
    summary_path = out_dir / "summary.md"
    write_if_changed(summary_path, ("\n\n".join(p for p in parts if p) + "\n").encode())
    return summary_path


def _blocks(results_dir: Path) -> Blocks:
    """The results' blocks (bench.results.blocks); one block, every run, when the manifest has none."""
    try:
        return load_blocks(results_dir)
    except (OSError, ValueError, KeyError, TypeError):  # a manifest of an older format
        return Blocks((), {})


def write_if_changed(path: Path, data: bytes) -> None:
    """Write ``data`` unless the file already holds exactly it (so an unchanged report leaves
    the files, and their times, alone)."""
    if path.exists() and path.read_bytes() == data:
        return
    path.write_bytes(data)


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", metadata=PNG_METADATA)
    plt.close(figure)
    return buffer.getvalue()


class Outputs:
    """One of the report's folders (figures/, tables/): each file written through it is
    remembered, so that any other file of its kind there, one this build did not make, can be
    removed as stale."""

    def __init__(self, folder: Path, suffix: str):
        self.folder, self.suffix = folder, suffix
        self.written: set[Path] = set()
        folder.mkdir(parents=True, exist_ok=True)

    def write_bytes(self, name: str, data: bytes) -> None:
        path = self.folder / name
        self.written.add(path)
        write_if_changed(path, data)

    def remove_stale(self) -> None:
        for path in self.folder.glob(f"*{self.suffix}"):
            if path not in self.written:
                path.unlink()


class Tables(Outputs):
    """The report's tables/ folder, written as CSV files."""

    def __init__(self, folder: Path):
        super().__init__(folder, ".csv")

    def write(self, frame: pd.DataFrame, name: str, index: bool = False) -> None:
        self.write_bytes(name, frame.to_csv(index=index).encode())


def _tables(s: Summaries, tables: Tables) -> list:
    """The tables section of summary.md; each table is also written as a CSV file. Every table
    says, from its selection, what its cells average over and what was left out."""
    by_dataset = s.by_dataset[["activation", "dataset", "mean", "low", "high", "n"]]
    by_dataset = by_dataset.sort_values(["activation", "dataset"], kind="stable")
    tables.write(by_dataset, "accuracy_by_activation_dataset.csv")
    tables.write(s.by_depth, "accuracy_by_activation_depth.csv")
    parts = [
        "### Test accuracy by activation and dataset",
        f"{HOW} Networks with hidden layers only. {note(s.by_dataset)} The first row is chance; "
        "the best possible accuracy of each dataset and noise level is in the next table.",
        accuracy_pivot(by_dataset, "dataset", {"chance": s.chance}).to_markdown(),
    ]
    if len(s.yardsticks) and np.isfinite(s.yardsticks["bayes"].to_numpy(float)).any():
        tables.write(s.yardsticks, "best_possible.csv")
        tables.write(s.of_best, "share_of_best_possible.csv")
        parts += [
            "### The best possible accuracy, per dataset and noise",
            "Chance; the Bayes rule's accuracy on the very test points the runs were scored on "
            "(the best possible on these test sets, the yardstick of every share below); and "
            "the expected Bayes accuracy over the generator's distribution (%). A few small test "
            "sets can be easier or harder than the distribution: the two differ by that.",
            yardstick_markdown(s.yardsticks),
            "### Share of the best possible accuracy",
            "Each run's test accuracy as a share of the Bayes rule's accuracy on the same test "
            "points (%), mean [95% interval]; networks with hidden layers. Above 100% only where "
            "a network beat the estimated Bayes rule on a particular test set, by chance. "
            + note(s.of_best),
            accuracy_pivot(s.of_best, "dataset").to_markdown(),
        ]
    parts += [
        "### Test accuracy by activation and depth",
        f"{HOW} Depth 0 is logistic regression. {note(s.by_depth)}",
        accuracy_pivot(s.by_depth, "depth").to_markdown(),
    ]
    for axis, axis_summaries in s.by_axis.items():
        tables.write(axis_summaries.by_activation, f"accuracy_by_activation_{axis}.csv")
        parts += [
            f"### Test accuracy by activation and {axis}",
            f"{HOW} Networks with hidden layers. {note(axis_summaries.by_activation)}",
            accuracy_pivot(axis_summaries.by_activation, axis).to_markdown(),
        ]
    parts += _convergence_table(s, tables)
    if not s.learned.empty:
        tables.write(s.learned, "learned_parameters.csv")
        learned = s.learned.assign(
            activation=s.learned["activation"] + ": " + s.learned["parameter"]
        )
        parts += [
            "### Learned activation parameters",
            "The trained value of each parameter, averaged over a network's hidden layers: mean "
            "over seeds [95% bootstrap interval], by depth.",
            accuracy_pivot(learned, "depth").to_markdown(),
        ]
    parts.append("### Ranking")
    if len(s.ranking):
        tables.write(s.ranking, "ranking.csv")
        parts += [
            "IQM of test accuracy over tasks and seeds with 95% stratified-bootstrap intervals, "
            f"and the probability of improving on {s.ranking.attrs['reference']} (rliable's "
            "method); networks with hidden layers, tasks that every activation ran. Tier 1 is "
            "the activation whose interval lies above every other's, or the activations tied at "
            "the top (their intervals overlap the highest IQM's); tier 2 the same among the "
            "rest, and so on.",
            ranking_markdown(s.ranking),
        ]
    else:
        parts.append("> Skipped: no task was run by every activation.")
    return parts


def _failures_table(failures: pd.DataFrame, tables: Tables) -> list[str]:
    """Failed and diverged runs per activation, classification and regression runs alike."""
    tables.write(failures, "failures.csv", index=True)
    return [
        "### Failed and diverged runs",
        "Failed: the run stopped with an error (its metrics are missing). Diverged: the training "
        "loss stopped being finite or exceeded 100 times its initial value, and the run was "
        "frozen there. Both are left out of every summary above.",
        failures.to_markdown(),
    ]


def _convergence_table(s: Summaries, tables: Tables) -> list[str]:
    if s.convergence.empty:
        return []
    tables.write(s.convergence, "convergence.csv")
    table = s.convergence.assign(
        cell=[
            f"{r.not_converged}/{r.runs}" + (f" ({r.median_rate:.3f})" if r.not_converged else "")
            for r in s.convergence.itertuples()
        ]
    ).pivot(index="activation", columns="dataset", values="cell")
    table = table.reindex(index=levels(s.convergence, "activation"),
                          columns=levels(s.convergence, "dataset"))  # fmt: skip
    return [
        "### Convergence",
        f"{CONVERGENCE_RULE} Each cell: runs that had not converged / runs (the median fall of "
        "their training loss per 100 epochs over the last 10% of the epochs, nats); networks "
        "with hidden layers, the runs the accuracy tables compare.",
        table.fillna("–").to_markdown(),
        *_unconverged_cells(s),
    ]


def _unconverged_cells(s: Summaries) -> list[str]:
    """Every cell where half or more of the runs had not converged, named."""
    rows = unconverged(s.convergence)
    if rows.empty:
        return []
    lines = [
        f"- {r.activation} on {r.dataset}: {r.not_converged} of {r.runs} runs "
        f"(median {r.median_rate:.3f} nats per 100 epochs)"
        for r in rows.itertuples()
    ]
    return ["Half or more of the runs had not converged in these cells:\n\n" + "\n".join(lines)]
