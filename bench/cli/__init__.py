"""The `nonlinbench` command line: the parser and the entry point. What each subcommand does
is in bench.cli.commands; nothing in the package imports this module."""

from __future__ import annotations

import argparse
import os
import sys

from bench import __version__
from bench.card.command import cmd_card
from bench.cli.commands import (
    PAGE_NAME,
    cmd_explore,
    cmd_export,
    cmd_list_activations,
    cmd_perf,
    cmd_plan,
    cmd_report,
    cmd_run,
)
from bench.errors import UserError
from bench.grid.parse import MAX_RUNS


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = 0
        if value <= 0:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, got {text!r}")
        return value

    return parse


class _Parser(argparse.ArgumentParser):
    """Reports a bad flag in one line (the usage block is one `--help` away), exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _grid_argument(p, required: bool = True) -> None:
    """A grid, given the same way to every subcommand: positionally or with --grid."""
    what = "a built-in grid name (seed, quick, playground, default, full) or a grid file's path"
    p.add_argument("grid_pos", nargs="?", metavar="GRID", help=what)
    p.add_argument("--grid", dest="grid_opt", metavar="GRID", help=f"the same: {what}")
    p.set_defaults(grid_required=required)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="nonlinbench",
        description="Activation-function ablation benchmark: why nonlinearity matters.",
    )
    parser.add_argument("--version", action="version", version=f"nonlinbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def plugin(p):
        p.add_argument(
            "--plugin",
            action="append",
            metavar="PATH",
            help="a Python file that registers activations (repeatable)",
        )

    def device(p):
        p.add_argument(
            "--device",
            default="auto",
            help="auto (cuda, then mps, then cpu), cuda, mps or cpu [auto]",
        )
        p.add_argument(
            "--threads", type=_positive(int), help="torch CPU threads per process [cores / jobs]"
        )

    def planning(p):
        p.add_argument(
            "--jobs", type=_positive(int), help="worker processes on a CPU [number of cores]"
        )
        p.add_argument(
            "--max-chunk",
            type=_positive(int),
            help="at most this many models per chunk [as many as fit the memory budget]",
        )
        p.add_argument(
            "--max-runs",
            type=_positive(int),
            default=MAX_RUNS,
            help=f"refuse a grid with more runs than this [{MAX_RUNS:,}]",
        )

    p = sub.add_parser("run", help="train every run of a grid and store the results")
    _grid_argument(p)
    p.add_argument("--out", help="results folder [results/<grid name>]")
    p.add_argument(
        "--backend",
        choices=("local", "dask"),
        default="local",
        help="local (this machine, joblib processes) or dask (a cluster) [local]",
    )
    p.add_argument("--scheduler", help="Dask scheduler address, tcp://HOST:PORT")
    p.add_argument("--fresh", action="store_true", help="discard stored results, start over")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    planning(p)
    plugin(p)
    device(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("plan", help="count runs, groups and chunks; estimate the time")
    _grid_argument(p)
    p.add_argument("--out", help="results folder to check for stored runs [results/<grid name>]")
    p.add_argument(
        "--scheduler",
        help="also check the plan against this Dask cluster's workers (tcp://HOST:PORT): "
        "their memory limits, and the pieces each would train",
    )
    p.add_argument(
        "--recalibrate",
        action="store_true",
        help="measure this machine's speed again instead of using the cached prices",
    )
    planning(p)
    plugin(p)
    device(p)
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("report", help="write figures and summary.md from stored results")
    _grid_argument(p, required=False)
    p.add_argument("--results", help="results folder [results/<grid name>]")
    p.add_argument("--out", help="report folder [reports/<grid name>]")
    plugin(p)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser(
        "explore",
        help="write an interactive HTML page over a grid's results (works offline)",
        description=(
            "Write one self-contained HTML file (data and script inside, no network needed) to "
            "explore a grid's results: pick a cell, compare two, plot a measure along an axis."
        ),
    )
    _grid_argument(p, False)  # reads results/<name>, writes reports/<name>/explore.html
    p.add_argument("--results", metavar="DIR", help="results folder to read (instead of --grid)")
    p.add_argument(
        "--out", metavar="FILE", help=f"HTML file to write [reports/<grid name>/{PAGE_NAME}]"
    )
    p.add_argument("--title", help="the page's title [nonlinbench explore: <grid name>]")
    p.set_defaults(func=cmd_explore)

    p = sub.add_parser("export", help="write one stored run as a standalone PyTorch model")
    _grid_argument(p, required=False)
    p.add_argument("--results", help="results folder [results/<grid name>]")
    p.add_argument("--run", metavar="RUN_ID", help="the run's id (or a unique start of it)")
    p.add_argument(
        "--where",
        action="append",
        metavar="AXIS=VALUE",
        help='one axis filter (repeatable; the value is taken whole: "layers=16 relu, 8 tanh")',
    )
    p.add_argument("--out", metavar="FILE", help="TorchScript file to write [exports/<run>.pt]")
    plugin(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("list-activations", help="every activation, built-in and plugin")
    plugin(p)
    p.set_defaults(func=cmd_list_activations)

    p = sub.add_parser("card", help="a one-page verdict on one activation (or --all built-ins)")
    p.add_argument("name", nargs="?", metavar="NAME", help="a built-in or a plugin's activation")
    p.add_argument("--all", action="store_true", help="every built-in, then the leaderboard")
    p.add_argument("--out", help="folder for card.md, card.png, card.json [reports/cards/NAME]")
    p.add_argument("--protocol", default="card-v1", help="a shipped protocol or a file [card-v1]")
    p.add_argument("--jobs", type=_positive(int), help="worker processes [cores]")
    plugin(p)
    p.set_defaults(func=cmd_card)

    p = sub.add_parser("perf", help="engine speed against the notebook loop and scikit-learn")
    p.add_argument("--out", default="results/perf", help="folder for perf.csv and perf.md")
    p.add_argument("--repeats", type=_positive(int), default=3, help="timed repeats [3]")
    p.add_argument("--quick", action="store_true", help="fewer epochs and sizes (a smoke test)")
    device(p)
    p.set_defaults(func=cmd_perf)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # The command line as given (for the manifest), also when main is called with a list.
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if hasattr(args, "grid_pos"):
        if args.grid_pos and args.grid_opt and args.grid_pos != args.grid_opt:
            parser.exit(
                2, f"nonlinbench: error: two grids given: {args.grid_pos}, {args.grid_opt}\n"
            )
        args.grid = args.grid_pos or args.grid_opt
        if args.grid_required and not args.grid:
            parser.exit(
                2,
                f"nonlinbench {args.command}: error: a grid is needed: nonlinbench "
                f"{args.command} GRID (see `nonlinbench {args.command} --help`)\n",
            )
    from bench.activations.registry import ActivationError
    from bench.data.datasets import DatasetError
    from bench.grid.parse import GridError
    from bench.results.store import StoreError
    from bench.run.backends import SchedulerError

    try:
        return args.func(args)
    except (UserError, GridError, ActivationError, DatasetError, SchedulerError, StoreError) as exc:
        print(f"nonlinbench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nonlinbench: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`nonlinbench ... | head`): not an error of ours. Point stdout
        # at /dev/null so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
