"""The constraint set of an attack: the ε-ball of a norm around x⁰, intersected with the pixel box [0, 1]."""

from __future__ import annotations

import torch

from helpers._checks import check_positive, check_tensor


def _per_sample(t: torch.Tensor) -> tuple[int, ...]:
    return (-1,) + (1,) * (t.dim() - 1)


def project_linf(delta: torch.Tensor, eps: float) -> torch.Tensor:
    """The closest point of the L∞ ball {‖δ‖∞ ≤ ε}: clip every component to [−ε, ε]."""
    check_tensor(delta, "delta", finite=False)
    check_positive(eps, "eps", allow_zero=True)
    return delta.clamp(-eps, eps)


def project_l2(delta: torch.Tensor, eps: float) -> torch.Tensor:
    """The closest point of the L2 ball {‖δ‖₂ ≤ ε}, per sample: δ · min(1, ε / ‖δ‖₂)."""
    check_tensor(delta, "delta", finite=False)
    check_positive(eps, "eps", allow_zero=True)
    norms = delta.flatten(1).norm(dim=1).view(_per_sample(delta))
    return delta * torch.clamp(eps / norms.clamp_min(1e-12), max=1.0)


def clip_box(x: torch.Tensor) -> torch.Tensor:
    """The closest image in the pixel box [0, 1]."""
    check_tensor(x, "x", finite=False)
    return x.clamp(0.0, 1.0)


def _check_pair(a: object, b: object) -> None:
    check_tensor(a, "a", finite=False)
    check_tensor(b, "b", finite=False)
    if a.shape != b.shape or a.dim() < 1 or a.shape[0] == 0:
        raise ValueError(f"a and b must be batches of the same non-empty shape; got {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")


def linf(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-sample L∞ distance max_i |a_i − b_i| (shape N)."""
    _check_pair(a, b)
    return (a - b).flatten(1).abs().amax(dim=1)


def l2(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-sample L2 distance ‖a − b‖₂ (shape N)."""
    _check_pair(a, b)
    return (a - b).flatten(1).norm(dim=1)


__all__ = ["project_linf", "project_l2", "clip_box", "linf", "l2"]
