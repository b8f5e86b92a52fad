"""The `nonlinbench` command: run, plan, report, list-activations, perf."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import torch

from bench import __version__


class UserError(Exception):
    """A mistake in the command's input: printed as one line, exit status 2."""


def _registry(args):
    """Built-in, declared and installed activations, plus every --plugin file."""
    from bench.registry import ActivationError, load_registry

    registry = load_registry()
    for path in args.plugin or []:
        try:
            registry = registry.with_plugin_file(path)
        except ActivationError as exc:
            raise UserError(f"--plugin {path}: {exc}") from None
    return registry


def _load_grid(name: str, args):
    """The grid, parsed against the activations of --plugin files and of its own plugins."""
    from bench.grid import GridError, load_grid

    registry = _registry(args)
    try:
        return load_grid(name, registry)
    except GridError as exc:
        raise UserError(str(exc)) from None


def _device(name: str) -> torch.device:
    from bench.engine import resolve_device

    try:
        return resolve_device(name)
    except ValueError as exc:
        raise UserError(f"--device {name}: {exc}") from None


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


def cmd_list_activations(args) -> int:
    registry = _registry(args)
    rows = [
        (a.name, a.source, "yes" if a.learnable else "no", a.description, ", ".join(a.aliases))
        for a in registry
    ]
    header = ("name", "source", "learnable", "description", "aliases")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    for row in [header, *rows]:
        cells = [row[i].ljust(widths[i]) for i in range(3)]
        alias = f" (alias: {row[4]})" if row[4] and row is not header else ""
        print("  ".join(cells) + "  " + row[3] + alias)
    for failure in registry.failures:
        print(
            f"warning: plugin {failure.source} failed to load: {failure.message}", file=sys.stderr
        )
    return 0


def _out_dir(args, grid) -> Path:
    return Path(args.out) if args.out else Path("results") / grid.name


def cmd_plan(args) -> int:
    from bench.plan import estimate_seconds, make_plan
    from bench.runner import default_jobs
    from bench.store import Store

    name = args.grid_pos or args.grid
    if not name:
        raise UserError("plan needs a grid: nonlinbench plan GRID (a built-in name or a path)")
    grid = _load_grid(name, args)
    device = _device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    store = Store(_out_dir(args, grid))
    plan = make_plan(grid, store, device, max_chunk=args.max_chunk)
    chunks = len(plan.tasks)
    jobs = args.jobs or default_jobs(device)
    print(f"grid      {grid.name} ({grid.source}, hash {grid.hash})")
    print(f"runs      {plan.total}")
    print(f"stored    {plan.stored} (in {store.root})")
    print(f"to train  {plan.pending} in {plan.groups} groups, {chunks} chunks")
    if plan.tasks:
        seconds = estimate_seconds(plan, device, jobs=jobs, threads=args.threads)
        print(
            f"estimate  {seconds:.0f} s on {device.type} with {jobs} job(s) (calibrated just now)"
        )
    return 0


def cmd_run(args) -> int:
    from bench.runner import run_grid

    grid = _load_grid(args.grid, args)
    _device(args.device)
    if args.backend == "dask" and not args.scheduler:
        raise UserError("--backend dask needs --scheduler tcp://HOST:PORT of a running cluster")
    summary = run_grid(
        grid,
        _out_dir(args, grid),
        device=args.device,
        backend=args.backend,
        jobs=args.jobs,
        threads=args.threads,
        fresh=args.fresh,
        quiet=args.quiet,
        scheduler=args.scheduler,
        max_chunk=args.max_chunk,
        command=" ".join(shlex.quote(a) for a in ["nonlinbench", *args.argv]),
    )
    print(summary.line(), file=sys.stderr)
    if summary.interrupted:
        return 130
    if summary.failed:
        print(
            f"{summary.failed} run(s) failed; their errors are in the 'error' column of "
            f"{_out_dir(args, grid) / 'runs.parquet'}",
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_report(args) -> int:
    from bench.report import build_report

    if args.results:
        results = Path(args.results)
        name = args.grid
    elif args.grid:
        name = args.grid if not args.grid.endswith(".toml") else _load_grid(args.grid, args).name
        results = Path("results") / name
    else:
        raise UserError("report needs --grid NAME or --results DIR")
    if not (results / "runs.parquet").exists():
        raise UserError(
            f"no results in {results} (runs.parquet is missing): run "
            f"`nonlinbench run --grid {name or 'NAME'}` first"
        )
    out = Path(args.out) if args.out else Path("reports") / (name or results.name)
    summary = build_report(results, out, grid_name=name)
    print(f"wrote {summary} and {out / 'figures'}/", file=sys.stderr)
    return 0


def cmd_perf(args) -> int:
    from bench.perf import run_perf

    device = _device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    run_perf(Path(args.out), device=device, repeats=args.repeats, quick=args.quick)
    return 0


class _Parser(argparse.ArgumentParser):
    """Reports a bad flag in one line (the usage block is one `--help` away), exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="nonlinbench",
        description="Activation-function ablation benchmark: why nonlinearity matters.",
    )
    parser.add_argument("--version", action="version", version=f"nonlinbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(p, device=True):
        p.add_argument(
            "--plugin",
            action="append",
            metavar="PATH",
            help="a Python file that registers activations (repeatable)",
        )
        if device:
            p.add_argument(
                "--device",
                default="auto",
                help="auto (cuda, then mps, then cpu), cuda, mps or cpu [auto]",
            )
            p.add_argument("--threads", type=_positive(int), help="torch CPU threads")

    p = sub.add_parser("run", help="train every run of a grid and store the results")
    p.add_argument("--grid", required=True, help="a built-in grid name or a grid file path")
    p.add_argument("--out", help="results folder [results/<grid name>]")
    p.add_argument("--backend", choices=("local", "dask"), default="local")
    p.add_argument("--scheduler", help="Dask scheduler address, tcp://HOST:PORT")
    p.add_argument("--jobs", type=_positive(int), help="worker processes on a CPU [cores]")
    p.add_argument("--fresh", action="store_true", help="discard stored results, start over")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--max-chunk", type=_positive(int), help="at most this many models per chunk")
    common(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("plan", help="count runs, groups and chunks; estimate the time")
    p.add_argument("grid_pos", nargs="?", metavar="GRID", help="a built-in grid name or a path")
    p.add_argument("--grid", help=argparse.SUPPRESS)
    p.add_argument("--out", help="results folder to check for stored runs")
    p.add_argument("--jobs", type=_positive(int))
    p.add_argument("--max-chunk", type=_positive(int))
    common(p)
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("report", help="write figures and summary.md from stored results")
    p.add_argument("--grid", help="grid name: reads results/NAME, writes reports/NAME")
    p.add_argument("--results", help="results folder (instead of --grid)")
    p.add_argument("--out", help="report folder [reports/<grid name>]")
    common(p, device=False)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("list-activations", help="every activation, built-in and plugin")
    common(p, device=False)
    p.set_defaults(func=cmd_list_activations)

    p = sub.add_parser("perf", help="engine speed against the notebook loop and scikit-learn")
    p.add_argument("--out", default="results/perf", help="folder for perf.csv and perf.md")
    p.add_argument("--repeats", type=_positive(int), default=3)
    p.add_argument("--quick", action="store_true", help="fewer epochs and sizes (a smoke test)")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=_positive(int))
    p.set_defaults(func=cmd_perf)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # The command line as given (for the manifest), also when main is called with a list.
    args.argv = list(sys.argv[1:] if argv is None else argv)
    from bench.data import DatasetError
    from bench.registry import ActivationError
    from bench.runner import SchedulerError

    try:
        return args.func(args)
    except (UserError, ActivationError, DatasetError, SchedulerError) as exc:
        print(f"nonlinbench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nonlinbench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
