"""The report's words follow its rules (bench/report/wording.py): ties are named, "best" needs an
interval above every other, models at chance are called that, agreement verdicts are true by their
stated rule, and training that had not converged is said to be so. Summaries only: no figures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import report_synthetic as synthetic

from bench.report import summaries
from bench.report.headline import headline
from bench.report.results import Results, prepare_runs
from bench.report.sections import figure_plan
from bench.report.text import grid_argument, reproduce, seed_reproduction
from bench.report.wording import chance_status, tiers, top_group, top_phrase

FAST = {"n_resamples": 100}


def summarized(runs: pd.DataFrame, curves: pd.DataFrame | None = None):
    curves = synthetic.make_curves(runs) if curves is None else curves
    results = Results(Path("unused"), prepare_runs(runs), curves)
    return results, summaries(results, **FAST)


def rows(**columns) -> pd.DataFrame:
    return pd.DataFrame(columns)


# -----------------------------------------------------------------------------
# the rule itself


def test_best_only_when_the_interval_excludes_every_other():
    clear = rows(activation=["a", "b"], mean=[0.9, 0.8], low=[0.88, 0.7], high=[0.92, 0.85])
    assert top_group(clear).clear and top_group(clear).names == ["a"]
    tied = rows(activation=["a", "b", "c"], mean=[0.959, 0.958, 0.5], low=[0.958, 0.956, 0.4],
                high=[0.96, 0.959, 0.6])  # fmt: skip
    top = top_group(tied)
    assert not top.clear and top.names == ["a", "b"]
    phrase = top_phrase(top, lambda r: f"{100 * r['mean']:.1f}%")
    assert phrase == "a and b are tied (a 95.9%; b 95.8%)"
    assert "best" not in phrase
    assert tiers(tied) == [1, 1, 2]
    lowest = top_group(tied, highest=False)
    assert lowest.clear and lowest.names == ["c"]


def test_one_seed_calls_nothing_best():
    single = rows(activation=["a", "b"], mean=[0.9, 0.8], low=[np.nan] * 2, high=[np.nan] * 2)
    top = top_group(single)
    assert not top.clear
    assert "one seed, so none is called best" in top_phrase(top, lambda r: "x")


def test_chance_words():
    assert chance_status(0.456, 0.456, 0.5) == "at chance"
    assert chance_status(0.80, 0.75, 0.5) == "well above chance"
    assert chance_status(0.58, 0.55, 0.5) == "above chance"
    # one wording for at or below chance: 46.2% and 45.0% (and 30%) read alike
    assert chance_status(0.462, 0.44, 0.5) == chance_status(0.450, 0.43, 0.5) == "at chance"
    assert chance_status(0.30, 0.28, 0.5) == "at chance"
    assert chance_status(0.5501, 0.53, 0.5) == "above chance"


# -----------------------------------------------------------------------------
# on results


def test_two_identical_activations_are_never_called_best():
    runs = synthetic.make_runs(activations=("none", "relu", "tanh"), datasets=("circles",))
    twin = runs[runs["activation"] == "relu"].assign(activation="relu_twin")
    twin["run_id"] = twin["run_id"] + "t"
    runs = pd.concat([runs, twin], ignore_index=True)
    results, s = summarized(runs)
    head = headline(results.runs, s)
    assert "relu is best" not in head and "relu_twin is best" not in head
    assert "relu and relu_twin are tied" in head
    ranking = s.ranking.set_index("activation")
    assert ranking.loc["relu", "tier"] == ranking.loc["relu_twin", "tier"] == 1


def test_a_network_at_chance_is_not_called_robust():
    runs = synthetic.make_runs(activations=("none", "relu"), datasets=("circles", "spirals4"))
    _, s = summarized(runs)
    assert "none" in s.not_compared and "none" not in set(s.noise_fall["activation"])
    assert set(s.not_compared["none"]) == {"at chance on circles", "at chance on spirals4"}


def test_the_linear_control_below_chance_is_explained():
    runs = synthetic.make_runs(activations=("none", "relu"), datasets=("circles",))
    none = runs["activation"] == "none"
    runs.loc[none, "test_acc"] = 0.45  # every seed the same, below the 50% of a balanced set
    results, s = summarized(runs)
    assert s.control_facts["circles"].below_chance
    assert s.control_facts["circles"].same_every_seed
    head = headline(results.runs, s)
    # the measured reason, not "no straight line beats chance" (one does: the best straight line)
    assert "Its mean sits under chance although a straight line could do better" in head
    assert "the affine map of least cross-entropy is nearly flat" in head
    assert "no straight line beats chance" not in head
    assert "Its interval is a single point because every initialisation seed" in head


def test_seed_verdicts_are_true_by_their_rule():
    runs = synthetic.make_runs(datasets=("circles",), activations=("none", "relu"))
    config = (runs["depth"] == 2) & (runs["width"] == 10) & (runs["noise"] == 0.03)
    runs.loc[config & (runs["activation"] == "none"), "test_acc"] = [0.459, 0.46, 0.46]
    _, s = summarized(runs)
    text = seed_reproduction(s.notebook)
    assert "agrees: the interval overlaps 45.5–54.5%" in text
    assert "widened by 0.5 point" in text
    runs.loc[config & (runs["activation"] == "none"), "test_acc"] = [0.40, 0.41, 0.42]
    _, s = summarized(runs)
    assert "differs: the interval lies outside 45.5–54.5%" in seed_reproduction(s.notebook)


def test_training_that_had_not_converged_is_reported():
    runs = synthetic.make_runs(datasets=("circles",), activations=("none", "relu"))
    curves = synthetic.make_curves(runs)
    relu = curves["run_id"].isin(runs.loc[runs["activation"] == "relu", "run_id"])
    # relu's training loss still falls steeply at the end: 0.1 nats per 100 epochs
    curves.loc[relu, "train_loss"] = (1.5 - curves.loc[relu, "epoch"] / 1000).astype(np.float32)
    results, s = summarized(runs, curves)
    head = headline(results.runs, s)
    assert "**Training had not converged everywhere:** on circles, relu (" in head
    assert "falling by a median 0.100 nats per 100 epochs" in head
    assert "none (" not in head.split("Training had not converged")[1]
    text = seed_reproduction(s.notebook)
    assert "relu (3 of 3 runs) had not converged at epoch 1000" in text


def test_diverged_runs_are_left_out_and_counted():
    runs = synthetic.make_runs(activations=("none", "relu"), datasets=("circles",), seeds=(0, 1))
    target = runs.index[(runs["activation"] == "relu") & (runs["seed"] == 1)][0]
    runs.loc[target, ["diverged", "test_acc"]] = [True, 0.0]  # frozen mid-blow-up
    _, s = summarized(runs)
    kept = runs[(runs["error"] == "") & ~runs["diverged"]]
    relu = kept[(kept["activation"] == "relu")].groupby("seed")["test_acc"].mean().mean()
    row = s.by_dataset.set_index("activation").loc["relu"]
    assert row["mean"] == pytest.approx(relu)
    assert "diverged" in s.left_out


def test_every_other_axis_that_varies_gets_a_figure_and_a_table():
    base = synthetic.make_runs(activations=("none", "relu"), datasets=("circles",), seeds=(0, 1))
    noisy = base.assign(label_noise=0.2, test_acc=base["test_acc"] - 0.05)
    noisy["run_id"] = noisy["run_id"] + "n"
    _, s = summarized(pd.concat([base, noisy], ignore_index=True))
    assert list(s.by_axis) == ["label_noise"]
    assert set(s.by_axis["label_noise"].by_activation["label_noise"]) == {0.0, 0.2}
    plan = [filename for filename, _, _ in figure_plan(s)]
    assert "accuracy_vs_label_noise.png" in plan
    assert plan.index("accuracy_vs_label_noise.png") == plan.index("noise_robustness.png") + 1


def test_learned_parameters_are_summarised_when_a_run_has_them():
    runs = synthetic.make_runs(activations=("none", "relu"), datasets=("circles",), seeds=(0, 1))
    runs["act_params"] = ""
    relu = runs["activation"] == "relu"
    runs.loc[relu, "act_params"] = [
        json.dumps({f"{layer}.slope": 0.1 * depth for layer in range(depth)})
        for depth in runs.loc[relu, "depth"]
    ]
    _, s = summarized(runs)
    learned = s.learned.set_index("depth")["mean"]
    assert learned.to_dict() == pytest.approx({1: 0.1, 2: 0.2})
    assert "learned_parameters.png" in [f for f, _, _ in figure_plan(s)]


def test_reproduce_names_the_grid_as_run_takes_it():
    assert grid_argument({"grid": {"source": "builtin:seed"}}, "seed") == "seed"
    path = {"grid": {"source": "experiments/my grid.toml"}}
    assert grid_argument(path, "mine") == "'experiments/my grid.toml'"
    assert "nonlinbench run seed && nonlinbench report seed" in reproduce(
        {"grid": {"source": "builtin:seed"}}, "seed"
    )
    assert grid_argument({}, "quick") == "quick"
