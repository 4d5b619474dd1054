"""Image-to-image networks: the learned filter of ``helpers.defenses.denoiser`` (MagNet's reformer, HGD)."""

from __future__ import annotations

import torch
from torch import nn

from helpers._checks import check_int


class ResidualDenoiser(nn.Module):
    """D(x) = x + r(x): a network ``body`` that predicts the correction to add (the residual learning of
    Zhang et al.'s DnCNN, 2017). No clamp: D stays differentiable everywhere, and the classifier after it
    takes any real input."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def fashion_denoiser(width: int = 16) -> ResidualDenoiser:
    """A small convolutional denoiser for Fashion-MNIST (zoo: ``fmnist_denoiser``): image in, image out.

    The correction r(x) comes from four 3×3 convolutions at full resolution, 1 → ``width`` → ``width`` →
    ``width`` → 1 channels, ReLU between; the last is initialised to zero, so an untrained denoiser is the
    identity and training only has to learn what to remove (``helpers.defenses.denoiser``).
    """
    check_int(width, "width")
    last = nn.Conv2d(width, 1, 3, padding=1)
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    return ResidualDenoiser(nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(width, width, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(width, width, 3, padding=1),
        nn.ReLU(),
        last,
    ))


__all__ = ["ResidualDenoiser", "fashion_denoiser"]
