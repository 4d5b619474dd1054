"""Attacks in the real world (lecture 39): one perturbation for many images, and patches that survive
being moved, turned, scaled and lit differently (expectation over transformation, Athalye et al. 2018).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from helpers._checks import (
    check_bool,
    check_generator,
    check_images,
    check_int,
    check_labels,
    check_model,
    check_positive,
    check_tensor,
    frozen,
    num_classes,
    own_generator,
    shape_or_type,
)
from helpers.attacks.norms import clip_box, project_linf


def universal_perturbation(
    model: nn.Module,
    x: torch.Tensor,
    y: int | torch.Tensor,
    *,
    eps: float,
    alpha: float | None = None,
    steps: int = 100,
    batch_size: int = 128,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One perturbation δ for all images (Moosavi-Dezfooli et al. 2017, here by stochastic
    sign-gradient ascent as in the later "fast" variants): maximise  E_{(x, y)} CE(f(clip(x + δ)), y)
    over ‖δ‖∞ ≤ ε,

        δ ← clip_[−ε,ε]( δ + α · sign(∇_δ Σ_batch CE) )

    on random batches of ``batch_size`` images, with steps α = ``alpha`` (default ε/10, so that ``steps``
    = 100 can cross the ball ten times). Returns δ, shaped 1×C×H×W; apply it as
    ``(images + δ).clamp(0, 1)``.
    With ``generator=None`` the randomness comes from torch's global RNG.
    """
    check_model(model)
    check_images(x, model=model)
    check_positive(eps, "eps", allow_zero=True)
    step = eps / 10 if alpha is None else check_positive(alpha, "alpha")
    check_int(steps, "steps")
    check_int(batch_size, "batch_size")
    check_generator(generator)
    g = own_generator(generator)
    delta = torch.zeros_like(x[:1])
    with frozen(model):
        y = check_labels(y, x.shape[0], "y", num_classes=num_classes(model, x)).to(x.device)
        for _ in range(steps):
            pick = torch.randint(0, x.shape[0], (min(batch_size, x.shape[0]),), generator=g).to(x.device)
            d = delta.requires_grad_(True)
            loss = F.cross_entropy(model(clip_box(x[pick] + d)), y[pick], reduction="sum")
            (grad,) = torch.autograd.grad(loss, d)
            delta = project_linf(delta.detach() + step * grad.sign(), eps)
    return delta.detach()


def random_transforms(
    n: int,
    *,
    shift: float = 0.1,
    rotation: float = 15.0,
    scale: tuple[float, float] = (0.9, 1.1),
    brightness: tuple[float, float] = (0.8, 1.2),
    generator: torch.Generator | None = None,
) -> dict[str, torch.Tensor]:
    """``n`` random physical changes: a shift of up to ``shift`` of the image size, a rotation of up to
    ``rotation`` degrees, a scale in ``scale`` and a brightness factor in ``brightness`` (each uniform).
    With ``generator=None`` the randomness comes from torch's global RNG."""
    check_int(n, "n")
    check_positive(shift, "shift", allow_zero=True)
    check_positive(rotation, "rotation", allow_zero=True)
    scale = _check_range(scale, "scale", positive=True)
    brightness = _check_range(brightness, "brightness", positive=False)
    check_generator(generator)

    def uniform(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(n, generator=generator)

    return {
        "shift": torch.stack([uniform(-shift, shift), uniform(-shift, shift)], dim=1),
        "angle": uniform(-rotation, rotation) * math.pi / 180,
        "scale": uniform(*scale),
        "brightness": uniform(*brightness),
    }


def _check_range(value: object, name: str, *, positive: bool) -> tuple[float, float]:
    """A pair (low, high) of finite numbers, low ≤ high, both > 0 (``positive``) or ≥ 0."""
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        raise TypeError(f"{name} must be a pair (low, high); got {value!r}")
    low, high = (check_positive(v, name, allow_zero=not positive) for v in value)
    if low > high:
        raise ValueError(f"{name} must be a pair (low, high) with low ≤ high; got {tuple(value)}")
    return low, high


_TRANSFORM_KEYS = {"shift": 2, "angle": 1, "scale": 1, "brightness": 1}


def _check_change(change: object, n: int) -> dict[str, torch.Tensor]:
    """A ``random_transforms`` dict for ``n`` images: its four keys, finite values, scales and
    brightness > 0."""
    if not isinstance(change, dict) or set(change) != set(_TRANSFORM_KEYS):
        got = sorted(change) if isinstance(change, dict) else type(change).__name__
        raise ValueError(f"change must be a dict from random_transforms with keys "
                         f"{sorted(_TRANSFORM_KEYS)}; got {got}")
    for key, dims in _TRANSFORM_KEYS.items():
        value = check_tensor(change[key], f"change[{key!r}]", what=f"(one change for each of {n} "
                             "images)", shape=(n,) if dims == 1 else (n, 2))
        if key in ("scale", "brightness") and not bool((value > 0).all()):
            raise ValueError(f"change[{key!r}] must be > 0")
    return change  # type: ignore[return-value]


def _warp(images: torch.Tensor, change: dict[str, torch.Tensor]) -> torch.Tensor:
    """Rotate, scale and shift each image about its centre (bilinear, zeros outside)."""
    angle, scale = change["angle"].to(images), change["scale"].to(images)
    shift = change["shift"].to(images)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    # affine_grid maps output coordinates to input coordinates: the inverse of the physical motion
    theta = torch.stack([torch.stack([cos, sin, -(cos * shift[:, 0] + sin * shift[:, 1]) * 2], 1),
                         torch.stack([-sin, cos, -(-sin * shift[:, 0] + cos * shift[:, 1]) * 2], 1)], 1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _check_mask(mask: object, images: torch.Tensor) -> torch.Tensor:
    if not isinstance(mask, torch.Tensor) or mask.shape != images.shape[2:]:
        got = shape_or_type(mask)
        raise ValueError(f"mask must be H×W {tuple(images.shape[2:])}; got {got}")
    if mask.dtype != torch.bool:
        check_tensor(mask, "mask", what="(bool, or float in [0, 1])", low=0.0, high=1.0)
    return mask


def apply_patch(
    images: torch.Tensor,
    patch: torch.Tensor,
    mask: torch.Tensor,
    change: dict[str, torch.Tensor] | None = None,
) -> torch.Tensor:
    """Paste ``patch`` (C×H×W in [0, 1]) where ``mask`` (H×W bool or float in [0, 1]) is on.

    With ``change`` (from ``random_transforms``, one entry per image) the patch and its mask move
    together — shifted, rotated and scaled like a sticker on a moving object — and the whole scene's
    brightness is multiplied by the factor, then clipped to [0, 1].
    """
    check_images(images, "images")
    if not isinstance(patch, torch.Tensor) or patch.shape != images.shape[1:]:
        got = shape_or_type(patch)
        raise ValueError(f"patch must be shaped like one image {tuple(images.shape[1:])}; got {got}")
    check_images(patch[None], "patch")
    _check_mask(mask, images)
    if change is not None:
        _check_change(change, images.shape[0])
    return _paste(images, patch, mask, change)


def _paste(images: torch.Tensor, patch: torch.Tensor, mask: torch.Tensor,
           change: dict[str, torch.Tensor] | None) -> torch.Tensor:
    """``apply_patch`` without its checks, for the patch attack's inner loop."""
    n = images.shape[0]
    p = patch.to(images).expand(n, -1, -1, -1)
    m = mask.to(images).expand(n, 1, -1, -1)
    if change is not None:
        p, m = _warp(p, change), _warp(m, change)
    pasted = images * (1 - m) + p * m
    if change is not None:
        pasted = pasted * change["brightness"].to(images).view(-1, 1, 1, 1)
    return pasted.clamp(0.0, 1.0)


def adversarial_patch(
    model: nn.Module,
    images: torch.Tensor,
    target: int,
    *,
    mask: torch.Tensor,
    steps: int = 200,
    lr: float = 0.5,
    eot: bool = True,
    batch_size: int = 64,
    generator: torch.Generator | None = None,
    **transform_ranges,
) -> torch.Tensor:
    """An adversarial patch (Brown et al. 2017) confined to ``mask`` — the eyeglass-frame idea of Sharif et
    al. (2016): a fixed region of the object that the attacker may repaint — that pushes every image
    towards class ``target``. Adam maximises the target's log-probability over random batches; with
    ``eot=True`` every step also applies fresh ``random_transforms`` (shift, rotation, scale, brightness;
    ``transform_ranges`` override their ranges), so the patch is optimised for the *expected* effect over
    transformations (EOT, Athalye et al. 2018) instead of one exact placement. Returns the patch, C×H×W
    in [0, 1] (only the masked part matters).

    The patch is parametrised as σ(logit), so it stays in [0, 1] without clipping; ``lr`` is Adam's step
    on those logits (in logit units, not pixels), which start at 0 (grey): Adam's first step moves each
    logit by about ``lr``, so with σ′(0) = ¼ the default 0.5 moves a pixel by about 0.12.
    With ``generator=None`` the randomness comes from torch's global RNG.
    """
    check_model(model)
    check_images(images, "images", model=model)
    _check_mask(mask, images)
    check_int(steps, "steps")
    check_positive(lr, "lr")
    check_bool(eot, "eot")
    check_int(batch_size, "batch_size")
    check_generator(generator)
    if eot:
        random_transforms(1, **transform_ranges)  # checks the ranges before any work
    g = own_generator(generator)
    logit = torch.full(images.shape[1:], 0.0, device=images.device).requires_grad_(True)  # patch = σ(logit)
    optimiser = torch.optim.Adam([logit], lr=lr)
    with frozen(model):
        goal = check_labels(target, 1, "target", num_classes=num_classes(model, images)).to(images.device)
        for _ in range(steps):
            size = (min(batch_size, images.shape[0]),)
            pick = torch.randint(0, images.shape[0], size, generator=g).to(images.device)
            change = random_transforms(len(pick), generator=g, **transform_ranges) if eot else None
            scene = _paste(images[pick], torch.sigmoid(logit), mask, change)
            loss = -F.log_softmax(model(scene), 1)[:, goal[0]].mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return torch.sigmoid(logit).detach()


__all__ = ["universal_perturbation", "adversarial_patch", "apply_patch", "random_transforms"]
