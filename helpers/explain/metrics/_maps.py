"""The maps and masks every metric takes, checked once."""

from __future__ import annotations

import torch

from helpers._checks import check_tensor, shape_or_type


def check_maps(attributions: object, x: object, name: str = "attributions") -> torch.Tensor:
    """Attribution maps N×C×H×W or N×1×H×W matching ``x``, finite floats, summed over channels to N×H·W."""
    check_tensor(attributions, name, what="of maps N×C×H×W")
    shape = tuple(x.shape) if isinstance(x, torch.Tensor) else None
    if (shape is None or len(shape) != 4 or attributions.dim() != 4 or attributions.shape[0] != shape[0]
            or attributions.shape[2:] != shape[2:] or attributions.numel() == 0):
        got = shape_or_type(attributions)
        raise ValueError(f"{name} must be N×C×H×W or N×1×H×W maps matching x {shape}; got {got}")
    return attributions.detach().to(x.device, x.dtype).sum(1).flatten(1)


def check_masks(masks: object, maps: torch.Tensor, x_shape: tuple[int, ...], name: str = "masks",
                 against: str = "attributions") -> torch.Tensor:
    """Bool masks N×1×H×W, one per image of ``against`` (shape ``x_shape``), each marking a pixel."""
    expected = (x_shape[0], 1, *x_shape[2:])
    if isinstance(masks, torch.Tensor) and masks.dim() == 4 and masks.shape[2:] != tuple(x_shape[2:]):
        raise ValueError(f"{name} and {against} must have the same height × width; got {name} "
                         f"{tuple(masks.shape)} and {against} {tuple(x_shape)}")
    if not isinstance(masks, torch.Tensor) or masks.dtype != torch.bool or masks.shape != expected:
        got = shape_or_type(masks, dtype=True)
        raise ValueError(f"{name} must be a bool tensor of shape {expected}; got {got}")
    if not masks.flatten(1).any(1).all():
        raise ValueError(f"{name} must mark at least one pixel in every image")
    return masks.to(maps.device).flatten(1)
