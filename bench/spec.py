"""RunSpec: the fully resolved settings of one training run, and its stable id.

A grid's `layers` axis writes a network's hidden layers in order, each as its width and
activation, separated by commas:

    layers = ["16 relu, 8 tanh", "16 tanh, 8 relu"]

`RunSpec` keeps the canonical text (single spaces, ", " between layers, registered activation
names) and derives `depth` (the number of layers) and `width` (the widest). A stack whose
layers all share one width and one activation is the ordinary network of that depth, width and
activation, and becomes exactly that spec (same run id), so it ranks with it. Any other stack
takes its text in brackets as its `activation` label ("[16 relu, 8 tanh]"): figures, tables
and rankings show it as the stack it is, never as one of its activations, and a list of labels
still reads unambiguously.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass

INIT_SCHEMES = ("pytorch", "glorot", "kaiming")
OPTIMIZERS = ("sgd", "adam")


@dataclass(frozen=True)
class RunSpec:
    # Data: which toy problem, how much of it and how noisy. Defaults are the seed notebook's.
    # A built-in dataset name, or a CSV file's path as written in the grid (bench.data.csv_files.CsvName
    # carries the file it names, and its rows: n_samples; noise is 0 unless the grid gives it).
    dataset: str = "circles"
    n_samples: int = 1000  # points generated before the train/test split
    noise: float = 0.03  # std of Gaussian noise added to the coordinates (scikit-learn's meaning)
    label_noise: float = 0.0  # fraction of training labels flipped to another class
    test_size: float = 0.2  # fraction of points held out for testing
    data_seed: int = 42  # seeds the data generator and the split
    stratify: bool = True  # stratified split; the seed grid turns it off to match the notebook
    features: str = "raw"  # feature map on the inputs (bench.data.features): raw | quadratic | ...
    dim: int = 2  # coordinates of `spheres`, the one dataset that takes it (others leave it 2)
    # Model.
    activation: str = "relu"  # canonical registry name
    depth: int = 2  # hidden layers; 0 is logistic / softmax regression
    width: int = 10  # units per hidden layer
    init: str = "pytorch"  # pytorch | glorot | kaiming
    # Hidden layers one by one, "16 relu, 8 tanh" (see above): sets depth, width (the
    # widest) and activation (the text itself); "" for depth x width units of `activation`.
    layers: str = ""
    dropout: float = (
        0.0  # probability of zeroing each hidden unit while training (bench.engine.reference)
    )
    # Training.
    optimizer: str = "sgd"  # sgd | adam
    lr: float = 0.1
    momentum: float = 0.0  # SGD's momentum (torch.optim.SGD's); scikit-learn's default is 0.9
    weight_decay: float = 0.0  # L2: adds weight_decay/2 * sum(W^2) over weights to the loss
    l1: float = 0.0  # L1: adds l1 * sum(|W|) over weights to the loss
    epochs: int = 1000
    batch_size: int = 0  # 0 (or >= the training set) is full batch, the notebook's way
    eval_every: int = 10  # epochs between evaluations stored as learning curves
    seed: int = 0  # seeds the initial weights (and mini-batch order)
    target_acc: float = 0.95  # test accuracy that defines epochs_to_target

    def __post_init__(self):
        if self.layers:  # depth, width and activation follow from the layers
            for name, value in derived_fields(self.layers).items():
                object.__setattr__(self, name, value)

    def to_dict(self) -> dict:
        settings = asdict(self)
        settings["dataset"] = str(self.dataset)  # a CSV's name as written, without its path
        return settings

    def run_id(self, dataset_fingerprint: str) -> str:
        """A stable hash of the resolved settings and of the data generator's version.

        Fields added after the first release enter the hash only when set away from their
        default, so the runs stored before they existed keep their ids.
        """
        settings = {
            k: v for k, v in self.to_dict().items() if k not in LATER_FIELDS or v != LATER_FIELDS[k]
        }
        payload = json.dumps(
            {"spec": settings, "data": dataset_fingerprint}, sort_keys=True, default=str
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


DEFAULTS: dict = RunSpec().to_dict()
# Fields added after the first release, with the default that leaves a run's id unchanged.
LATER_FIELDS: dict = {
    "features": "raw",
    "dim": 2,
    "layers": "",
    "dropout": 0.0,
    "momentum": 0.0,
    "weight_decay": 0.0,
    "l1": 0.0,
}


_LAYER = re.compile(r"(\d+)\s+([A-Za-z_][\w.\-]*)")
LAYERS_SYNTAX = "hidden layers as 'WIDTH ACTIVATION, WIDTH ACTIVATION, ...', e.g. '16 relu, 8 tanh'"


@dataclass(frozen=True)
class Layer:
    width: int
    activation: str


def parse_layers(text: str) -> list[Layer]:
    """'16 relu, 8 tanh' -> [Layer(16, 'relu'), Layer(8, 'tanh')]; ValueError when malformed."""
    layers = []
    for part in text.split(","):
        match = _LAYER.fullmatch(part.strip())
        if match is None:
            raise ValueError(f"layer {part.strip()!r} is not 'WIDTH ACTIVATION'")
        layers.append(Layer(int(match.group(1)), match.group(2)))
    return layers


def format_layers(layers: list[Layer]) -> str:
    return ", ".join(f"{layer.width} {layer.activation}" for layer in layers)


def is_uniform(layers: list[Layer]) -> bool:
    return len({(layer.width, layer.activation) for layer in layers}) == 1


def derived_fields(text: str) -> dict:
    """The RunSpec fields a `layers` value sets: depth, width and activation, and the canonical
    text itself ("" for a uniform stack, which is then the ordinary network)."""
    layers = parse_layers(text)
    uniform = is_uniform(layers)
    canonical = format_layers(layers)
    return {
        "layers": "" if uniform else canonical,
        "depth": len(layers),
        "width": max(layer.width for layer in layers),
        "activation": layers[0].activation if uniform else stack_label(canonical),
    }


def stack_label(canonical: str) -> str:
    """A mixed stack's `activation` label: its canonical text in brackets."""
    return f"[{canonical}]"


def hidden_widths(spec) -> list[int]:
    """The widths of a run's hidden layers, in order."""
    if spec.layers:
        return [layer.width for layer in parse_layers(spec.layers)]
    return [spec.width] * spec.depth
