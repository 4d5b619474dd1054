"""Proactive defenses (lecture 40): train the network on the attacks it will meet.

The lecture's algorithm: for T rounds, attack every training image with the current model, add the
adversarial images (with their true labels) to the training set, and train again. Madry et al. (2018)
turned it into min–max training, one fresh PGD example per image per step; Wong et al. (2020) showed
that a single FGSM step from a random start suffices if one watches for catastrophic overfitting;
TRADES (Zhang et al. 2019) trades accuracy for robustness with an explicit KL term.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from helpers._checks import (
    batched,
    check_bool,
    check_callable,
    check_generator,
    check_images,
    check_int,
    check_labels,
    check_model,
    check_positive,
    frozen,
    modes_kept,
    noisy_inputs,
    num_classes,
    own_generator,
    shape_or_type,
)
from helpers.attacks._core import loss_gradient, pgd_steps
from helpers.attacks.norms import clip_box, project_linf
from helpers.training import _accuracy, _cross_entropy, _fit, model_device, train

Attack = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


def _check_training(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    check_model(model)
    check_images(images, "images", model=model)
    return check_labels(labels, images.shape[0], "labels", num_classes=num_classes(model, images))


def adversarial_training(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    attack: Attack,
    rounds: int,
    epochs_per_round: int = 1,
    lr: float = 1e-3,
    batch_size: int = 128,
    attack_batch_size: int = 1000,
    on_round: Callable[[int, nn.Module], dict[str, float]] | None = None,
    generator: torch.Generator | None = None,
    progress: bool = True,
) -> list[dict[str, float]]:
    """The lecture's T-round algorithm: for t = 1 … ``rounds``, attack every training image with the
    *current* model, ``x̃ = attack(model, x, y)``, add (x̃, y) to the training set — which thus grows by one
    adversarial copy of the data per round — and train ``epochs_per_round`` epochs on everything so far.

    ``attack(model, x, y) -> x_adv`` is any attack of ``helpers.attacks`` with its options bound, e.g.
    ``lambda m, x, y: fgsm(m, x, y, eps=0.1)``. Updates ``model`` in place; returns per round the share
    of that round's training images the attack fooled *before* the round's training, plus whatever
    ``on_round(round, model)`` measures after it (e.g. robust accuracy on test images).
    With ``generator=None`` the randomness comes from torch's global RNG.
    """
    labels = _check_training(model, images, labels)
    check_callable(attack, "attack", "(model, x, y) -> x_adv")
    check_int(rounds, "rounds")
    check_int(epochs_per_round, "epochs_per_round")
    check_positive(lr, "lr")
    check_int(batch_size, "batch_size")
    check_int(attack_batch_size, "attack_batch_size")
    if on_round is not None:
        check_callable(on_round, "on_round", "(round, model) -> dict")
    check_generator(generator)
    check_bool(progress, "progress")
    g = own_generator(generator)
    device = model_device(model)
    data, targets, history = images, labels, []
    with modes_kept(model):  # whatever the attack or on_round do, every submodule's mode comes back
        for _ in range(rounds):
            adversarial = batched(lambda x, y: _attacked(attack, model, x.to(device), y.to(device)),
                                  images, labels, batch_size=attack_batch_size).to(images.device)
            history.append({"fooled before training": 1.0 - _accuracy(model, adversarial, labels)})
            data, targets = torch.cat([data, adversarial]), torch.cat([targets, labels])
            _fit(model, data, targets, epochs=epochs_per_round, lr=lr, batch_size=batch_size,
                 weight_decay=0.0, loss_fn=_cross_entropy, epoch_end=None, generator=g, progress=progress,
                 outputs="logits")
            if on_round is not None:
                history[-1].update(on_round(len(history), model))
    return history


def _attacked(attack: Attack, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``attack(model, x, y)``, which must return images shaped like ``x`` in [0, 1]."""
    x_adv = attack(model, x, y)
    if not isinstance(x_adv, torch.Tensor) or x_adv.shape != x.shape:
        got = shape_or_type(x_adv)
        raise ValueError(f"attack must return x_adv shaped like its input {tuple(x.shape)}; got {got}")
    return check_images(x_adv.detach(), "attack(model, x, y)", model=model)


def _uniform_start(x: torch.Tensor, eps: float) -> torch.Tensor:
    """PGD's random start: a uniform point of the ε-box around ``x``, in [0, 1] (torch's global RNG)."""
    return clip_box(x + (torch.rand(x.shape, device=x.device, dtype=x.dtype) * 2 - 1) * eps)


def pgd_training(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    eps: float,
    alpha: float,
    steps: int,
    epochs: int,
    lr: float = 1e-3,
    batch_size: int = 128,
    generator: torch.Generator | None = None,
    progress: bool = True,
) -> list[float]:
    """PGD adversarial training (Madry et al. 2018): minimise  E max_{‖δ‖∞ ≤ ε} CE(f(x + δ), y)  by
    training every step on a fresh L∞ PGD example (random start, ``steps`` steps of ``alpha``) of each
    batch image, made with the current weights. Returns the loss per epoch.
    With ``generator=None`` the randomness comes from torch's global RNG."""
    _check_training(model, images, labels)
    check_positive(eps, "eps")
    check_positive(alpha, "alpha")
    check_int(steps, "steps")

    def robust_loss(m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with frozen(m):  # the attack runs in eval mode; m's modes come back for the training step
            x_adv = pgd_steps(m, x, _uniform_start(x, eps), y, eps=eps, alpha=alpha, steps=steps)
        return F.cross_entropy(m(x_adv), y)

    return train(model, images, labels, epochs=epochs, lr=lr, batch_size=batch_size, loss_fn=robust_loss,
                 generator=generator, progress=progress)


def fast_training(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    eps: float,
    epochs: int,
    alpha: float | None = None,
    lr: float = 1e-3,
    batch_size: int = 128,
    check_set: tuple[torch.Tensor, torch.Tensor] | None = None,
    generator: torch.Generator | None = None,
    progress: bool = True,
) -> list[float]:
    """"Fast is better than free" (Wong, Rice & Kolter 2020): adversarial training with one FGSM step of
    α = 1.25 ε from a uniform random start in the ε-box, projected back onto the box.

    Single-step training can suddenly collapse — *catastrophic overfitting*: the model learns to mask
    the FGSM direction and its PGD accuracy falls to ~0. After every epoch the PGD-10 accuracy (L∞, a random
    start, steps of ε/4) on ``check_set`` = (images, labels) (default: the first 256 training images)
    is measured; if it falls by more than 20 points below its best, training stops and the best weights
    are restored.
    Returns the loss per epoch.
    With ``generator=None`` the randomness comes from torch's global RNG.
    """
    labels = _check_training(model, images, labels)
    check_positive(eps, "eps")
    step = 1.25 * eps if alpha is None else check_positive(alpha, "alpha")
    if check_set is None:
        check_x, check_y = images[:256], labels[:256]
    elif not (isinstance(check_set, (tuple, list)) and len(check_set) == 2):
        raise TypeError(f"check_set must be a pair (images, labels); got {type(check_set).__name__}")
    else:
        check_x = check_images(check_set[0], "check_set[0]", model=model)
        check_y = check_labels(check_set[1], check_x.shape[0], "check_set[1]",
                               num_classes=num_classes(model, check_x))
    device = model_device(model)
    best = {"accuracy": -1.0, "state": None}

    def fgsm_rs_loss(m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        start = clip_box(x + (torch.rand_like(x) * 2 - 1) * eps)
        with frozen(m):  # FGSM in eval mode, as ``attacks.fgsm`` runs it
            grad, _ = loss_gradient(m, start, y)
        x_adv = clip_box(x + project_linf(clip_box(start + step * grad.sign()) - x, eps))
        return F.cross_entropy(m(x_adv), y)

    def watch(epoch: int, m: nn.Module) -> bool:
        xs, ys = check_x.to(device), check_y.to(device)
        with frozen(m):
            x_adv = pgd_steps(m, xs, _uniform_start(xs, eps), ys, eps=eps, alpha=eps / 4, steps=10)
        robust = _accuracy(m, x_adv, ys)
        if robust > best["accuracy"]:
            best["accuracy"], best["state"] = robust, copy.deepcopy(m.state_dict())
            return False
        if robust < best["accuracy"] - 0.2:
            m.load_state_dict(best["state"])
            return True
        return False

    return train(model, images, labels, epochs=epochs, lr=lr, batch_size=batch_size, loss_fn=fgsm_rs_loss,
                 epoch_end=watch, generator=generator, progress=progress)


def noise_training(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    sigma: float,
    epochs: int,
    lr: float = 1e-3,
    batch_size: int = 128,
    generator: torch.Generator | None = None,
    progress: bool = True,
) -> list[float]:
    """Gaussian data augmentation, x + N(0, σ²) (not clipped), the base classifier of randomized smoothing
    (Cohen et al. 2019): a model that is accurate under noise makes a smoothed classifier that is
    accurate and certifiable. Returns the loss per epoch.
    With ``generator=None`` the randomness comes from torch's global RNG."""
    _check_training(model, images, labels)
    check_positive(sigma, "sigma")

    def noisy_loss(m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with noisy_inputs():  # the noise is ours, not the user's
            return F.cross_entropy(m(x + sigma * torch.randn_like(x)), y)

    return train(model, images, labels, epochs=epochs, lr=lr, batch_size=batch_size, loss_fn=noisy_loss,
                 generator=generator, progress=progress)


def trades(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    eps: float,
    alpha: float,
    steps: int,
    epochs: int,
    beta: float = 6.0,
    lr: float = 1e-3,
    batch_size: int = 128,
    generator: torch.Generator | None = None,
    progress: bool = True,
) -> list[float]:
    """TRADES (Zhang et al. 2019):  CE(f(x), y) + β · KL( p(x) ‖ p(x′) ),  with x′ maximising the KL term
    inside the ε-box by PGD from a small random start (0.001·N(0, 1), as in the paper). β trades clean
    accuracy for robustness. Returns the loss per epoch.
    With ``generator=None`` the randomness comes from torch's global RNG."""
    _check_training(model, images, labels)
    check_positive(eps, "eps")
    check_positive(alpha, "alpha")
    check_int(steps, "steps")
    check_positive(beta, "beta", allow_zero=True)

    def trades_loss(m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with frozen(m):  # the attack runs in eval mode; m's modes come back for the training step
            with torch.no_grad():
                clean_probs = m(x).softmax(1)

            def kl(logits: torch.Tensor, _: torch.Tensor) -> torch.Tensor:  # KL(p(x) ‖ p(x′)) per image
                return F.kl_div(logits.log_softmax(1), clean_probs, reduction="none").flatten(1).sum(1)

            start = clip_box(x + 0.001 * torch.randn_like(x))
            x_adv = pgd_steps(m, x, start, y, eps=eps, alpha=alpha, steps=steps, loss=kl)
        logits = m(x)
        robust = F.kl_div(m(x_adv).log_softmax(1), logits.softmax(1), reduction="batchmean")
        return F.cross_entropy(logits, y) + beta * robust

    return train(model, images, labels, epochs=epochs, lr=lr, batch_size=batch_size, loss_fn=trades_loss,
                 generator=generator, progress=progress)


__all__ = ["adversarial_training", "pgd_training", "fast_training", "noise_training", "trades"]
