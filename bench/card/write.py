"""card.md and card.json from a card's values, and the leaderboard from the cards' JSON.

Every sentence reads values that bench.card.verdict computed under the report's rule; nothing
here compares numbers except the leaderboard's tiers, which use bench.report.wording's rule on
the cards' IQM intervals. Cards of different protocols never share a table.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from bench.report.wording import tiers

PNG = "card.png"
FLAT_WORDS = {
    "both": "flat far out on both sides (saturating)",
    "negative": "flat for large negative inputs (one-sided, like relu)",
    "positive": "flat for large positive inputs (one-sided)",
    "neither": "flat on neither side",
}


def pct(value, digits: int = 1) -> str:
    return "n/a" if value is None else f"{100 * value:.{digits}f}%"


def interval(entry: dict | None, digits: int = 1, percent: bool = True) -> str:
    """'93.1% [92.4, 93.8]' (or with plain numbers)."""
    if not entry or entry.get("mean", entry.get("iqm")) is None:
        return "n/a"
    mean = entry.get("mean", entry.get("iqm"))
    scale, unit = (100, "%") if percent else (1, "")
    low, high = entry.get("low"), entry.get("high")
    bounds = "" if low is None else f" [{scale * low:.{digits}f}, {scale * high:.{digits}f}]"
    return f"{scale * mean:.{digits}f}{unit}{bounds}"


def names(items: list[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" and {items[-1]}"


def title(card: dict) -> str:
    head = (
        f"{card['activation']}: {card['protocol']} card (nonlinbench {card['nonlinbench_version']})"
    )
    if card["status"] != "ok":
        return f"{head}: no usable run"
    versus = "; ".join(f"vs {ref}: {v['verdict']}" for ref, v in card["versus"].items())
    affine = "; affine: adds no nonlinearity" if card["affine"] else ""
    return f"{head}: share of the best possible {interval(card['score'])}; {versus}{affine}"


def _p(v: dict) -> str:
    return f"{v['p_improvement']:.3f} [{v['low']:.3f}, {v['high']:.3f}]"


def _dataset_line(entry: dict, candidate: str, metric: str) -> str:
    mine = entry["activations"].get(candidate)
    if mine is None:
        return f"| {entry['dataset']} | no usable run | | | |"
    top = entry["top_group"]
    top_words = f"{top[0]} (best)" if entry["best"] else f"tied: {', '.join(top)}"
    others = [a for a in entry["same_tier"] if a != candidate]
    tier = f"{entry['tier']} of {entry['tiers']}" + (
        f" (with {', '.join(others)})" if others else ""
    )
    if metric == "test_acc":
        return (
            f"| {entry['dataset']} | {interval(mine)} | {pct(entry.get('bayes'))} | {tier} | "
            f"{top_words} |"
        )
    return f"| {entry['dataset']} | {interval(mine, 3, False)} | {tier} | {top_words} |"


def markdown(card: dict) -> str:
    """card.md."""
    name = card["activation"]
    runs = card["runs"]
    lines = [
        f"# Card: {name}",
        "",
        f"Protocol **{card['protocol']}** (hash {card['protocol_hash']}), nonlinbench "
        f"{card['nonlinbench_version']}, engine {card['engine_version']}. "
        f"{card['description']}. Source: {card['source']}"
        + (f"; reference: {card['reference']}" if card["reference"] else "")
        + ".",
        "",
        f"References: {', '.join(card['references'])}. The candidate's runs: {runs['runs']}; "
        f"failed {runs['failed']}, diverged {runs['diverged']} (left out of every number below "
        "and counted here).",
        "",
    ]
    if card["status"] != "ok":
        why = runs["first_error"] or (
            "every run diverged" if runs["diverged"] == runs["runs"] else "no usable run"
        )
        lines += [f"**No verdict: {why}.**", ""]
        return "\n".join(lines) + "\n"
    lines += [f"![{name}'s card]({PNG})", "", "## Verdict", ""]
    lines.append(
        f"- **Share of the best possible** (IQM over {card['tasks']} tasks x replicates of test "
        f"accuracy / the Bayes rule's accuracy on the same test points, 95% stratified bootstrap "
        f"interval): {interval(card['score'])}; tier {card['tier']} among the references "
        + "("
        + "; ".join(f"{a} {interval(v)}" for a, v in card["scores"].items() if a != name)
        + ")."
    )
    for ref, v in card["versus"].items():
        if ref == name:
            lines.append(f"- **Against {ref}**: it is {ref}.")
            continue
        lines.append(
            f"- **Against {ref}**: P({name} > {ref}) = {_p(v)}: **{v['verdict']}** (tied when the "
            "interval contains 0.5)."
        )
    affine = (
        "**yes: adds no nonlinearity**" + (" (declared)" if card["declared"] else "")
        if card["affine"]
        else "no"
    )
    lines.append(
        f"- **Affine**: {affine} (the lowest linear-fit R^2 of its networks' logits: "
        f"{card['min_linear_fit_r2']})."
    )
    dead = card["saturating"]["dead_units"]
    lines.append(
        f"- **Saturating**: {FLAT_WORDS[card['saturating']['flat']]}; dead units after training "
        f"{interval(dead.get(name))} (relu {interval(dead.get('relu'))})."
    )
    depth = card["depth"].get(name, {})
    deepest = card["trainable_to_depth"]
    lines.append(
        f"- **Trainable at depth**: up to {deepest} hidden layers (from its best depth, "
        f"{depth.get('best_depth')}, it stays in that depth's tied group up to this depth)."
        if deepest is not None
        else "- **Trainable at depth**: n/a."
    )
    speed = card["learning_speed"]
    if speed:
        lines.append(
            f"- **Learning speed**: test accuracy at epoch {speed['epoch']}: "
            f"{interval(speed.get(name))} (relu {interval(speed.get('relu'))})."
        )
    if card["cost"]:
        c = card["cost"]
        lines.append(
            f"- **Cost**: {c['relative_to_relu']:.2f}x relu's time per training step on the "
            f"{c['path']} engine path ({1000 * c['seconds_per_step']:.2f} ms against "
            f"{1000 * c['relu_seconds_per_step']:.2f} ms for {c['models']} models)."
        )
    lines += [
        "",
        "## Per dataset",
        "",
        "Test accuracy (mean over replicates, 95% two-level bootstrap interval over data samples "
        "then seeds), on common support; the best possible is the Bayes rule on the same test "
        "points. Tiers: tier 1 is the tied group at the top (intervals overlapping the highest "
        "mean's), then the same rule on the rest.",
        "",
        "| dataset | accuracy | best possible | tier | top |",
        "|---|---|---|---|---|",
        *(_dataset_line(e, name, "test_acc") for e in card["datasets"]),
    ]
    if card["regression"]:
        lines += [
            "",
            "Regression: test R^2.",
            "",
            "| dataset | R^2 | tier | top |",
            "|---|---|---|---|",
            *(_dataset_line(e, name, "test_r2") for e in card["regression"]),
        ]
    lines += ["", "## By depth (share of the best possible)", ""]
    depths = sorted({d for v in card["depth"].values() for d in v["depths"]})
    lines += [
        "| activation | " + " | ".join(str(d) for d in depths) + " | trainable to |",
        "|---|" + "---|" * (len(depths) + 1),
    ]
    for activation, v in card["depth"].items():
        cells = [interval(v["depths"].get(d)) for d in depths]
        lines.append(f"| {activation} | " + " | ".join(cells) + f" | {v['trainable_to_depth']} |")
    return "\n".join(lines) + "\n"


def write_card(card: dict, folder: Path) -> None:
    (folder / "card.json").write_text(json.dumps(card, indent=1, sort_keys=False) + "\n")
    (folder / "card.md").write_text(markdown(card))


# --------------------------------------------------------------------------- the leaderboard


def read_cards(folder: Path) -> list[dict]:
    cards = []
    for path in sorted(Path(folder).glob("*/card.json")):
        try:
            cards.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return cards


def leaderboard(cards: list[dict]) -> str:
    """README.md: one table per protocol, best IQM first, tiers by the wording rule."""
    lines = [
        "# Activation cards: leaderboard",
        "",
        "```bash",
        "nonlinbench card NAME [--plugin FILE] [--out DIR]   # one card: DIR/card.md, card.png, card.json",
        "nonlinbench card --all                              # every built-in's card, and this page",
        "```",
        "",
        "A card trains a fixed, versioned protocol (`bench/grids/card-v1.toml`: six classification "
        "datasets at two noise levels, depths 1, 2, 4 and 8, widths 8 and 16, ten replicates, and "
        "the regression pair sine and gauss) with the candidate beside the reference activations, "
        "whose runs are cached on disk per protocol and engine version, so a second card trains "
        "only the candidate.",
        "",
        "**Score**: IQM of the share of the best "
        "possible accuracy (test accuracy / the Bayes rule's on the same test points) with its "
        "95% stratified bootstrap interval. **Tier**: tier 1 is every activation whose interval "
        "overlaps the highest's, then the same rule on the rest: activations of one tier are "
        "tied. **P(> relu)**: rliable's probability of improvement over relu with its interval "
        "and verdict (tied when the interval contains 0.5). **Cost**: time per training step "
        "relative to relu on the same engine path. Cards of different protocols are never in one "
        "table.",
        "",
    ]
    frame = pd.DataFrame(cards)
    if frame.empty:
        return "\n".join([*lines, "No cards yet.", ""])
    for protocol, group in frame.groupby("protocol", sort=True):
        ok = group[group["status"] == "ok"].copy()
        ok["mean"] = [s["iqm"] for s in ok["score"]]
        ok["low"] = [s["low"] for s in ok["score"]]
        ok["high"] = [s["high"] for s in ok["score"]]
        ok = ok.sort_values("mean", ascending=False, kind="stable").reset_index(drop=True)
        ok["tier"] = tiers(ok)
        versions = ", ".join(sorted(set(group["nonlinbench_version"])))
        lines += [
            f"## Protocol {protocol} (nonlinbench {versions})",
            "",
            "| tier | activation | score | P(> relu) | vs relu | affine | cost | trainable to depth |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for row in ok.itertuples():
            vs = row.versus.get("relu") if isinstance(row.versus, dict) else None
            p = _p(vs) if vs else "(reference)"
            tied = sum(ok["tier"] == row.tier) > 1
            cost = f"{row.cost['relative_to_relu']:.2f}x" if isinstance(row.cost, dict) else "n/a"
            lines.append(
                f"| {row.tier}{' (tied)' if tied else ''} | [{row.activation}]({row.activation}/card.md) | "
                f"{interval(row.score)} | {p} | {vs['verdict'] if vs else '-'} | "
                f"{'yes' if row.affine else 'no'} | {cost} | {row.trainable_to_depth} |"
            )
        failed = group[group["status"] != "ok"]
        if len(failed):
            lines += ["", "No verdict (no usable run): " + ", ".join(failed["activation"]) + "."]
        lines.append("")
    return "\n".join(lines)


def write_leaderboard(folder: Path) -> Path:
    path = Path(folder) / "README.md"
    path.write_text(leaderboard(read_cards(folder)))
    return path
