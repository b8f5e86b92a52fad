"""The engine against scikit-learn's MLPClassifier, an independent implementation.

`sklearn_mlp` is MLPClassifier matched to the seed notebook's training (plain full-batch
gradient descent, no regularisation); `cross_check` compares the two implementations' mean
test accuracy over seeds. `nonlinbench perf` times the one and runs the other.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from bench import engine
from bench.activations.registry import BUILTIN_REGISTRY
from bench.data.datasets import Dataset, data_key, make_dataset
from bench.spec import RunSpec

EPOCHS = 1000


# --------------------------------------------------------------------------- (b) scikit-learn


def sklearn_mlp(
    activation: str = "relu",
    seed: int = 0,
    hidden: tuple[int, ...] = (10, 10),
    n_train: int = 800,
    epochs: int = EPOCHS,
):
    """MLPClassifier matched to the seed: plain full-batch gradient descent, no regularisation."""
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(
        hidden_layer_sizes=hidden,
        activation=activation,
        solver="sgd",
        momentum=0.0,
        nesterovs_momentum=False,
        alpha=0.0,
        batch_size=n_train,
        learning_rate="constant",
        learning_rate_init=0.1,
        max_iter=epochs,
        early_stopping=False,
        tol=0.0,
        n_iter_no_change=epochs + 1,  # never stop before max_iter
        shuffle=False,
        random_state=seed,
    )


def fit_sklearn(model, data: Dataset):
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(data.X_train.numpy(), data.y_train.numpy())
    return model


# --------------------------------------------------------------------------- cross-check


def cross_check(seeds: int = 20) -> pd.DataFrame:
    """Engine (glorot init) vs MLPClassifier: mean test accuracy over seeds, per setting.

    Tolerance: the two means agree when their difference is within 3 standard errors of the
    difference, sqrt(s_engine^2 / n + s_sklearn^2 / n), with s the spread across seeds; a
    floor of 1 test point (0.005) covers settings where every seed scores the same.
    """
    pairs = {"none": "identity", "relu": "relu", "tanh": "tanh", "sigmoid": "logistic"}
    rows = []
    for dataset, noise in (("circles", 0.03), ("moons", 0.07)):
        data = make_dataset(dataset, 1000, noise=noise, data_seed=42, test_size=0.2)
        for ours, theirs in pairs.items():
            specs = [
                RunSpec(dataset=dataset, noise=noise, activation=ours, init="glorot",
                        optimizer="sgd", lr=0.1, epochs=EPOCHS, eval_every=EPOCHS, seed=s)
                for s in range(seeds)
            ]  # fmt: skip
            result = engine.train_chunk(
                specs,
                BUILTIN_REGISTRY.get(ours),
                "cpu",
                measure=False,
                datasets={data_key(specs[0]): data},
            )
            engine_acc = result.metrics["test_acc"]
            sk_acc = np.array(
                [
                    fit_sklearn(sklearn_mlp(theirs, seed=s), data).score(
                        data.X_test.numpy(), data.y_test.numpy()
                    )
                    for s in range(seeds)
                ]
            )
            se = math.sqrt(engine_acc.var(ddof=1) / seeds + sk_acc.var(ddof=1) / seeds)
            tolerance = max(3 * se, 0.005)
            diff = engine_acc.mean() - sk_acc.mean()
            rows.append(
                dict(
                    dataset=dataset,
                    noise=noise,
                    activation=f"{ours} / {theirs}",
                    engine_mean=engine_acc.mean(),
                    engine_sd=engine_acc.std(ddof=1),
                    sklearn_mean=sk_acc.mean(),
                    sklearn_sd=sk_acc.std(ddof=1),
                    difference=diff,
                    tolerance=tolerance,
                    welch_p=stats.ttest_ind(engine_acc, sk_acc, equal_var=False).pvalue
                    if se > 0
                    else 1.0,
                    agree=abs(diff) <= tolerance,
                )
            )
    table = pd.DataFrame(rows)
    table.attrs["seeds"] = seeds
    return table
