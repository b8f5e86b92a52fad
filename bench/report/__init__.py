"""The report: figures, tables and summary.md from a results directory.

    from bench.report import build_report
    build_report(Path("results/seed"), Path("reports/seed"))

The report flows one way:

    results.py    load a results directory; orderings, subsets, the affine activations
    tables.py     seed-level summaries with bootstrap intervals, the ranking, failure counts
    summaries.py  every summary the report quotes, computed once (`summaries`)
    markdown.py   how numbers and comparisons are written; the markdown tables
    text.py       the headline, grid, seed-notebook and environment sections
    plotting.py   styles and drawing primitives
    figures.py    one pure function per figure, drawn from summary tables
    gallery.py    the decision-surface gallery (figure 1)
    sections.py   each figure with its caption, or the reason it is skipped
    summary.py    `build_report`: assembles summary.md, figures/*.png and tables/*.csv
"""

from bench.report.results import Results, load_results
from bench.report.summaries import Summaries, summaries
from bench.report.summary import build_report

__all__ = ["Results", "Summaries", "build_report", "load_results", "summaries"]
