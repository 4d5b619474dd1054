"""Detecting attacks as anomalies: feature squeezing (Xu, Evans & Qi 2018)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import torch
from torch import nn

from helpers._checks import (
    check_callable,
    check_images,
    check_model,
    check_number,
    check_tensor,
    frozen,
)
from helpers.defenses.filters import Filter, bit_depth, median_filter


class FeatureSqueezingDetector:
    """Flag an input whose prediction changes too much when the input is *squeezed*.

    score(x) = max_k ‖softmax f(x) − softmax f(squeeze_k(x))‖₁ over the squeezers (default: 4-bit colour
    depth and a 3×3 median). A clean image barely changes under squeezing; an adversarial one, tuned to the
    exact pixel values, often does. ``fit`` sets the threshold on clean images for a chosen false-positive
    rate; ``detect`` flags scores above it.
    """

    def __init__(self, model: nn.Module, squeezers: Sequence[Filter] | None = None) -> None:
        check_model(model)
        self.model = model
        self.squeezers = list(squeezers) if squeezers is not None else [
            functools.partial(bit_depth, bits=4), functools.partial(median_filter, size=3)]
        if not self.squeezers:
            raise ValueError("squeezers must hold at least one filter")
        for i, squeeze in enumerate(self.squeezers):
            check_callable(squeeze, f"squeezers[{i}]")
        self.threshold: float | None = None

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """The detection score of each image (shape N): the largest L1 change of the softmax."""
        check_images(x, model=self.model)
        with torch.no_grad(), frozen(self.model):
            probs = self.model(x).softmax(1)
            changes = [(probs - self.model(squeeze(x)).softmax(1)).abs().sum(1) for squeeze in self.squeezers]
        return torch.stack(changes).amax(0)

    def fit(self, clean: torch.Tensor, fpr: float = 0.05) -> FeatureSqueezingDetector:
        """Set the threshold to the (1 − ``fpr``) quantile of the clean images' scores."""
        self.threshold = _fit_threshold(self.score, clean, fpr, model=self.model)
        return self

    def detect(self, x: torch.Tensor) -> torch.Tensor:
        """A bool tensor N: True where the image looks adversarial."""
        return _flag(self.score, x, self.threshold)


def _fit_threshold(score: Callable[[torch.Tensor], torch.Tensor], clean: torch.Tensor, fpr: float, *,
                  model: nn.Module) -> float:
    """The (1 − ``fpr``) quantile of ``score(clean)``: a detector with this threshold flags a fraction
    ``fpr`` of the clean images (its false-positive rate). ``clean`` is checked as input to ``model``."""
    check_images(clean, "clean", model=model)
    check_number(fpr, "fpr", low=0.0, high=1.0, low_open=True, high_open=True)
    with torch.no_grad():
        return float(torch.quantile(score(clean).double(), 1.0 - fpr))


def _flag(score: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
          threshold: float | None) -> torch.Tensor:
    """``score(x) > threshold``: True where the image looks adversarial; refused before ``fit``."""
    if threshold is None:
        raise RuntimeError("call fit(clean_images) before detect: the threshold is not set")
    with torch.no_grad():
        return score(x) > threshold


def roc(clean_scores: torch.Tensor, adversarial_scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(false-positive rate, true-positive rate) for every threshold, from the scores of clean (negative)
    and adversarial (positive) images; both curves start at (0, 0) and end at (1, 1)."""
    for name, scores in (("clean_scores", clean_scores), ("adversarial_scores", adversarial_scores)):
        check_tensor(scores, name, what="of shape (N,)", dims=1)
        if len(scores) == 0:
            raise ValueError(f"{name} must hold at least one score; got shape {tuple(scores.shape)}")
    scores = torch.cat([clean_scores, adversarial_scores]).double().cpu()
    positive = torch.cat([torch.zeros(len(clean_scores)), torch.ones(len(adversarial_scores))]).double()
    order = scores.argsort(descending=True)
    tp = torch.cumsum(positive[order], 0)
    fp = torch.cumsum(1 - positive[order], 0)
    zero = torch.zeros(1, dtype=torch.float64)
    return torch.cat([zero, fp / len(clean_scores)]), torch.cat([zero, tp / len(adversarial_scores)])


def tpr_at_fpr(fpr: torch.Tensor, tpr: torch.Tensor, level: float = 0.05) -> float:
    """The true-positive rate of the best threshold whose false-positive rate is at most ``level``,
    read off a ``roc`` curve (the figure a detector is summarised by: "TPR at 5 % FPR")."""
    if not (isinstance(level, float) and 0.0 <= level <= 1.0):
        raise ValueError(f"level must be a float in [0, 1]; got {level!r}")
    return float(tpr[fpr <= level + 1e-12].max())


__all__ = ["FeatureSqueezingDetector", "roc", "tpr_at_fpr"]
