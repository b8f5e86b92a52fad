"""`nonlinbench card`: a one-page, versioned verdict on one activation.

    make_card("snake")                              # a built-in
    make_card("mine", plugin_files=["mine.py"])     # a plugin file's activation
    make_all()                                      # every built-in, and the leaderboard

Steps (each a module):

1. the protocol (`protocol`): a versioned grid shipped in the package (card-v1); its reference
   activations' runs are trained once per protocol and engine version and cached on disk;
2. the candidate's runs: the same protocol with the candidate alone on the activation axis,
   cached too (a built-in by name, a plugin by its source's hash);
3. the verdict (`verdict`): per-dataset tiers, IQM of the share of the best possible, the
   probability of improvement over relu and gelu, affine, saturating, trainable at depth;
4. the cost (`cost`): time per training step against relu on the same engine path;
5. the files (`write`, `figure`): card.md, card.png and card.json; the leaderboard
   reports/cards/README.md from the cards' JSON.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

import bench
from bench.activations.builtins import BUILTINS, ZOO
from bench.activations.plugins import load_registry
from bench.activations.registry import Activation, Registry
from bench.api import run_grid
from bench.card import cost, figure, verdict, write
from bench.card.protocol import PROTOCOL, Protocol, load_protocol
from bench.engine import ENGINE_VERSION
from bench.grid.parse import run_ids
from bench.report.results import load_results
from bench.report.yardsticks import with_yardsticks
from bench.schema import DATA_AXES

CARDS = Path("reports") / "cards"  # default folder: one subfolder per card, and README.md


@dataclass(frozen=True)
class Card:
    card: dict  # what card.json holds
    folder: Path  # where card.md, card.png and card.json were written

    @property
    def ok(self) -> bool:
        return self.card["status"] == "ok"


def train(
    activation: Activation,
    protocol: Protocol,
    registry: Registry,
    cache: Path | None = None,
    jobs: int | None = None,
) -> dict:
    """Trains what is not cached yet: the references, then the candidate. Returns the folders,
    the seconds each took and the runs each trained (0 when cached)."""
    folders, seconds, trained = {}, {}, {}
    for part, names, folder in (
        ("references", protocol.references, protocol.references_folder(cache)),
        ("candidate", (activation.name,), protocol.candidate_folder(activation, cache)),
    ):
        if part == "candidate" and activation.name in protocol.references:
            folders[part], seconds[part], trained[part] = folders["references"], 0.0, 0
            continue
        start = time.perf_counter()
        grid = protocol.grid(names, registry)
        # A cached folder is only read: no writer's lock, so cards can be made side by side.
        summary = None if _stored(grid, folder) else run_grid(grid, folder, quiet=True, jobs=jobs)
        folders[part], seconds[part] = folder, time.perf_counter() - start
        trained[part] = summary.trained if summary else 0
    return {"folders": folders, "seconds": seconds, "trained": trained}


def _stored(grid, folder: Path) -> bool:
    """Whether `folder` already holds every run of `grid`."""
    path = Path(folder) / "runs.parquet"
    if not path.is_file():
        return False
    stored = set(pd.read_parquet(path, columns=["run_id"])["run_id"])
    return set(run_ids(grid.specs())) <= stored


def _tables(folders: dict) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    loaded = [load_results(f) for f in dict.fromkeys(folders.values())]
    runs = pd.concat([r.runs for r in loaded], ignore_index=True)
    runs = runs.drop_duplicates("run_id")
    curves = pd.concat([r.curves for r in loaded], ignore_index=True)
    surfaces = [r.surfaces for r in loaded if r.surfaces is not None]
    return runs, curves, (pd.concat(surfaces, ignore_index=True) if surfaces else None)


_YARDSTICKS: dict[tuple, pd.DataFrame] = {}  # data settings -> their yardsticks, per process


def yardsticks(runs: pd.DataFrame) -> pd.DataFrame:
    """`with_yardsticks(runs)`, computed once per data setting in this process: every card of a
    protocol has the same test sets, so `card --all` estimates their Bayes rule once."""
    axes = [a for a in (*DATA_AXES, "dataset_source", "n_classes") if a in runs]
    settings = runs[axes].drop_duplicates().reset_index(drop=True)
    key = tuple(settings.astype(str).itertuples(index=False, name=None))
    if key not in _YARDSTICKS:
        _YARDSTICKS[key] = with_yardsticks(settings.assign(test_acc=float("nan")))
    columns = ["chance", "ceiling", "bayes_test"]
    runs = runs.drop(columns=[c for c in (*columns, "of_best") if c in runs])
    runs = runs.merge(_YARDSTICKS[key][[*axes, *columns]], on=axes, how="left")
    return runs.assign(of_best=runs["test_acc"].astype(float) / runs["bayes_test"])


def make_card(
    name: str,
    plugin_files: Sequence[str | Path] = (),
    out: str | Path | None = None,
    *,
    protocol: str | Path = PROTOCOL,
    cache: Path | None = None,
    registry: Registry | None = None,
    n_resamples: int = verdict.N_RESAMPLES,
    jobs: int | None = None,
    measure_cost: bool = True,
) -> Card:
    """Trains what is missing, computes the verdict and writes card.md, card.png, card.json.

    Raises ActivationError (unknown name, with did-you-mean; a plugin failing its probes) and
    GridError (a bad protocol) before anything trains. A candidate whose every run failed or
    diverged still gets a card, whose status says so.
    """
    started = time.perf_counter()
    registry = registry or load_registry(plugin_files)
    activation = registry.get(name)
    proto = load_protocol(protocol)
    trained = train(activation, proto, registry, cache, jobs)
    runs, curves, surfaces = _tables(trained["folders"])
    runs = yardsticks(runs)
    candidate = activation.name
    activations = list(dict.fromkeys((*proto.references, candidate)))
    classification, regression = verdict.split(runs)
    mine = classification[classification["activation"] == candidate]

    card = {
        "activation": candidate,
        "protocol": proto.name,
        "protocol_hash": proto.hash,
        "nonlinbench_version": bench.__version__,
        "engine_version": ENGINE_VERSION,
        "source": activation.source,
        "description": activation.description,
        "reference": activation.reference,
        "learnable": activation.learnable,
        "references": list(proto.references),
        "runs": verdict.left_out(runs, candidate),
    }
    card.update(verdict.overall(classification, candidate, activations, n_resamples))
    card["status"] = "ok" if card["score"] is not None else "failed"
    card.update(verdict.is_affine(activation, mine))
    card["datasets"] = verdict.per_dataset(classification, candidate, n_resamples=n_resamples)
    card["regression"] = (
        verdict.per_dataset(regression, candidate, "test_r2", n_resamples)
        if len(regression)
        else []
    )
    card["saturating"] = {
        "flat": verdict.flat_sides(activation),
        "dead_units": verdict.mechanism(classification, candidate, n_resamples),
    }
    card["depth"] = verdict.by_depth(classification, n_resamples)
    card["trainable_to_depth"] = card["depth"].get(candidate, {}).get("trainable_to_depth")
    card["learning_speed"] = verdict.early_accuracy(classification, curves, n_resamples)
    if measure_cost:
        spec = _cost_spec(proto, registry, candidate)
        measured = cost.measure_cost(activation, registry.get("relu"), spec)
        card["cost"] = {
            "relative_to_relu": round(measured.relative, 3),
            "seconds_per_step": round(measured.seconds_per_step, 6),
            "relu_seconds_per_step": round(measured.relu_seconds_per_step, 6),
            "path": measured.path,
            "models": cost.COST_MODELS,
        }
    else:
        card["cost"] = None
    card["seconds"] = {**{k: round(v, 1) for k, v in trained["seconds"].items()}}
    card["seconds"]["total"] = round(time.perf_counter() - started, 1)
    card["trained"] = trained["trained"]

    folder = Path(out) if out else CARDS / candidate
    folder.mkdir(parents=True, exist_ok=True)
    tables = figure.depth_tables(classification, n_resamples=min(n_resamples, 1000))
    affine = [a for a in activations if a == "none" or (a == candidate and card["affine"])]
    fig = figure.draw_card(
        candidate, tables, figure.mean_curves(classification, curves), surfaces,
        activations, affine, write.title(card),
    )  # fmt: skip
    fig.savefig(folder / "card.png", dpi=110)
    figure.plt.close(fig)
    write.write_card(card, folder)
    return Card(card, folder)


def _cost_spec(proto: Protocol, registry: Registry, candidate: str):
    """The protocol's circles run nearest depth 4 at its widest width: the timed shape."""
    specs = proto.grid((candidate,), registry).specs()
    circles = [s for s in specs if s.dataset == "circles"] or specs
    return min(circles, key=lambda s: (abs(s.depth - 4), -s.width, s.noise, s.seed, s.data_seed))


def builtin_names() -> list[str]:
    """Every built-in activation, in bench.activations.builtins' order."""
    return [b.name for b in (*BUILTINS, *ZOO)]


def make_all(
    out: str | Path = CARDS,
    names: Sequence[str] | None = None,
    *,
    protocol: str | Path = PROTOCOL,
    cache: Path | None = None,
    n_resamples: int = verdict.N_RESAMPLES,
    jobs: int | None = None,
    progress=None,
) -> list[Card]:
    """The card of every built-in (or of `names`) under `out`, then `out`/README.md."""
    out = Path(out)
    registry = load_registry()
    cards = []
    for name in names or builtin_names():
        card = make_card(name, out=out / name, protocol=protocol, cache=cache,
                         registry=registry, n_resamples=n_resamples, jobs=jobs)  # fmt: skip
        cards.append(card)
        if progress:
            progress(card)
    write.write_leaderboard(out)
    return cards
