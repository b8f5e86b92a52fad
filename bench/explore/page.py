"""The explore page: the data document, the style and the scripts, inlined into one HTML file.

The page is static: `<script type="application/json" id="explore-data">` holds the data
(data.py), and the scripts, read from this package in SCRIPTS order, draw it with plain
SVG and canvas. No file is fetched, so it works opened from disk with no network.
"""

from __future__ import annotations

import html
import json
from importlib import resources
from pathlib import Path

from bench.explore.data import explore_data
from bench.results.store import atomic_write_text

# Inlined in this order; each defines what the later ones use (no modules, no bundler).
SCRIPTS = ("stats.js", "draw.js", "state.js", "panels.js", "page.js")
STYLES = ("page.css",)

_TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
{css}
</style>
</head>
<body>
<header>
  <h1>{title}</h1>
  <p id="grid-info"></p>
</header>
<main id="app"><p class="loading">Loading…</p></main>
<noscript>This page draws its figures with JavaScript; please enable it.</noscript>
<script type="application/json" id="explore-data">{data}</script>
<script>
{js}
</script>
</body>
</html>
"""


def _asset(name: str) -> str:
    return resources.files("bench.explore").joinpath(name).read_text(encoding="utf-8")


def embed_json(data: dict) -> str:
    """JSON that is safe inside a <script> element ('</' cannot close it)."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def render_html(data: dict) -> str:
    """The whole page as text."""
    return _TEMPLATE.format(
        title=html.escape(data["title"]),
        css="\n".join(_asset(name) for name in STYLES),
        data=embed_json(data),
        js="\n".join(_asset(name) for name in SCRIPTS),
    )


def write_explore_page(results_dir: Path, out_file: Path, title: str | None = None) -> Path:
    """Writes the explore page of the results in `results_dir` to `out_file`; returns its path.

    One self-contained HTML file: opened from disk it needs no network. Raises
    FileNotFoundError if `results_dir` has no runs.parquet.
    """
    out_file = Path(out_file)
    text = render_html(explore_data(results_dir, title))
    out_file.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(text, out_file)
    return out_file
