"""Built-in activations and the name registry."""

import pytest
import torch
import torch.nn.functional as F

import bench
from bench.activations import BUILTINS
from bench.registry import ActivationError, get_activation, list_activations

X = torch.linspace(-5, 5, 101)

REFERENCES = {
    "none": lambda x: x,
    "relu": F.relu,
    "leaky_relu": lambda x: F.leaky_relu(x, negative_slope=0.01),
    "elu": F.elu,
    "selu": F.selu,
    "gelu": F.gelu,
    "silu": F.silu,
    "mish": F.mish,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "softplus": F.softplus,
    "sin": torch.sin,
}


def test_every_required_builtin_exists_with_a_description_and_a_reference():
    names = {a.name for a in list_activations() if a.source == "builtin"}
    assert names == set(REFERENCES)
    for b in BUILTINS:
        assert b.description and b.reference


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_builtin_values_match_torch_functional(name):
    module = get_activation(name).make()
    torch.testing.assert_close(module(X), REFERENCES[name](X))
    # Elementwise: a stacked (models, width, samples) tensor is handled the same way.
    stacked = X.reshape(1, 1, -1).expand(3, 2, -1)
    torch.testing.assert_close(module(stacked)[2, 1], REFERENCES[name](X))


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
    for name in REFERENCES:
        assert name in message


def test_a_callable_passes_straight_through():
    activation = get_activation(torch.tanh)
    torch.testing.assert_close(activation.make()(X), torch.tanh(X))
    assert bench.get_activation(activation) is activation


def test_piecewise_linear_flags_mark_the_countable_activations():
    countable = {a.name for a in list_activations() if a.piecewise_linear and a.source == "builtin"}
    assert countable == {"none", "relu", "leaky_relu"}


def test_glorot_factor_is_2_for_sigmoid_only():
    factors = {a.name: a.glorot_factor for a in list_activations() if a.source == "builtin"}
    assert factors.pop("sigmoid") == 2.0
    assert set(factors.values()) == {6.0}
