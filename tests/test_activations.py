"""Built-in activations and the name registry."""

import math

import pytest
import torch

import bench
from bench.activations.builtins import BUILTINS, ZOO
from bench.activations.plugins import get_activation
from bench.activations.registry import BUILTIN_REGISTRY, ActivationError

# Values at x = 1 and x = -1, computed by hand from each activation's defining formula.
E = math.e
PHI_1 = 0.5 * (1 + math.erf(1 / math.sqrt(2)))  # standard normal CDF at 1
SELU_SCALE, SELU_ALPHA = 1.0507009873554805, 1.6732632423543772
AT_ONE_AND_MINUS_ONE = {
    "none": (1.0, -1.0),
    "relu": (1.0, 0.0),
    "leaky_relu": (1.0, -0.01),
    "elu": (1.0, 1 / E - 1),
    "selu": (SELU_SCALE, SELU_SCALE * SELU_ALPHA * (1 / E - 1)),
    "gelu": (PHI_1, -(1 - PHI_1)),
    "silu": (1 / (1 + 1 / E), -1 / (1 + E)),
    "mish": (math.tanh(math.log(1 + E)), -math.tanh(math.log(1 + 1 / E))),
    "tanh": (math.tanh(1), -math.tanh(1)),
    "sigmoid": (1 / (1 + 1 / E), 1 / (1 + E)),
    "softplus": (math.log(1 + E), math.log(1 + 1 / E)),
    "sin": (math.sin(1), -math.sin(1)),
}


def test_every_required_builtin_exists_with_a_description_and_a_reference():
    names = {a.name for a in BUILTIN_REGISTRY}
    assert names == set(AT_ONE_AND_MINUS_ONE) | {b.name for b in ZOO}  # the zoo: test_zoo.py
    for b in BUILTINS:
        assert b.description and b.reference


@pytest.mark.parametrize("name", sorted(AT_ONE_AND_MINUS_ONE))
def test_builtin_values_follow_their_formula_and_apply_elementwise_to_stacked_tensors(name):
    module = BUILTIN_REGISTRY.get(name).make()
    x = torch.tensor([1.0, -1.0], dtype=torch.float64)
    torch.testing.assert_close(module(x), torch.tensor(AT_ONE_AND_MINUS_ONE[name], dtype=x.dtype))
    # Elementwise: a stacked (models, width, samples) tensor gives each model its own values.
    stacked = torch.randn(3, 2, 7, generator=torch.Generator().manual_seed(0))
    for model in range(3):
        torch.testing.assert_close(module(stacked)[model], module(stacked[model]))


def test_names_are_case_insensitive_and_aliases_are_explicit():
    assert get_activation("ReLU").name == "relu"
    assert get_activation("swish").name == "silu"
    assert get_activation("identity").name == "none"
    assert "swish" in get_activation("silu").aliases


def test_an_unknown_name_lists_the_known_names_and_suggests_the_closest():
    with pytest.raises(ActivationError) as info:
        get_activation("rleu")
    message = str(info.value)
    assert "did you mean 'relu'?" in message
    for name in AT_ONE_AND_MINUS_ONE:
        assert name in message


def test_a_callable_passes_straight_through():
    activation = get_activation(torch.tanh)
    x = torch.linspace(-5, 5, 11)
    torch.testing.assert_close(activation.make()(x), torch.tanh(x))
    assert bench.get_activation(activation) is activation


def test_piecewise_linear_flags_mark_the_countable_activations():
    countable = {a.name for a in BUILTIN_REGISTRY if a.piecewise_linear}
    assert countable == {"none", "relu", "leaky_relu", "abs"}
    assert {a.name for a in BUILTIN_REGISTRY if a.affine} == {"none"}


def test_glorot_factor_is_2_for_sigmoid_only():
    factors = {a.name: a.glorot_factor for a in BUILTIN_REGISTRY}
    assert factors.pop("sigmoid") == 2.0
    assert set(factors.values()) == {6.0}
