"""What every white-box attack shares: argument checks, the frozen model, the attacker's loss."""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from helpers._checks import (
    bool_options,
    check_bool,
    check_images,
    check_labels,
    check_model,
    frozen,
    num_classes,
)

LOSSES = ("ce", "margin")


def attack(method: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """Turn ``method(model, x, y, **options)`` into a public attack: check ``x`` (images in [0, 1]) and
    ``y`` (an int or int64 labels of shape N within the model's classes; with ``targeted=True`` the
    target classes), run with the model in eval mode and its parameters frozen (both restored
    afterwards) and return a detached ``x_adv``. Options annotated ``bool`` (``targeted``, …) must be
    True or False."""
    flags = bool_options(method)

    @functools.wraps(method)
    def public(model: nn.Module, x: torch.Tensor, y: int | torch.Tensor, **options) -> torch.Tensor:
        check_model(model)
        check_images(x, model=model)
        for name in flags & options.keys():
            check_bool(options[name], name)
        with frozen(model):
            y = check_labels(y, x.shape[0], "y", num_classes=num_classes(model, x))
            return method(model, x.detach(), y.to(x.device), **options).detach()

    return public


def margin(scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The classification margin z_y − max_{j≠y} z_j per sample, for logits (or log-probabilities,
    whose margin is the same): < 0 exactly when the model does not answer y. The one margin of the
    library: the attacker's ``"margin"`` loss is its negative (C&W's max_{j≠y} z_j − z_y), C&W and
    the query attacks drive it below 0. The other classes are masked with −∞, so negative scores are
    handled correctly."""
    true = scores.gather(1, y[:, None]).squeeze(1)
    others = scores.masked_fill(F.one_hot(y, scores.shape[1]).bool(), float("-inf")).amax(1)
    return true - others


def attacker_loss(logits: torch.Tensor, y: torch.Tensor, loss: str, targeted: bool) -> torch.Tensor:
    """The per-sample loss the attacker *increases*: CE or margin away from y (untargeted), or their
    negatives — towards the target y (targeted)."""
    if loss == "ce":
        value = F.cross_entropy(logits, y, reduction="none")
    else:
        value = -margin(logits, y)
    return -value if targeted else value


def loss_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss: str = "ce",
                  targeted: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(∂L/∂x, L) for the attacker's per-sample loss L, every image at once."""
    x = x.detach().requires_grad_(True)
    value = attacker_loss(model(x), y, loss, targeted)
    (grad,) = torch.autograd.grad(value.sum(), x)
    return grad, value.detach()


def best_of(attack: Callable[[], torch.Tensor], tries: int, model: nn.Module, y: torch.Tensor,
            loss: str = "ce", targeted: bool = False) -> torch.Tensor:
    """The strongest of ``tries`` runs of a randomised ``attack()`` (restarts), per image: a success
    beats a failure, then the higher attacker's loss wins (ties keep the earlier run)."""
    best = attack().clone()
    if tries == 1:  # nothing to compare with: skip the extra evaluation
        return best

    def strength(x_adv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            logits = model(x_adv)
        fooled = (logits.argmax(1) == y) if targeted else (logits.argmax(1) != y)
        return fooled, attacker_loss(logits, y, loss, targeted)

    best_fooled, best_loss = strength(best)
    for _ in range(tries - 1):
        x_adv = attack()
        fooled, value = strength(x_adv)
        better = (fooled & ~best_fooled) | ((fooled == best_fooled) & (value > best_loss))
        best[better], best_fooled[better], best_loss[better] = x_adv[better], fooled[better], value[better]
    return best
