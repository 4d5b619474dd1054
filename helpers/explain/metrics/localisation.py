"""Localisation: does the relevance lie on the object? The pointing game, relevance mass, and how speckled
a map is (roughness)."""

from __future__ import annotations

import torch

from helpers._checks import check_bool, check_number, shape_or_type
from helpers.explain.metrics._maps import check_maps, check_masks


def pointing_game(attributions: torch.Tensor, masks: torch.Tensor, *, tolerance: float = 0.0) -> float:
    """Pointing game (Zhang et al. 2018, "Top-down neural attention by excitation backprop"): the share of
    images whose most relevant pixel (the largest channel-summed value, signed) lies within ``tolerance``
    pixels (Euclidean distance between pixel centres) of the object's mask — the mask dilated by a disc.
    Zhang et al. use 15 pixels on 224-pixel ImageNet images, so that a peak on the object's rim counts; the
    default 0 demands the peak on the mask itself, and 1 also accepts the 4 pixels beside it (√2 adds the
    diagonals)."""
    tolerance = check_number(tolerance, "tolerance", low=0.0)
    maps = check_maps(attributions, attributions)
    inside = check_masks(masks, maps, attributions.shape)
    peak = maps.argmax(1)
    width = attributions.shape[-1]
    rows = torch.arange(maps.shape[1], device=maps.device) // width
    cols = torch.arange(maps.shape[1], device=maps.device) % width
    distance2 = (rows - (peak // width)[:, None]) ** 2 + (cols - (peak % width)[:, None]) ** 2
    nearest2 = distance2.masked_fill(~inside, torch.iinfo(distance2.dtype).max).amin(1)
    return (nearest2 <= tolerance**2).float().mean().item()


def relevance_mass(attributions: torch.Tensor, masks: torch.Tensor) -> float:
    """Relevance mass accuracy, Σ_{mask} |h| ÷ Σ |h| averaged over images, with |h| the absolute
    attribution summed over channels. (CLEVR-XAI, Arras, Osman & Samek 2022, define it on the
    relevance pooled per pixel; we take absolute values so that signed maps score their magnitude.)
    A uniform map scores the mask's area fraction."""
    maps = check_maps(attributions, attributions).abs()
    inside = check_masks(masks, maps, attributions.shape)
    total = maps.sum(1)
    share = (maps * inside).sum(1) / total.clamp_min(1e-30)
    return torch.where(total > 0, share, torch.zeros_like(share)).mean().item()


def roughness(attributions: torch.Tensor, *, signed: bool = False) -> torch.Tensor:
    """How speckled each map is: the mean absolute difference between neighbouring pixels (down and
    right), in units of the map's mean magnitude,

        roughness(h) = ( mean |h[i+1, j] − h[i, j]| + mean |h[i, j+1] − h[i, j]| ) ÷ mean |h|,

    with h the map summed over channels — of |a| by default (where the evidence lies: a sign flip between
    neighbours costs nothing), of a itself with ``signed=True`` (a map alternating + and − counts as rough).
    0 for a constant map; a ±1 checkerboard scores 4 signed and 0 unsigned. Returns one value per image."""
    check_bool(signed, "signed")
    if (not isinstance(attributions, torch.Tensor) or attributions.dim() != 4
            or attributions.shape[0] == 0 or min(attributions.shape[2:]) < 2):
        raise ValueError("attributions must be N×C×H×W maps with N ≥ 1 and H, W ≥ 2 (a pixel needs a "
                         f"neighbour); got {shape_or_type(attributions)}")
    check_maps(attributions, attributions)  # float, finite
    h = attributions.detach().sum(1) if signed else attributions.detach().abs().sum(1)
    scale = h.abs().mean((1, 2))
    if not bool((scale > 0).all()):
        summed = "whose channels sum to zero everywhere" if signed else "that is zero everywhere"
        first = int((scale == 0).nonzero()[0])
        raise ValueError(f"attributions: image {first} has a map {summed}, which has no roughness")
    jumps = (h[:, 1:] - h[:, :-1]).abs().mean((1, 2)) + (h[:, :, 1:] - h[:, :, :-1]).abs().mean((1, 2))
    return jumps / scale
