"""The engine against an independent implementation: scikit-learn's MLPClassifier."""

import pytest

from bench.perf.crosscheck import cross_check


@pytest.mark.slow
def test_engine_accuracy_agrees_with_scikit_learn_over_20_seeds():
    """Glorot init and plain full-batch SGD (lr 0.1, 1000 epochs) in both; circles (noise 0.03)
    and moons (noise 0.07); none/identity, relu, tanh, sigmoid/logistic. Mean test accuracies
    must agree within 3 standard errors of their difference (spread across seeds)."""
    table = cross_check(seeds=20)
    assert len(table) == 8
    assert table["agree"].all(), table.to_string()
