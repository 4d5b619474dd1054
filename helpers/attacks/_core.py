"""What every white-box attack shares: the contract, the margin, the attacker's loss, PGD's loop, restarts."""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from helpers._checks import check_choice
from helpers._contract import contract
from helpers.attacks.norms import _per_sample, clip_box, project_l2, project_linf

LOSSES = ("ce", "margin")


def attack(method: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """Turn ``method(model, x, y, **options)`` into a public attack under ``helpers._contract``: check
    ``x`` (images in [0, 1]) and ``y`` (an int or int64 labels of shape N within the model's classes;
    with ``targeted=True`` the target classes), run with the model in eval mode and its parameters
    frozen (both restored afterwards) and return a detached ``x_adv``. Options annotated ``bool``
    (``targeted``, …) must be True or False."""
    run = contract(method, "y")

    @functools.wraps(method)
    def public(model: nn.Module, x: torch.Tensor, y: int | torch.Tensor, **options) -> torch.Tensor:
        return run(model, x, y, options)

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


Loss = str | Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def check_loss(loss: object) -> Loss:
    """``"ce"``, ``"margin"`` or a callable ``(logits, y) -> per-sample loss``."""
    return loss if callable(loss) else check_choice(loss, "loss", LOSSES)


def attacker_loss(logits: torch.Tensor, y: torch.Tensor, loss: Loss, targeted: bool) -> torch.Tensor:
    """The per-sample loss the attacker *increases*: CE, C&W's margin loss −margin, or the callable
    ``loss(logits, y)``, away from y (untargeted), or their negatives — towards the target y
    (targeted)."""
    if callable(loss):
        value = loss(logits, y)
    elif loss == "ce":
        value = F.cross_entropy(logits, y, reduction="none")
    else:
        value = -margin(logits, y)
    return -value if targeted else value


def loss_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss: Loss = "ce",
                  targeted: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(∂L/∂x, L) for the attacker's per-sample loss L, every image at once."""
    x = x.detach().requires_grad_(True)
    value = attacker_loss(model(x), y, loss, targeted)
    (grad,) = torch.autograd.grad(value.sum(), x)
    return grad, value.detach()


def best_of(attack: Callable[[], torch.Tensor], tries: int, model: nn.Module, y: torch.Tensor,
            loss: Loss = "ce", targeted: bool = False) -> torch.Tensor:
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


def l2_normalize(g: torch.Tensor) -> torch.Tensor:
    """g / ‖g‖₂ per sample (0 stays 0)."""
    return g / g.flatten(1).norm(dim=1).clamp_min(1e-12).view(_per_sample(g))


def pgd_steps(model: nn.Module, x: torch.Tensor, x_adv: torch.Tensor, y: torch.Tensor, *, eps: float,
              alpha: float, steps: int, norm: str = "inf", loss: Loss = "ce",
              targeted: bool = False) -> torch.Tensor:
    """``pgd``'s loop from the starting point ``x_adv``, without checks (the model already frozen):

        x_{t+1} = Π_{ε-ball(x), [0,1]}( x_t + α · sign(∇L) )      (L2: α · ∇L / ‖∇L‖₂)
    """
    project = project_linf if norm == "inf" else project_l2
    for _ in range(steps):
        grad, _ = loss_gradient(model, x_adv, y, loss, targeted)
        step = grad.sign() if norm == "inf" else l2_normalize(grad)
        x_adv = clip_box(x + project(x_adv + alpha * step - x, eps))
    return x_adv
