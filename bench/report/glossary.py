"""The report's glossary: every activation the grid ran, with its formula, and every term the
report uses, each explained once in plain words."""

from __future__ import annotations

from bench.activations.registry import ActivationError, Registry
from bench.report.convergence import STILL_FALLING
from bench.report.wording import AT_CHANCE, WELL_ABOVE

TERMS = (
    (
        "activation function",
        "the function applied to every hidden unit's weighted sum; without "
        "one (`none`) a layer is only an affine map",
    ),
    (
        "affine map",
        "a linear map plus a constant, Wx + b; an affine map of an affine map is "
        "affine, so stacked layers without an activation are one affine map",
    ),
    (
        "best straight line",
        "the accuracy-best affine classifier for the dataset's own "
        "distribution (a line for two classes), found from a large sample of its generator and "
        "scored on the same test points as each run: the most any network without an activation "
        "could score there",
    ),
    (
        "best possible",
        "the Bayes-optimal accuracy: the class densities of a built-in dataset are "
        "known, so no classifier can score more on average; scored on the same test points as "
        "each run",
    ),
    (
        "chance",
        "the share of the test set's largest class: what always guessing that class "
        f"scores. A result at most {100 * AT_CHANCE:.0f} points above chance, or below it, is "
        f"*at chance*; one whose interval starts {100 * WELL_ABOVE:.0f} points or more above it "
        "is *well above chance*",
    ),
    (
        "converged",
        f"a run whose training loss fell by less than {STILL_FALLING} nats per 100 "
        "epochs over its last 10% of epochs",
    ),
    (
        "cross-entropy, nats",
        "the training loss: minus the log of the probability the network "
        "gave the right class, in natural-log units (nats); predicting 50% for two classes costs "
        "ln 2 = 0.693 nats",
    ),
    (
        "depth, width",
        "the number of hidden layers, and of units in each; depth 0 is logistic regression",
    ),
    (
        "IQM",
        "interquartile mean: the mean of the middle half of the scores, robust to a few "
        "stuck runs (rliable's choice)",
    ),
    (
        "negative control",
        "a dataset a straight boundary already solves (blobs): every network "
        "should tie there, and a difference would mean a flaw in the comparison",
    ),
    (
        "replicate",
        "one data sample (a `data_seed`: its points and split) with one "
        "initialisation `seed`; intervals resample data samples, then seeds within them",
    ),
    (
        "tied",
        "activations whose 95% intervals overlap the highest mean's interval; one is "
        "called best only when its interval lies above every other's",
    ),
)


def glossary(activations: list[str], registry: Registry) -> str:
    """A markdown list: the grid's activations (formula and paper), then the terms."""
    lines = ["**Activations in this grid**", ""]
    for name in activations:
        try:
            record = registry.get(name)
        except ActivationError:  # a plugin no longer installed, or a per-layer stack
            lines.append(f"- `{name}`")
            continue
        reference = f" ({record.reference})" if record.reference else ""
        lines.append(f"- `{name}`: {record.description}{reference}")
    lines += ["", "**Terms**", ""]
    lines += [f"- **{term}**: {meaning}." for term, meaning in TERMS]
    return "\n".join(lines)
