"""Attacking a speech classifier on the waveform (lecture 39: "not only images").

A waveform is a float tensor ``N×T`` in [−1, 1]; the model maps it to logits
(``helpers.models.keyword_cnn`` computes its log-mel features in torch, so ∂L/∂x reaches every sample).
How loud a perturbation may be is measured as Carlini & Wagner (2018) do, in decibels relative to the
clip:

    dB_x(δ) = dB(δ) − dB(x),        dB(v) = 20 · log10 max_t |v_t|

A bound dB_x(δ) ≤ τ is an L∞ ball whose radius follows each clip's loudness:

    ε_n = 10^{τ/20} · max_t |x_n,t|
"""

from __future__ import annotations

import math

import torch
from torch import nn

from helpers._checks import (
    check_choice,
    check_int,
    check_labels,
    check_model,
    check_positive,
    check_waveforms,
    frozen,
    num_classes,
)
from helpers.attacks._core import LOSSES, loss_gradient


def _check_db(db: object) -> float:
    """A loudness bound in dB relative to the clip: finite and negative (the perturbation is quieter)."""
    if isinstance(db, bool) or not isinstance(db, (int, float)) or not -math.inf < db < 0:
        raise ValueError(f"db must be a negative number of decibels, finite (the perturbation is quieter "
                         f"than the clip); got {db!r}")
    return float(db)


def db_radius(x: torch.Tensor, db: float) -> torch.Tensor:
    """The L∞ radius per clip, ε_n = 10^{db/20} · max_t |x_n,t|, that a bound dB_x(δ) ≤ ``db`` allows
    (shape ``N×1``, to broadcast over time)."""
    check_waveforms(x)
    return 10 ** (_check_db(db) / 20) * x.abs().amax(dim=1, keepdim=True)


def pgd_db(
    model: nn.Module,
    x: torch.Tensor,
    y: int | torch.Tensor,
    *,
    db: float,
    steps: int = 100,
    alpha: float = 0.05,
    loss: str = "ce",
    targeted: bool = False,
) -> torch.Tensor:
    """PGD on the waveform under a loudness bound relative to the clip, dB_x(δ) ≤ ``db`` (Carlini & Wagner
    2018's measure; ``db`` < 0, e.g. −30 for a perturbation 30 dB quieter than the speech):

        x_{t+1} = clip_[−1,1]( x + clip_[−ε,ε]( x_t + α·ε · sign(∇ₓ L(f(x_t), y)) − x ) ),
        ε = 10^{db/20}·max|x|

    from x itself. ``alpha`` is the step as a fraction of each clip's ε. With ``targeted=True`` ``y``
    holds the target words and the loss towards them is decreased. Returns the detached adversarial
    waveforms; the model is left as found.
    """
    check_model(model)
    check_waveforms(x, model=model)
    _check_db(db)
    check_int(steps, "steps")
    check_positive(alpha, "alpha")
    check_choice(loss, "loss", LOSSES)
    if not isinstance(targeted, bool):
        raise TypeError(f"targeted must be a bool; got {type(targeted).__name__}")
    if float(x.detach().abs().amax(dim=1).min()) == 0:
        raise ValueError("x holds a silent clip (all samples 0): its loudness in dB is −∞, "
                         "so no bound relative to it exists")
    with frozen(model), torch.enable_grad():  # also when called under torch.no_grad()
        y = check_labels(y, x.shape[0], "y", num_classes=num_classes(model, x)).to(x.device)
        x = x.detach()
        eps = db_radius(x, db)
        x_adv = x.clone()
        for _ in range(steps):
            grad, _ = loss_gradient(model, x_adv, y, loss, targeted)
            delta = torch.clamp(x_adv + alpha * eps * grad.sign() - x, -eps, eps)
            x_adv = torch.clamp(x + delta, -1.0, 1.0)
    return x_adv.detach()


__all__ = ["pgd_db", "db_radius"]
