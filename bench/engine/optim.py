"""SGD (with momentum) and Adam over stacked parameters, with a learning rate per model."""

from __future__ import annotations

import math

import torch

from bench.engine.reference import ADAM_BETAS, ADAM_EPS


class StackedOptimizer:
    """SGD (with momentum) or Adam over stacked parameters, with per-model settings.

    The arithmetic follows torch.optim.SGD / torch.optim.Adam (single-tensor path) so a model
    trained here matches the reference loop. Models whose `alive` flag is off are left as is.
    """

    def __init__(
        self,
        params: list[torch.Tensor],
        kind: str,
        lr: torch.Tensor,
        momentum: torch.Tensor | None = None,
        capturable: bool = False,
    ):
        """capturable: the step count lives on the device and the momentum buffers exist
        from the start (zeros: the first step's buffer, 0 x momentum + g, is g exactly), so
        `step` has no host-side state and a CUDA graph can capture it (bench.engine.graphs)."""
        self.params = params
        self.kind = kind
        self.lr = lr  # (models,)
        self.momentum = momentum  # (models,) SGD's momentum, None when every model's is 0
        self.momentum_buffer: list[torch.Tensor | None] = [None] * len(params)
        self.step_count = 0
        self.capturable = capturable
        if capturable:  # float64, as the host's bias corrections
            self.step_tensor = torch.zeros((), dtype=torch.float64, device=lr.device)
            if momentum is not None:
                self.momentum_buffer = [torch.zeros_like(p) for p in params]
        if kind == "adam":
            self.exp_avg = [torch.zeros_like(p) for p in params]
            self.exp_avg_sq = [torch.zeros_like(p) for p in params]
        elif kind != "sgd":
            raise ValueError(f"unknown optimizer '{kind}'; allowed: sgd, adam")

    @staticmethod
    def _per_model(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return x.view(-1, *([1] * (like.dim() - 1)))  # (models,) -> (models, 1, ...)

    @torch.no_grad()
    def step(self, alive: torch.Tensor) -> None:
        self.step_count += 1
        if self.kind == "adam":
            beta1, beta2 = ADAM_BETAS
            if self.capturable:  # the same float64 arithmetic, on the device
                self.step_tensor += 1
                dtype = self.params[0].dtype
                bias_correction1 = (1 - beta1**self.step_tensor).to(dtype)
                bias_correction2_sqrt = (1 - beta2**self.step_tensor).sqrt().to(dtype)
            else:
                bias_correction1 = 1 - beta1**self.step_count
                bias_correction2_sqrt = math.sqrt(1 - beta2**self.step_count)
        for i, p in enumerate(self.params):
            g = p.grad
            lr = self._per_model(self.lr, p)
            if self.kind == "sgd" and self.momentum is not None:
                # torch.optim.SGD, dampening 0: the first step's buffer is the gradient itself.
                buf = self.momentum_buffer[i]
                if buf is None:
                    buf = self.momentum_buffer[i] = g.clone()
                else:
                    buf.mul_(self._per_model(self.momentum, p)).add_(g)
                update = p - lr * buf
            elif self.kind == "sgd":
                update = p - lr * g
            else:
                m, v = self.exp_avg[i], self.exp_avg_sq[i]
                m.lerp_(g, 1 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                denom = (v.sqrt() / bias_correction2_sqrt).add_(ADAM_EPS)
                update = p - (lr / bias_correction1) * (m / denom)
            p.copy_(torch.where(self._per_model(alive, p), update, p))
            p.grad = None
