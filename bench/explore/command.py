"""The `nonlinbench explore` subcommand: results -> one self-contained explore.html."""

from __future__ import annotations

import sys
from pathlib import Path

PAGE_NAME = "explore.html"


def add_explore_command(subparsers, grid_argument) -> None:
    """Registers `explore` on an argparse subparsers object; its handler returns an exit code.
    `grid_argument(parser, required)` adds the grid the way every subcommand takes it."""
    p = subparsers.add_parser(
        "explore",
        help="write an interactive HTML page over a grid's results (works offline)",
        description=(
            "Write one self-contained HTML file (data and script inside, no network needed) to "
            "explore a grid's results: pick a cell, compare two, plot a measure along an axis."
        ),
    )
    grid_argument(p, False)  # reads results/<name>, writes reports/<name>/explore.html
    p.add_argument("--results", metavar="DIR", help="results folder to read (instead of --grid)")
    p.add_argument(
        "--out",
        metavar="FILE",
        help=f"HTML file to write [reports/<grid name>/{PAGE_NAME}]",
    )
    p.add_argument("--title", help="the page's title [nonlinbench explore: <grid name>]")
    p.set_defaults(func=cmd_explore)


def cmd_explore(args) -> int:
    # Imported here, not above: bench.cli imports this module.
    from bench.cli import UserError, results_folder
    from bench.explore.page import write_explore_page

    results, name = results_folder(args)
    out = Path(args.out) if args.out else Path("reports") / name / PAGE_NAME
    if out.is_dir():
        raise UserError(
            f"--out {out} is a folder; give the HTML file to write, e.g. {out / PAGE_NAME}"
        )
    page = write_explore_page(results, out, title=args.title)
    size_mb = page.stat().st_size / 1e6
    print(f"wrote {page} ({size_mb:.1f} MB); open it in a browser", file=sys.stderr)
    return 0
