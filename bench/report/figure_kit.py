"""What every figure builder of the report shares: its inputs, what it returns, and how it says
that the results cannot show a figure (:class:`Skip`).

Kept apart from :mod:`bench.report.sections` so that a builder living in a module of its own
(:mod:`bench.report.feature_maps`) imports it without importing the sections back.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from matplotlib.figure import Figure

from bench.report.markdown import fmt
from bench.report.regression_summaries import RegressionSummaries
from bench.report.results import Results, levels, usable
from bench.report.summaries import Summaries
from bench.report.tables import N_RESAMPLES

REFERENCE_PHRASE = (
    "yardsticks on the same test points: chance (dotted), the best straight line (dashed) and "
    "the best possible (dash-dotted)"
)


class Skip(Exception):
    """Raised by a figure builder when the results lack what the figure needs."""


@dataclass(frozen=True)
class Inputs:
    """What every builder reads: the results, their summaries, one style per activation, and
    the bootstrap settings the summaries were computed with (for a builder that summarises
    runs its own way). ``results`` and ``summaries`` are the classification runs' (None
    without any); ``regression`` the regression runs' summaries (None without any)."""

    results: Results
    summaries: Summaries | None
    styles: dict[str, dict]
    n_resamples: int = N_RESAMPLES
    seed: int = 0
    regression: RegressionSummaries | None = None
    every_run: pd.DataFrame | None = None  # every block's runs, for checks that read them all

    @property
    def runs(self) -> pd.DataFrame:
        """The runs that neither failed nor diverged."""
        return usable(self.results.runs)

    @property
    def all_runs(self) -> pd.DataFrame:
        """Every block's usable runs (the main block's when not given)."""
        return usable(self.every_run) if self.every_run is not None else self.runs

    def left_out(self) -> str:
        """' (3 failed and 1 diverged runs left out)', or '' when none was."""
        return f" ({self.summaries.left_out})" if self.summaries.left_out else ""


@dataclass
class Built:
    figure: Figure
    caption: str
    text: str = ""  # markdown set after the figure and its caption (tables, findings)
    data: pd.DataFrame | None = None  # the numbers drawn, for tables/<figure stem>.csv


def skip_unless_varies(runs: pd.DataFrame, axis: str, what: str, who: str = "the grid has") -> None:
    """Skip a figure whose axis has fewer than two values in ``runs``."""
    values = levels(runs, axis)
    if len(values) < 2:
        shown = fmt(values[0]) if values else "none"
        raise Skip(f"{who} a single {axis} ({shown}), so there is no {what} to plot.")
