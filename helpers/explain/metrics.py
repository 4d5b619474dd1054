"""Is an explanation right? Faithfulness curves, localisation scores and the randomisation sanity check."""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

from helpers._checks import (
    check_bool,
    check_callable,
    check_choice,
    check_generator,
    check_images,
    check_int,
    check_labels,
    check_model,
    check_number,
    frozen,
    num_classes,
    shape_or_type,
)


def _check_maps(attributions: object, x: object, name: str = "attributions") -> torch.Tensor:
    """Attribution maps N×C×H×W or N×1×H×W matching ``x``, summed over channels to N×H·W."""
    shape = tuple(x.shape) if isinstance(x, torch.Tensor) else None
    if (not isinstance(attributions, torch.Tensor) or shape is None or len(shape) != 4
            or attributions.dim() != 4 or attributions.shape[0] != shape[0]
            or attributions.shape[2:] != shape[2:] or attributions.numel() == 0):
        got = shape_or_type(attributions)
        raise ValueError(f"{name} must be N×C×H×W or N×1×H×W maps matching x {shape}; got {got}")
    if not attributions.is_floating_point() or not bool(torch.isfinite(attributions).all()):
        raise ValueError(f"{name} must be float maps without NaN or infinite values")
    return attributions.detach().to(x.device, x.dtype).sum(1).flatten(1)


def _perturbation_curve(
    model: nn.Module, x: torch.Tensor, target: int | torch.Tensor, attributions: torch.Tensor, *, steps: int,
    baseline: float, insert: bool, batch_size: int,
) -> torch.Tensor:
    check_model(model)
    check_images(x, model=model)
    check_int(steps, "steps")
    check_number(baseline, "baseline", low=0.0, high=1.0)
    check_int(batch_size, "batch_size")
    order = _check_maps(attributions, x).argsort(dim=1, descending=True)  # most relevant first
    n, pixels = order.shape
    ranks = torch.empty_like(order).scatter_(1, order, torch.arange(pixels, device=x.device).expand(n, -1))
    # the number of pixels changed after each step
    counts = torch.round(torch.linspace(0, pixels, steps + 1, device=x.device)).long()
    fill = torch.full_like(x, float(baseline))
    start, end = (fill, x) if insert else (x, fill)
    with frozen(model):
        target = check_labels(target, n, "target", num_classes=num_classes(model, x)).to(x.device)
        probs = []
        with torch.no_grad():
            for index in torch.arange(n * (steps + 1), device=x.device).split(batch_size):
                image, step = index // (steps + 1), index % (steps + 1)
                changed = (ranks[image] < counts[step, None]).view(-1, 1, *x.shape[2:]).to(x.dtype)
                batch = start[image] * (1 - changed) + end[image] * changed
                probs.append(model(batch).softmax(1).gather(1, target[image, None]).squeeze(1))
    return torch.cat(probs).view(n, steps + 1)


def deletion_curve(
    model: nn.Module, x: torch.Tensor, target: int | torch.Tensor, attributions: torch.Tensor, *,
    steps: int = 20, baseline: float = 0.0, batch_size: int = 1024,
) -> torch.Tensor:
    """Deletion (Petsiuk et al. 2018, RISE): set the most relevant pixels to ``baseline`` first, a fraction
    k/steps at a time, and record the target probability. Returns N×(steps + 1), column k after k/steps
    of the pixels are gone. A faithful explanation makes it fall fast (small ``auc``)."""
    return _perturbation_curve(model, x, target, attributions, steps=steps, baseline=baseline, insert=False,
                               batch_size=batch_size)


def insertion_curve(
    model: nn.Module, x: torch.Tensor, target: int | torch.Tensor, attributions: torch.Tensor, *,
    steps: int = 20, baseline: float = 0.0, batch_size: int = 1024,
) -> torch.Tensor:
    """Insertion (Petsiuk et al. 2018): start from the ``baseline`` image and put back the most relevant
    pixels first. Returns N×(steps + 1) target probabilities; a faithful explanation makes it rise fast
    (large ``auc``)."""
    return _perturbation_curve(model, x, target, attributions, steps=steps, baseline=baseline, insert=True,
                               batch_size=batch_size)


def auc(curve: torch.Tensor) -> torch.Tensor:
    """Area under curves sampled at evenly spaced fractions 0 … 1 (trapezoid rule); one value per row."""
    if not isinstance(curve, torch.Tensor) or curve.dim() not in (1, 2) or curve.shape[-1] < 2:
        got = shape_or_type(curve)
        raise ValueError(f"curve must be a tensor (N, points) or (points,) with at least 2 points; got {got}")
    if not curve.is_floating_point() or not bool(torch.isfinite(curve).all()):
        raise ValueError("curve must be a float tensor without NaN or infinite values")
    return torch.trapezoid(curve, dx=1.0 / (curve.shape[-1] - 1), dim=-1)


def _check_masks(masks: object, maps: torch.Tensor, x_shape: tuple[int, ...]) -> torch.Tensor:
    expected = (x_shape[0], 1, *x_shape[2:])
    if not isinstance(masks, torch.Tensor) or masks.dtype != torch.bool or masks.shape != expected:
        got = shape_or_type(masks, dtype=True)
        raise ValueError(f"masks must be a bool tensor of shape {expected}; got {got}")
    if not masks.flatten(1).any(1).all():
        raise ValueError("masks must mark at least one pixel in every image")
    return masks.to(maps.device).flatten(1)


def pointing_game(attributions: torch.Tensor, masks: torch.Tensor) -> float:
    """Pointing game (Zhang et al. 2018), without tolerance: the share of images whose most relevant
    pixel (channels summed) lies inside the object's mask."""
    maps = _check_maps(attributions, attributions)
    inside = _check_masks(masks, maps, attributions.shape)
    hits = inside.gather(1, maps.argmax(1, keepdim=True))
    return hits.float().mean().item()


def relevance_mass(attributions: torch.Tensor, masks: torch.Tensor) -> float:
    """Relevance mass accuracy, Σ_{mask} |h| ÷ Σ |h| averaged over images, with |h| the absolute
    attribution summed over channels. (CLEVR-XAI, Arras, Osman & Samek 2022, define it on the
    relevance pooled per pixel; we take absolute values so that signed maps score their magnitude.)
    A uniform map scores the mask's area fraction."""
    maps = _check_maps(attributions, attributions).abs()
    inside = _check_masks(masks, maps, attributions.shape)
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
    _check_maps(attributions, attributions)  # float, finite
    h = attributions.detach().sum(1) if signed else attributions.detach().abs().sum(1)
    scale = h.abs().mean((1, 2))
    if not bool((scale > 0).all()):
        summed = "whose channels sum to zero everywhere" if signed else "that is zero everywhere"
        first = int((scale == 0).nonzero()[0])
        raise ValueError(f"attributions: image {first} has a map {summed}, which has no roughness")
    jumps = (h[:, 1:] - h[:, :-1]).abs().mean((1, 2)) + (h[:, :, 1:] - h[:, :, :-1]).abs().mean((1, 2))
    return jumps / scale


def spearman(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Spearman rank correlation of each row of ``a`` with the same row of ``b`` (N×D → N)."""
    for name, t in (("a", a), ("b", b)):
        if not isinstance(t, torch.Tensor) or t.dim() != 2 or t.shape[1] < 2:
            got = shape_or_type(t)
            raise ValueError(f"{name} must be a tensor N×D with D ≥ 2; got {got}")
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"{name} contains NaN or infinite values")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape; got {tuple(a.shape)} and {tuple(b.shape)}")
    def ranks(t: torch.Tensor) -> torch.Tensor:
        return t.argsort(1).argsort(1).to(torch.float64)

    ra, rb = ranks(a), ranks(b)
    ra, rb = ra - ra.mean(1, keepdim=True), rb - rb.mean(1, keepdim=True)
    return (ra * rb).sum(1) / (ra.norm(dim=1) * rb.norm(dim=1)).clamp_min(1e-30)


def randomization_test(
    model: nn.Module,
    x: torch.Tensor,
    target: int | torch.Tensor,
    method: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor],
    *,
    order: str = "top_down",
    absolute: bool = True,
    generator: torch.Generator | None = None,
) -> dict[str, float]:
    """Model-parameter randomisation (Adebayo et al. 2018, "Sanity checks for saliency maps").

    Re-initialise the model's layers with parameters one at a time, from the output down (``order=
    "top_down"``: cumulative, as in the paper's cascading test; ``"independent"``: one layer at a time),
    explain ``x`` with ``method(model_copy, x, target)`` after each step and compare with the trained
    model's explanation: the mean Spearman rank correlation over images (of the absolute maps when
    ``absolute``). An explanation that still correlates once the weights are random does not explain
    the model. The model itself is never changed (a copy is randomised); for Grad-CAM, name the layer,
    which names the same layer in every copy: ``lambda m, x, t: grad_cam(m, x, t, layer="layer4.1.bn2")``.
    Returns {"trained": 1.0, "<index>: <layer>": correlation, …}.
    """
    check_model(model)
    check_images(x, model=model)
    check_callable(method, "method", "(model, x, target) -> maps")
    check_choice(order, "order", ("top_down", "independent"))
    check_bool(absolute, "absolute")
    check_generator(generator)
    g = generator if generator is not None else torch.Generator().manual_seed(0)

    def explain(m: nn.Module) -> torch.Tensor:
        maps = _check_maps(method(m, x, target), x, "method(model, x, target)")
        maps = maps.detach()
        return maps.abs() if absolute else maps

    reference = explain(model)
    cuda_devices = sorted({p.device for p in model.parameters() if p.device.type == "cuda"}, key=str)
    layers = [(name, m) for name, m in model.named_modules() if hasattr(m, "reset_parameters") and any(
        True for _ in m.parameters(recurse=False))]
    results = {"trained": 1.0}
    randomized = copy.deepcopy(model)
    by_name = dict(randomized.named_modules())
    for name, layer in reversed(layers):
        if order == "independent":
            randomized = copy.deepcopy(model)
            by_name = dict(randomized.named_modules())
        with torch.random.fork_rng(devices=cuda_devices):
            torch.manual_seed(int(torch.randint(2**62, (1,), generator=g)))
            by_name[name].reset_parameters()
        results[f"{name}: {type(layer).__name__}"] = spearman(reference, explain(randomized)).mean().item()
    return results


__all__ = [
    "deletion_curve",
    "insertion_curve",
    "auc",
    "pointing_game",
    "relevance_mass",
    "roughness",
    "spearman",
    "randomization_test",
]
