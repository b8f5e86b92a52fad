"""What each `nonlinbench` subcommand does: run, plan, report, explore, export,
list-activations, perf. bench.cli parses the command line and calls these; no library module
imports either."""

from __future__ import annotations

import multiprocessing
import os
import shlex
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

from bench.errors import UserError

PAGE_NAME = "explore.html"


def _registry(args):
    """Built-in, declared and installed activations, plus every --plugin file."""
    from bench.activations.plugins import add_plugin_file, load_registry
    from bench.activations.registry import ActivationError

    registry = load_registry()
    for path in getattr(args, "plugin", None) or []:
        try:
            registry = add_plugin_file(registry, path)
        except ActivationError as exc:
            raise UserError(f"--plugin {path}: {exc}") from None
    return registry


def _load_grid(name: str, args):
    """The grid, parsed against the activations of --plugin files and of its own plugins."""
    from bench.grid.parse import GridError, load_grid

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


def cmd_list_activations(args) -> int:
    registry = _registry(args)
    rows = [
        (
            a.name,
            a.source,
            "yes" if a.learnable else "no",
            a.description + (f" [{a.reference}]" if a.reference else ""),
            ", ".join(a.aliases),
        )
        for a in registry
    ]
    header = ("name", "source", "learnable", "description [reference]", "aliases")
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


def _print_cluster_plan(plan, scheduler: str, device: str) -> None:
    """The Dask workers' memory limits and the pieces `run --backend dask` would send each
    (bench.run.backends.plan_for_workers refuses, in one line, a grid no worker can hold)."""
    from bench.run.backends import cluster_workers, connect, describe_limits, plan_for_workers

    with connect(scheduler) as client:
        workers = cluster_workers(client, scheduler, device)
    print(describe_limits(workers))
    planned = plan_for_workers(plan.tasks, workers, device)
    for worker in workers:
        sizes = [len(task) for task, taker in planned if taker == worker]
        largest = f", at most {max(sizes)} models each" if sizes else ""
        print(f"          {worker.address}: {len(sizes)} chunks{largest}")


def cmd_plan(args) -> int:
    from bench.results.store import Store
    from bench.run.estimate import GPU_HINT_SECONDS, estimate
    from bench.run.plan import make_plan
    from bench.run.runner import default_jobs

    started = time.perf_counter()
    grid = _load_grid(args.grid, args)
    device = _device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    store = Store(_out_dir(args, grid))
    plan = make_plan(grid, store, device, max_chunk=args.max_chunk, max_runs=args.max_runs)
    planning = time.perf_counter() - started  # `run` does the same work before training
    chunks = len(plan.tasks)
    jobs = args.jobs or default_jobs(device)
    print(f"grid      {grid.name} ({grid.source}, hash {grid.hash})")
    if grid.has_blocks:
        _print_blocks(grid, plan)
    else:
        print(f"runs      {plan.total}")
    print(f"stored    {plan.stored} (in {store.root})")
    print(f"to train  {plan.pending} in {plan.groups} groups, {chunks} chunks")
    if plan.tasks:
        from bench.run.memory import check_plan

        fit = check_plan(plan, device, jobs if device.type == "cpu" else 1)
        print("\n".join(fit.lines()))
        if args.scheduler:
            _print_cluster_plan(plan, args.scheduler, args.device)
        jobs = min(jobs, fit.workers) or 1  # what `run` will use
        guess = estimate(
            plan, device, jobs, args.threads, recalibrate=args.recalibrate, planning=planning
        )
        source = "prices cached for this machine" if guess.cached else "calibrated just now"
        print(
            f"estimate  {guess.describe()} for `run` on {device.type} with {jobs} job(s) ({source})"
        )
        print(f"          {guess.breakdown()}")
        print(
            f"report    {guess.describe_report()} for `report` afterwards (figures, tables, page)"
        )
        if device.type == "cpu" and guess.low > GPU_HINT_SECONDS:
            print(
                "hint      this grid is meant for a GPU: on a machine with CUDA, "
                f"`nonlinbench run {shlex.quote(args.grid)} --device cuda`, or spread it over a "
                "Dask cluster (--backend dask)"
            )
    return 0


def _print_blocks(grid, plan) -> None:
    """Each block with its run count and question, then the union."""
    blocks = grid.all_blocks()
    width = max(len(b.name) for b in blocks)
    digits = len(f"{max(len(ids) for ids in plan.block_ids):,}")
    for i, (block, ids) in enumerate(zip(blocks, plan.block_ids, strict=True)):
        label = "blocks    " if i == 0 else " " * 10
        question = f"  {block.question}" if block.question else ""
        print(f"{label}{block.name.ljust(width)}  {len(ids):>{digits},} runs{question}")
    held = Counter(rid for ids in plan.block_ids for rid in ids)
    shared = sum(n > 1 for n in held.values())
    print(
        f"runs      {plan.total} (the union of the {len(blocks)} blocks; {shared} in more than "
        "one, trained and stored once)"
    )


def cmd_run(args) -> int:
    from bench.run.runner import run_grid

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
    page_file = out / "explore.html"
    if (os.cpu_count() or 1) < 2:
        summary = build_report(results, out, grid_name=name, explore_page=page_file.name)
        page = write_explore_page(results, page_file)
    else:
        # The page reads the results, not the report: a second process writes it meanwhile
        # (default grid on 2 cores: 24 s instead of 31 s; the page alone takes about 10 s).
        # Spawned, not forked, so it inherits no thread of this process.
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
            writing = pool.submit(write_explore_page, results, page_file)
            summary = build_report(results, out, grid_name=name, explore_page=page_file.name)
            page = writing.result()
    print(f"wrote {summary}, {out / 'figures'}/ and {page}", file=sys.stderr)
    return 0


def cmd_explore(args) -> int:
    from bench.explore import write_explore_page

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


def cmd_export(args) -> int:
    from bench.results.export import ExportError, export_run

    if (args.run is None) == (args.where is None):
        raise UserError(
            "export needs one of --run RUN_ID and --where AXIS=VALUE (repeatable, one per axis)"
        )
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
    from bench.perf.measure import run_perf

    device = _device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    run_perf(Path(args.out), device=device, repeats=args.repeats, quick=args.quick)
    return 0
