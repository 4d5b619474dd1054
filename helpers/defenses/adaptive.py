"""Adaptive attacks: the attacker knows the defense and attacks *through* it (Athalye, Carlini & Wagner 2018;
Tramèr et al. 2020). A defense is only as good as its evaluation against such an attacker."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from helpers._checks import check_callable, check_int, check_model
from helpers.defenses.filters import Filter


def bpda(filter: Filter) -> Filter:
    """Backward pass differentiable approximation: ``filter`` in the forward pass, the identity in the
    backward pass,  y = x + [filter(x) − x]  (the bracket detached).

    Filters such as JPEG (no gradient at all: it runs on bytes) or bit-depth reduction (a staircase, gradient
    zero almost everywhere) hide the direction an attacker needs ("obfuscated gradients"). ∂filter(x)/∂x ≈ I
    is a good approximation where the filter keeps the image almost the same, and a poorer one where it does
    not: for coarse rounding, or for a filter with a usable gradient of its own — the median is piecewise
    linear, and attacking it through its true gradient does better than through BPDA (notebook 09, §3).
    """
    check_callable(filter, "filter")

    def straight_through(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            filtered = filter(x.detach())
        return x + (filtered - x).detach()

    straight_through.__name__ = f"bpda({getattr(filter, '__name__', type(filter).__name__)})"
    return straight_through


class ExpectationOverTransformation(nn.Module):
    """The model averaged over ``n`` draws of a random ``transform``: its gradient is the EOT gradient."""

    def __init__(self, model: nn.Module, transform: Callable[[torch.Tensor], torch.Tensor], n: int) -> None:
        super().__init__()
        check_model(model)
        check_callable(transform, "transform")
        check_int(n, "n")
        self.model, self.transform, self.n = model, transform, n
        self.training = model.training  # its own flag only: never the recursive train() (a wrapper is a view)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # n separate calls: a randomised model or transform may draw once per call, not per image
        return torch.stack([self.model(self.transform(x)) for _ in range(self.n)]).mean(0)


def eot(model: nn.Module, transform: Callable[[torch.Tensor], torch.Tensor], n: int) -> nn.Module:
    """Expectation over transformation (Athalye et al. 2018) against a *randomised* defense: a module whose
    logits are the mean of ``model(transform(x))`` over ``n`` random draws, so that any white-box attack run
    on it follows  ∇ E_t[L(f(t(x)))] ≈ 1/n Σ ∇ L(f(t_i(x)))  instead of one draw's accidental gradient."""
    return ExpectationOverTransformation(model, transform, n)


__all__ = ["bpda", "eot", "ExpectationOverTransformation"]
