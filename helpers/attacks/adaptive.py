"""Adaptive attacks: the attacker knows the defense and attacks *through* it (Athalye, Carlini & Wagner 2018;
Tramèr et al. 2020). A defense is only as good as its evaluation against such an attacker.

Three tools, each for one way a defense hides the gradient: ``bpda`` for a filter without a useful gradient,
``eot`` for a randomised defense, and ``evade_detector`` for a classifier guarded by a differentiable
detector. None of them needs the defense's code: a filter is any function of images, a detector any object
with a ``score`` differentiable in x and a fitted ``threshold`` — ``helpers.defenses.ReconstructionDetector``
is one; ``FeatureSqueezingDetector``'s score has no gradient, and ``evade_detector`` refuses it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import torch
from torch import nn

from helpers._checks import check_callable, check_int, check_model, check_positive
from helpers.attacks._core import attack, margin
from helpers.attacks.norms import clip_box, project_linf

Transform = Callable[[torch.Tensor], torch.Tensor]


def bpda(filter: Transform) -> Transform:
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

    def __init__(self, model: nn.Module, transform: Transform, n: int) -> None:
        super().__init__()
        check_model(model)
        check_callable(transform, "transform")
        check_int(n, "n")
        self.model, self.transform, self.n = model, transform, n
        self.training = model.training  # its own flag only: never the recursive train() (a wrapper is a view)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # n separate calls: a randomised model or transform may draw once per call, not per image
        return torch.stack([self.model(self.transform(x)) for _ in range(self.n)]).mean(0)


def eot(model: nn.Module, transform: Transform, n: int) -> nn.Module:
    """Expectation over transformation (Athalye et al. 2018) against a *randomised* defense: a module whose
    logits are the mean of ``model(transform(x))`` over ``n`` random draws, so that any white-box attack run
    on it follows  ∇ E_t[L(f(t(x)))] ≈ 1/n Σ ∇ L(f(t_i(x)))  instead of one draw's accidental gradient."""
    return ExpectationOverTransformation(model, transform, n)


class Detector(Protocol):
    """What ``evade_detector`` needs of a detector: a score per image, differentiable in x, and the threshold
    above which it flags an image (set by fitting it) — e.g. ``helpers.defenses.ReconstructionDetector``."""

    threshold: float | None

    def score(self, x: torch.Tensor) -> torch.Tensor: ...


def evade_detector(model: nn.Module, detector: Detector, x: torch.Tensor, y: torch.Tensor, *,
                   eps: float, alpha: float, steps: int, weight: float = 10.0) -> torch.Tensor:
    """The adaptive attack on classifier + detector: L∞ PGD (no random start) on

        J(x′) = max_{j≠y} z_j(x′) − z_y(x′)  −  ``weight`` · max(0, s(x′) − τ)

    — push the classifier ``model`` off y while keeping the detector's score s (``detector.score``) under its
    threshold τ (``detector.threshold``). For MagNet's detector s is the reconstruction error ‖D(x′) − x′‖₂.
    Returns, per image, the last iterate that both fools ``model`` and passes the detector, or the last
    iterate where none did. The detector must be fitted and its score differentiable in x.
    """
    if not callable(getattr(detector, "score", None)) or not hasattr(detector, "threshold"):
        raise TypeError("detector must be a detector with a score(x) method and a threshold (e.g. "
                        f"helpers.defenses.ReconstructionDetector); got {type(detector).__name__}")
    if detector.threshold is None:
        raise RuntimeError("fit the detector before attacking it: its threshold is not set")
    check_positive(weight, "weight", allow_zero=True)
    return _evade(model, x, y, detector=detector, eps=eps, alpha=alpha, steps=steps, weight=weight)


@attack
def _evade(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, detector: Detector,
           eps: float, alpha: float, steps: int, weight: float) -> torch.Tensor:
    check_positive(eps, "eps", allow_zero=True)
    check_positive(alpha, "alpha")
    check_int(steps, "steps")
    threshold = detector.threshold
    x_adv, best = x.clone(), x.clone()
    found = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
    for step in range(steps + 1):
        x_in = x_adv.detach().requires_grad_(True)
        logits = model(x_in)
        score = _differentiable_score(detector, x_in)
        with torch.no_grad():  # the current iterate: does it fool the model unseen?
            done = (logits.argmax(1) != y) & (score <= threshold)
            best = torch.where(done.view(-1, 1, 1, 1), x_in.detach(), best)
            found |= done
        if step == steps:
            break
        objective = -margin(logits, y) - weight * (score - threshold).clamp_min(0)
        (grad,) = torch.autograd.grad(objective.sum(), x_in)
        x_adv = clip_box(x + project_linf(x_adv + alpha * grad.sign() - x, eps))
    return torch.where(found.view(-1, 1, 1, 1), best, x_adv)


def _differentiable_score(detector: Detector, x: torch.Tensor) -> torch.Tensor:
    """``detector.score(x)`` for an ``x`` that requires grad; a score without a gradient is refused."""
    score = detector.score(x)
    if not isinstance(score, torch.Tensor) or score.shape != (x.shape[0],):
        raise TypeError(f"detector.score must return one score per image (shape ({x.shape[0]},)); got "
                        f"{tuple(score.shape) if isinstance(score, torch.Tensor) else type(score).__name__}")
    if not score.requires_grad:
        raise TypeError(f"detector.score must be differentiable in x to be evaded by gradient; "
                        f"{type(detector).__name__}'s score has no gradient")
    return score


__all__ = ["bpda", "eot", "ExpectationOverTransformation", "evade_detector", "Detector"]
