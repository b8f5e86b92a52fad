"""Feature maps: the nonlinearity can live in the inputs instead of in the hidden layers."""

import hashlib
import json

import pytest
import torch

from bench import engine
from bench.activations.registry import BUILTIN_REGISTRY
from bench.data.datasets import make_dataset
from bench.data.features import FEATURE_MAPS, apply_feature_map, mapped_size
from bench.spec import LATER_FIELDS, RunSpec


def test_each_map_adds_the_documented_inputs():
    x = torch.tensor([[2.0, 3.0]])
    assert apply_feature_map("raw", x).tolist() == [[2.0, 3.0]]
    assert apply_feature_map("quadratic", x).tolist() == [[2.0, 3.0, 4.0, 9.0, 6.0]]
    sine = apply_feature_map("sine", x)[0].tolist()
    assert sine == pytest.approx([2.0, 3.0, torch.sin(x[0, 0]).item(), torch.sin(x[0, 1]).item()])
    assert mapped_size("playground", 2) == 7  # TensorFlow Playground's seven inputs
    assert mapped_size("quadratic", 3) == 3 + 3 + 3  # coordinates, squares, pairwise products
    assert set(FEATURE_MAPS) == {"raw", "quadratic", "sine", "playground"}


def test_a_map_changes_the_inputs_but_not_the_points_or_the_split():
    raw = make_dataset("circles", 200, features="raw")
    quadratic = make_dataset("circles", 200, features="quadratic")
    assert torch.equal(raw.X_test, quadratic.coords_test)
    assert torch.equal(raw.y_train, quadratic.y_train)
    assert quadratic.n_features == 5 and quadratic.n_coords == 2


def test_the_raw_map_and_other_later_fields_at_their_defaults_leave_run_ids_as_they_were():
    spec = RunSpec()
    settings = {k: v for k, v in spec.to_dict().items() if k not in LATER_FIELDS}
    assert "features" in LATER_FIELDS
    payload = json.dumps({"spec": settings, "data": "1"}, sort_keys=True, default=str)
    assert spec.run_id("1") == hashlib.sha256(payload.encode()).hexdigest()[:16]
    assert RunSpec(features="quadratic").run_id("1") != spec.run_id("1")


def test_a_linear_model_on_quadratic_features_separates_the_circles_and_on_raw_does_not():
    """Logistic regression (depth 0) on circles, noise 0.03, 10 seeds each."""
    none = BUILTIN_REGISTRY.get("none")
    accuracy = {}
    for features in ("raw", "quadratic"):
        specs = [
            RunSpec(features=features, depth=0, activation="none", optimizer="adam", lr=0.05,
                    epochs=300, eval_every=300, seed=s)
            for s in range(10)
        ]  # fmt: skip
        chunk = engine.train_chunk(specs, none, "cpu")
        accuracy[features] = chunk.metrics["test_acc"].mean()
        if features == "quadratic":
            # Measured on the circles' own plane, where the learned boundary is a circle:
            # far from affine, and its pieces are not counted as linear regions.
            assert chunk.metrics["linear_fit_r2"].max() < 0.1
            assert all(v != v for v in chunk.metrics["linear_regions"])  # NaN
    assert accuracy["quadratic"] >= 0.99
    assert 0.4 <= accuracy["raw"] <= 0.6
