"""`nonlinbench card NAME | --all`: what the subcommand does (bench.cli parses it)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from bench.errors import UserError


def cmd_card(args) -> int:
    """One card (exit 0; 1 when the candidate has no usable run), or every built-in's and the
    leaderboard (--all). Bad input is one line (exit 2, by bench.cli)."""
    from bench.activations.plugins import add_plugin_file, load_registry
    from bench.activations.registry import ActivationError
    from bench.card import CARDS, builtin_names, make_all, make_card

    if args.all and args.name:
        raise UserError("card: give an activation's NAME or --all, not both")
    if not args.all and not args.name:
        raise UserError(
            "card: give an activation's NAME (see `nonlinbench list-activations`) or --all"
        )
    if args.all:
        if args.plugin:
            raise UserError("card --all makes the built-ins' cards; --plugin is for one card")
        out = Path(args.out) if args.out else CARDS
        names = builtin_names()
        print(f"{len(names)} cards into {out}/ (protocol {args.protocol})", file=sys.stderr)
        start = time.perf_counter()

        def progress(card):
            print(f"  {_line(card)} ({time.perf_counter() - start:.0f} s so far)", file=sys.stderr)

        make_all(out, names, protocol=args.protocol, jobs=args.jobs, progress=progress)
        print(f"wrote {out / 'README.md'}")
        return 0
    registry = load_registry()
    for path in args.plugin or []:
        try:
            registry = add_plugin_file(registry, path)
        except ActivationError as exc:
            raise UserError(f"--plugin {path}: {exc}") from None
    card = make_card(args.name, out=args.out, protocol=args.protocol, registry=registry,
                     jobs=args.jobs)  # fmt: skip
    print(_line(card))
    print(f"wrote {card.folder}/card.md, card.png, card.json")
    return 0 if card.ok else 1


def _line(card) -> str:
    c = card.card
    if not card.ok:
        runs = c["runs"]
        why = runs["first_error"] or f"{runs['diverged']} of {runs['runs']} runs diverged"
        return f"{c['activation']}: no usable run ({why})"
    versus = ", ".join(f"{ref} {v['verdict']}" for ref, v in c["versus"].items())
    score = c["score"]
    return (
        f"{c['activation']}: share of the best possible {100 * score['iqm']:.1f}% "
        f"[{100 * score['low']:.1f}, {100 * score['high']:.1f}]; vs {versus}"
        + ("; affine" if c["affine"] else "")
    )
