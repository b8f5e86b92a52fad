"""How the network bends the plane: the test points as the last hidden layer sees them.

After the hidden layers, a classifier is one affine map: its output layer. So whatever a network
learns, it learns by moving the points until a line (the output layer's boundary) separates
them. This figure shows where the hidden layers put the lesson's test points, for the network
without an activation and for the best activation, one row per depth; computed from the stored
weights (weights.parquet), nothing is trained again.

The plane of each panel: across, the output layer's score w . h + b divided by |w| (the signed
distance to its boundary, which is the vertical line at 0, so a point's side is its predicted
class); up, the main direction in which the representations h vary besides that one (the
first principal component of h with the w direction projected out). Without an activation h is
an affine image of the input, so the rings stay nested, flattened onto the line that the score
reads; with one, the inner ring moves to one side of the boundary.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from torch import nn

from bench import colors
from bench.activations.registry import BUILTIN_REGISTRY
from bench.data.datasets import load_data
from bench.report.lesson import Lesson
from bench.report.markdown import fmt
from bench.results.export import (
    ExportError,
    architecture,
    rebuild_network,
    run_registry,
    run_spec,
    stored_parameters,
)

FIGURE = "hidden_representation.png"
PANEL_INCHES = 2.6


@torch.no_grad()
def hidden_representation(net: nn.Sequential, X: torch.Tensor) -> torch.Tensor:
    """What the last hidden layer outputs for inputs X (n, in): (n, width), every module of the
    network before its output layer."""
    return net[:-1](X)


def score_plane(H: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    """(n, 2): each representation's signed distance to the output layer's boundary w . h + b
    = 0, and its coordinate along the first principal direction of H orthogonal to w."""
    unit = w / np.linalg.norm(w)
    score = (H @ w + b) / np.linalg.norm(w)
    rest = H - np.outer(H @ unit, unit)  # the representations with the w direction removed
    rest = rest - rest.mean(0)
    if H.shape[1] < 2 or not np.any(rest):
        return np.stack([score, np.zeros_like(score)], 1)
    direction = np.linalg.svd(rest, full_matrices=False)[2][0]
    return np.stack([score, rest @ direction], 1)


def representative_runs(lesson: Lesson, runs: pd.DataFrame) -> pd.DataFrame:
    """Per depth with hidden layers and per network (control, best activation) at the lesson's
    dataset, noise and width: the replicate whose test accuracy is nearest that cell's median
    (the lowest data sample and seed on a tie)."""
    cells = runs[(runs["dataset"] == lesson.dataset) & (runs["noise"] == lesson.noise)
                 & (runs["width"] == lesson.width) & (runs["depth"] > 0)
                 & runs["activation"].isin([lesson.control, lesson.best])]  # fmt: skip
    if "features" in cells and cells["features"].nunique() > 1:
        cells = cells[cells["features"] == "raw"]
    chosen = []
    for _, part in cells.groupby(["depth", "activation"], sort=True):
        distance = (part["test_acc"] - part["test_acc"].median()).abs()
        part = part.assign(_distance=distance).sort_values(["_distance", "data_seed", "seed"])
        chosen.append(part.iloc[0].drop("_distance"))
    return pd.DataFrame(chosen)


def representations(results: Path, chosen: pd.DataFrame) -> list[dict]:
    """For each chosen run: its test points' representation in the score plane, their labels,
    and the run's axes; a run whose weights cannot be read is left out."""
    registry = run_registry(results, BUILTIN_REGISTRY)
    out = []
    for _, row in chosen.iterrows():
        try:
            spec = run_spec(row, results)
            data = load_data(spec)
            activation, widths = architecture(spec, registry)
            layout, params = stored_parameters(results, row["run_id"])
            net = rebuild_network(row, activation, widths, data, layout, params)
        except (ExportError, KeyError, ValueError, OSError):
            continue
        H = hidden_representation(net, data.X_test).double().numpy()
        output = net[-1]
        w = output.weight.detach().double().numpy()[0]
        b = float(output.bias.detach().double()[0])
        out.append({"row": row, "points": score_plane(H, w, b), "labels": data.y_test.numpy()})
    return out


def plot_representations(drawn: list[dict], order: list[str]) -> Figure:
    """Rows: depths; columns: the networks in ``order``."""
    depths = sorted({int(d["row"]["depth"]) for d in drawn})
    fig, axes = plt.subplots(len(depths), len(order), squeeze=False, layout="constrained",
                             figsize=(PANEL_INCHES * len(order) + 0.6,
                                      PANEL_INCHES * len(depths) + 0.4))  # fmt: skip
    class_colours = colors.class_colours(2)
    found = {(int(d["row"]["depth"]), d["row"]["activation"]): d for d in drawn}
    for i, depth in enumerate(depths):
        for j, activation in enumerate(order):
            ax = axes[i, j]
            entry = found.get((depth, activation))
            if entry is None:
                ax.set_axis_off()
                continue
            points, labels = entry["points"], entry["labels"]
            ax.scatter(points[:, 0], points[:, 1], c=[class_colours[k] for k in labels], s=7,
                       edgecolors="0.1", linewidths=0.3)  # fmt: skip
            ax.axvline(0.0, color="0.1", linewidth=1.0)
            name = "no activation" if j == 0 else activation
            accuracy = 100 * float(entry["row"]["test_acc"])
            ax.set_title(f"{name}, depth {depth}: {accuracy:.0f}%", size=9)
            span = np.abs(points).max(0) * 1.1 + 1e-9
            ax.set_xlim(-span[0], span[0])
            ax.set_ylim(-span[1] if span[1] > 1e-6 else -1, span[1] if span[1] > 1e-6 else 1)
            ax.set_xticks([0.0])
            ax.set_yticks([])
            ax.grid(False)
    fig.supxlabel("the output layer's score (signed distance to its boundary, the vertical line)",
                  fontsize=plt.rcParams["axes.labelsize"])  # fmt: skip
    fig.supylabel("main other direction of the hidden layer's output",
                  fontsize=plt.rcParams["axes.labelsize"])  # fmt: skip
    return fig


def caption(lesson: Lesson) -> str:
    return (
        f"The test points of {lesson.dataset} (noise {fmt(lesson.noise)}) as the last hidden "
        f"layer of a width-{lesson.width} network sees them, one row per depth; per panel the "
        "replicate of median test accuracy, from its stored weights. Across: the output layer's "
        "score, so the vertical line is its boundary and a point's side is its predicted class; "
        "up: the main other direction the hidden layer's outputs vary in. Without an activation "
        "the hidden layers only stretch and turn the plane (an affine image: the rings stay "
        f"nested and no vertical line splits them); with {lesson.best}, they move one class to "
        "one side of the line."
    )
