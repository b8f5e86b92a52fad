"""How a chunk of stacked models is trained: the one record every training path takes.

`eager.train_stacked`, `graphs.train_graphed` and `fused.train_fused` train the same models
the same way from the same `TrainOptions`; `train.train_chunk` builds it from the chunk's run
specs and picks the path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from bench.spec import RunSpec

# Per-model settings that are left out (None) unless some run of the chunk sets them, so a
# chunk without them trains exactly as before they existed (and the fused kernel can tell
# which of them it must implement).
PER_MODEL = ("momentum", "weight_decay", "l1")


@dataclass(frozen=True)
class TrainOptions:
    optimizer: str  # sgd | adam (bench.spec.OPTIMIZERS)
    lr: torch.Tensor  # (models,) each model's learning rate
    seeds: torch.Tensor  # (models,) int64: each model's mini-batch order and dropout masks
    epochs: int
    batch_size: int = 0  # 0 (or >= the training set): full batch
    eval_every: int = 10  # epochs between the evaluations recorded as curves
    # (models,) in the network's dtype; None: 0 for every model
    momentum: torch.Tensor | None = None  # SGD's momentum
    weight_decay: torch.Tensor | None = None  # L2: weight_decay/2 * sum(W^2) over weights
    l1: torch.Tensor | None = None  # L1: l1 * sum(|W|) over weights

    @classmethod
    def for_runs(
        cls, specs: Sequence[RunSpec], dtype: torch.dtype, device: torch.device | str
    ) -> TrainOptions:
        """The options of a chunk of runs that share their group (bench.engine.placement):
        the per-model values from each spec, the shared ones from the first."""
        first = specs[0]
        per_model = {
            name: torch.tensor([getattr(s, name) for s in specs], dtype=dtype, device=device)
            for name in PER_MODEL
            if any(getattr(s, name) for s in specs)
        }
        return cls(
            optimizer=first.optimizer,
            lr=torch.tensor([s.lr for s in specs], dtype=dtype, device=device),
            seeds=torch.tensor([s.seed for s in specs], dtype=torch.int64, device=device),
            epochs=first.epochs,
            batch_size=first.batch_size,
            eval_every=first.eval_every,
            **per_model,
        )

    def per_model(self) -> dict[str, torch.Tensor]:
        """The per-model settings that are set, by name: {"momentum": (models,), ...}."""
        return {name: getattr(self, name) for name in PER_MODEL if getattr(self, name) is not None}

    def penalties(self, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """weight_decay and l1 as (models,) tensors in `dtype` (0 where unset), and whether
        either is set (an unpenalised chunk skips the penalty's arithmetic)."""
        zeros = torch.zeros(self.lr.shape[0], dtype=dtype, device=self.lr.device)
        penalised = self.weight_decay is not None or self.l1 is not None
        weight_decay = zeros if self.weight_decay is None else self.weight_decay
        return weight_decay, zeros if self.l1 is None else self.l1, penalised
