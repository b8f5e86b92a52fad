"""The report: figures, tables and summary.md from a results directory.

    from bench.report import build_report
    build_report(Path("results/seed"), Path("reports/seed"))

The report flows one way:

    results.py    load a results directory; orderings, subsets, the affine activations;
                  classification runs apart from regression runs (split_tasks)
    yardsticks.py each run's chance and best possible accuracy (bench.data.ceiling)
    tables.py     seed-level summaries with bootstrap intervals, the ranking, failure counts
    convergence.py  had training converged: the rule, per run and per setting
    learned.py    learnable activations' trained parameters (act_params)
    summaries.py  every summary the report quotes, computed once (`summaries`)
    wording.py    the rules behind every comparative word: best, tied, tiers, at chance
    markdown.py   how numbers and comparisons are written; the markdown tables
    headline.py   the headline: findings beside their yardsticks, convergence
    text.py       how to read it, the grid, seed-notebook, environment and reproduce sections
    plotting.py   styles and drawing primitives
    figures.py    one pure function per figure, drawn from summary tables
    gallery.py    the decision-surface gallery (figure 1)
    regression_summaries.py  regression runs: test R^2 beside its yardsticks (bench.data.ceiling)
    regression_figures.py    R^2 against depth; the fitted functions
    regression.py the regression section: tables, sentences, figures, headline bullets
    sections.py   each figure with its caption, or the reason it is skipped
    summary.py    `build_report`: assembles summary.md, figures/*.png and tables/*.csv
"""

from bench.report.results import Results, load_results
from bench.report.summaries import Summaries, summaries
from bench.report.summary import build_report

__all__ = ["Results", "Summaries", "build_report", "load_results", "summaries"]
