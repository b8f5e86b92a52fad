"""`nonlinbench explore`: one self-contained HTML page over a grid's results.

Pick any value of every varying axis and see that cell's decision surface, accuracy over seeds
beside the affine control and the best in the grid (test R^2 and the fitted function for a
regression cell), learning curves and mechanism measures; compare two cells; plot one measure
against one axis. A grid of several blocks (studies, bench.results.blocks) is shown one study at a
time, chosen first and named by its question. Everything (data, script, style) is inside the
file, which works opened from disk with no network.

    data.py    results folder -> one JSON document (cells.py aggregates, encode.py packs)
    page.py    document + page.css + draw.js, stats.js, state.js, panels.js, page.js -> HTML
"""

from bench.explore.page import write_explore_page

__all__ = ["write_explore_page"]
