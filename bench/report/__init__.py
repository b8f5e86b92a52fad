"""The report: figures and summary.md from a results directory.

    from bench.report import build_report
    build_report(Path("results/seed"), Path("reports/seed"))

:mod:`bench.report.tables` computes every number, :mod:`bench.report.figures` draws each figure
with one pure function, and :mod:`bench.report.summary` assembles them into summary.md.
"""

from bench.report.figures import (
    activation_styles,
    plot_accuracy_vs_depth,
    plot_dead_units,
    plot_decision_gallery,
    plot_grad_norm_init,
    plot_iqm_ranking,
    plot_learning_curves,
    plot_linear_fit_r2,
    plot_linear_regions,
    plot_noise_robustness,
    plot_probability_of_improvement,
    plot_width_depth_heatmaps,
)
from bench.report.summary import build_report
from bench.report.tables import load_results, ranking_table, summarize

__all__ = [
    "activation_styles",
    "build_report",
    "load_results",
    "plot_accuracy_vs_depth",
    "plot_dead_units",
    "plot_decision_gallery",
    "plot_grad_norm_init",
    "plot_iqm_ranking",
    "plot_learning_curves",
    "plot_linear_fit_r2",
    "plot_linear_regions",
    "plot_noise_robustness",
    "plot_probability_of_improvement",
    "plot_width_depth_heatmaps",
    "ranking_table",
    "summarize",
]
