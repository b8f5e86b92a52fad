"""The `nonlinbench` command: run, plan, report, explore, export, list-activations, perf."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

import torch

from bench import __version__
from bench.grid import MAX_RUNS


class UserError(Exception):
    """A mistake in the command's input: printed as one line, exit status 2."""


def _registry(args):
    """Built-in, declared and installed activations, plus every --plugin file."""
    from bench.plugins import add_plugin_file, load_registry
    from bench.registry import ActivationError

    registry = load_registry()
    for path in getattr(args, "plugin", None) or []:
        try:
            registry = add_plugin_file(registry, path)
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
    from bench.estimate import GPU_HINT_SECONDS, estimate
    from bench.plan import make_plan
    from bench.runner import default_jobs
    from bench.store import Store

    grid = _load_grid(args.grid, args)
    device = _device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    store = Store(_out_dir(args, grid))
    plan = make_plan(grid, store, device, max_chunk=args.max_chunk, max_runs=args.max_runs)
    chunks = len(plan.tasks)
    jobs = args.jobs or default_jobs(device)
    print(f"grid      {grid.name} ({grid.source}, hash {grid.hash})")
    print(f"runs      {plan.total}")
    print(f"stored    {plan.stored} (in {store.root})")
    print(f"to train  {plan.pending} in {plan.groups} groups, {chunks} chunks")
    if plan.tasks:
        guess = estimate(plan, device, jobs, args.threads, recalibrate=args.recalibrate)
        source = "prices cached for this machine" if guess.cached else "calibrated just now"
        print(f"estimate  {guess.describe()} on {device.type} with {jobs} job(s) ({source})")
        if device.type == "cpu" and guess.low > GPU_HINT_SECONDS:
            print(
                "hint      this grid is meant for a GPU: on a machine with CUDA, "
                f"`nonlinbench run {shlex.quote(args.grid)} --device cuda`, or spread it over a "
                "Dask cluster (--backend dask)"
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
        max_runs=args.max_runs,
        command=" ".join(shlex.quote(a) for a in ["nonlinbench", *args.argv]),
    )
    print(summary.line(), file=sys.stderr)
    if summary.interrupted == "SIGTERM":
        print("nonlinbench: terminated (SIGTERM); finished chunks are stored", file=sys.stderr)
        return 143
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


def results_folder(args) -> tuple[Path, str]:
    """The results folder that `report` and `explore` read, and the grid's name: --results
    DIR, or a grid (a built-in name, or a grid file's path, which names its grid)."""
    if args.results:
        results = Path(args.results)
        name = args.grid if args.grid and not args.grid.endswith(".toml") else None
        name = name or (_load_grid(args.grid, args).name if args.grid else results.name)
    elif args.grid:
        name = args.grid if not args.grid.endswith(".toml") else _load_grid(args.grid, args).name
        results = Path("results") / name
    else:
        raise UserError(
            f"{args.command} needs a grid (nonlinbench {args.command} GRID) or --results DIR"
        )
    if not (results / "runs.parquet").exists():
        rerun = shlex.quote(args.grid) if args.grid else "GRID"
        raise UserError(
            f"no results in {results} (runs.parquet is missing): run "
            f"`nonlinbench run {rerun}` first"
        )
    return results, name


def cmd_report(args) -> int:
    from bench.explore import write_explore_page
    from bench.report import build_report

    results, name = results_folder(args)
    out = Path(args.out) if args.out else Path("reports") / name
    summary = build_report(results, out, grid_name=name)
    page = write_explore_page(results, out / "explore.html")
    print(f"wrote {summary}, {out / 'figures'}/ and {page}", file=sys.stderr)
    return 0


def cmd_export(args) -> int:
    from bench.export import ExportError, export_run

    if (args.run is None) == (args.where is None):
        raise UserError("export needs one of --run RUN_ID and --where AXIS=VALUE[,AXIS=VALUE...]")
    results, _ = results_folder(args)
    try:
        done = export_run(
            results, args.out, registry=_registry(args), run=args.run, where=args.where
        )
    except ExportError as exc:
        raise UserError(str(exc)) from None
    for path, what in done.files:
        print(f"wrote {path} ({what})")
    verdict = "as stored" if done.reproduced else f"but {done.stored!r} is stored (warning)"
    print(
        f"check: reloaded, it scores {done.metric} {done.recomputed!r}, {verdict}", file=sys.stderr
    )
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

    from bench.explore import add_explore_command

    add_explore_command(sub, _grid_argument)

    p = sub.add_parser("export", help="write one stored run as a standalone PyTorch model")
    _grid_argument(p, required=False)
    p.add_argument("--results", help="results folder [results/<grid name>]")
    p.add_argument("--run", metavar="RUN_ID", help="the run's id (or a unique start of it)")
    p.add_argument("--where", metavar="FILTERS", help="axis filters naming one run: seed=3,...")
    p.add_argument("--out", metavar="FILE", help="TorchScript file to write [exports/<run>.pt]")
    plugin(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("list-activations", help="every activation, built-in and plugin")
    plugin(p)
    p.set_defaults(func=cmd_list_activations)

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
    from bench.backends import SchedulerError
    from bench.data import DatasetError
    from bench.grid import GridError
    from bench.registry import ActivationError
    from bench.store import StoreError

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
