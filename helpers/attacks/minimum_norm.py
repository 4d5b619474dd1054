"""Minimum-norm attacks: instead of the most damaging x′ within an ε-ball, the *closest* x′ that the
network gets wrong (lecture 37),

    x* = argmin_{x′ ∈ [0, 1]} ‖x′ − x⁰‖₂   subject to   f(x′) ≠ y   (targeted: f(x′) = t).

The distance they reach is a measure of robustness per image; they take no ε. Both return a detached
``x_adv`` in [0, 1] and leave the model as they found it.
"""

from __future__ import annotations

import torch
from torch import nn

from helpers._checks import check_int, check_positive
from helpers.attacks._core import attack, margin
from helpers.attacks.norms import _per_sample, clip_box


@attack
def cw_l2(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    c: float = 1.0,
    kappa: float = 0.0,
    steps: int = 100,
    lr: float = 0.01,
    search_steps: int = 5,
    targeted: bool = False,
) -> torch.Tensor:
    """Carlini & Wagner's L2 attack (2017): in tanh space x′ = ½(tanh w + 1), so x′ ∈ [0, 1] always,
    minimise with Adam

        ‖x′ − x‖₂² + c · max(z_y − max_{j≠y} z_j, −κ)          (targeted: max(max_{j≠t} z_j − z_t, −κ))

    and binary-search c per image over ``search_steps`` rounds (×10 until a success, then halve the
    bracket). Returns, per image, the successful example with the smallest L2 distance found, or x
    itself where none was found. The other classes are masked with −∞ (not with 0), so the margin is
    right for negative logits too.
    """
    check_positive(c, "c")
    check_positive(kappa, "kappa", allow_zero=True)
    check_int(steps, "steps")
    check_positive(lr, "lr")
    check_int(search_steps, "search_steps")
    n = x.shape[0]
    w_start = torch.atanh((x * 2 - 1) * (1 - 1e-6))
    scale = torch.full((n,), float(c), dtype=x.dtype, device=x.device)
    lower, upper = torch.zeros_like(scale), torch.full_like(scale, 1e10)
    best, best_l2 = x.clone(), torch.full((n,), float("inf"), dtype=x.dtype, device=x.device)
    for _ in range(search_steps):
        w = w_start.clone().requires_grad_(True)
        optimiser = torch.optim.Adam([w], lr=lr)
        succeeded = torch.zeros(n, dtype=torch.bool, device=x.device)
        for _ in range(steps):
            x_adv = (torch.tanh(w) + 1) / 2
            logits = model(x_adv)
            distance = (x_adv - x).flatten(1).pow(2).sum(1)
            gap = margin(logits, y)  # z_y − max_{j≠y} z_j: < 0 once y is not on top
            objective = (gap if not targeted else -gap).clamp(min=-kappa)
            with torch.no_grad():
                success = (-gap > kappa) if not targeted else (gap > kappa)
                if targeted:
                    success &= logits.argmax(1) == y
                improved = success & (distance < best_l2)
                best = torch.where(improved.view(_per_sample(x)), x_adv.detach(), best)
                best_l2 = torch.where(improved, distance.detach(), best_l2)
                succeeded |= success
            optimiser.zero_grad()
            (distance + scale * objective).sum().backward()
            optimiser.step()
        upper = torch.where(succeeded, torch.minimum(upper, scale), upper)
        lower = torch.where(succeeded, lower, torch.maximum(lower, scale))
        scale = torch.where(upper < 1e10, (lower + upper) / 2, scale * 10)
    return best.clamp(0.0, 1.0)


@attack
def deepfool(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, steps: int = 50, overshoot: float = 0.02
) -> torch.Tensor:
    """DeepFool (Moosavi-Dezfooli, Fawzi & Frossard 2016), minimal L2, for all images at once.

    Linearise the classifier at the current point x_i and step to the nearest linearised boundary:

        l̂ = argmin_{k≠y} |f_k − f_y| / ‖∇f_k − ∇f_y‖₂,    r_i = (|f_l̂ − f_y| + 10⁻⁴) / ‖w_l̂‖₂² · w_l̂

    with w_l̂ = ∇f_l̂ − ∇f_y; accumulate r = Σ r_i and evaluate at x_i = clip_[0,1](x + (1 + overshoot) · r),
    the overshoot applied to the total perturbation as in the paper's reference code. An image stops
    once its label has changed; the Jacobian (one backward pass per class) is computed for the images
    still on their label only, all of them at once.
    """
    check_int(steps, "steps")
    check_positive(overshoot, "overshoot", allow_zero=True)
    x_adv, total = x.clone(), torch.zeros_like(x)
    left = torch.arange(x.shape[0], device=x.device)  # the images still classified as their label
    for _ in range(steps):
        point = x_adv[left].requires_grad_(True)
        logits = model(point)
        still = logits.argmax(1) == y[left]
        if not still.all():  # some labels changed: drop those images, linearise at the others
            left = left[still]
            if len(left) == 0:
                break
            point = x_adv[left].requires_grad_(True)
            logits = model(point)
        label, rows = y[left], torch.arange(len(left), device=x.device)
        classes = logits.shape[1]
        grads = torch.stack([torch.autograd.grad(logits[:, k].sum(), point, retain_graph=k < classes - 1)[0]
                             for k in range(classes)], dim=1)  # n×K×C×H×W
        logits = logits.detach()
        f_diff = logits - logits.gather(1, label[:, None])  # n×K
        w_diff = (grads - grads[rows, label][:, None]).flatten(2)  # n×K×D
        w_norm = w_diff.norm(dim=2).clamp_min(1e-12)
        nearest = (f_diff.abs() / w_norm).scatter(1, label[:, None], float("inf")).argmin(1)
        size = (f_diff[rows, nearest].abs() + 1e-4) / w_norm[rows, nearest] ** 2
        step = size[:, None] * w_diff[rows, nearest]
        total[left] += step.view_as(point)
        x_adv[left] = clip_box(x[left] + (1 + overshoot) * total[left])
    return x_adv


__all__ = ["cw_l2", "deepfool"]
