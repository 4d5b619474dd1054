"""Robust accuracy by the worst case over several attacks, per image (as AutoAttack reports it), and the
course's strong evaluation built on it (``robust_accuracy``: APGD-CE, APGD-DLR and PGD with restarts)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import nn

from helpers._checks import (
    batched,
    check_images,
    check_labels,
    check_model,
    check_positive,
    frozen,
    model_device,
    num_classes,
)
from helpers.attacks.auto_pgd import apgd
from helpers.attacks.whitebox import pgd

Attack = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


def worst_case(model: nn.Module, x: torch.Tensor, y: int | torch.Tensor, attacks: Mapping[str, Attack],
               ) -> tuple[torch.Tensor, dict[str, float]]:
    """Attack every image with each of ``attacks`` in turn (``attack(model, x, y) -> x_adv``), each one only
    on the images that all the previous ones failed on; an image is robust only if every attack fails:

        robust accuracy = 1/N Σ_i 1[ f(x_i′) = y_i for every attack's x_i′ ]

    Returns (x_adv, accuracy): per image the first successful example (else the last attack's output), and
    the accuracy left after each attack, cumulatively — ``accuracy["clean"]`` first, the last entry the
    worst case. Which attack does the work shows which one the model's defense fooled the others with.
    """
    check_model(model)
    check_images(x, model=model)
    x = x.detach()
    if not attacks:
        raise ValueError("attacks must name at least one attack")
    with torch.no_grad(), frozen(model):
        y = check_labels(y, x.shape[0], "y", num_classes=num_classes(model, x)).to(x.device)
        standing = model(x).argmax(1) == y
    x_adv = x.clone()
    accuracy = {"clean": standing.float().mean().item()}
    for name, attack in attacks.items():
        left = torch.nonzero(standing).squeeze(1)
        if len(left):
            found = attack(model, x[left], y[left])
            with torch.no_grad(), frozen(model):
                still = model(found).argmax(1) == y[left]
            x_adv[left] = found
            standing[left[~still]] = False
        accuracy[name] = standing.float().mean().item()
    return x_adv, accuracy


# The strong evaluation's attacks (robust_attacks); MODELS.md reports the zoo's robust accuracy with them.
ROBUST_SETTING = {"apgd_steps": 100, "steps": 50, "restarts": 5, "loss": "margin"}


def robust_attacks(eps: float) -> dict[str, Attack]:
    """The strong evaluation at L∞ radius ε, in the order run: APGD-CE and APGD-DLR (Croce & Hein 2020,
    100 steps each, the first two attacks of AutoAttack), then PGD-50 with steps of ε/10 from 5 random starts
    and the margin loss. Each call of an attack draws its random starts from a generator seeded 0."""
    check_positive(eps, "eps")
    setting = ROBUST_SETTING

    def apgd_ce(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return apgd(model, x, y, eps=eps, steps=setting["apgd_steps"], loss="ce", generator=_seeded())

    def apgd_dlr(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return apgd(model, x, y, eps=eps, steps=setting["apgd_steps"], loss="dlr", generator=_seeded())

    def pgd_margin(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return pgd(model, x, y, eps=eps, alpha=eps / 10, steps=setting["steps"], restarts=setting["restarts"],
                   loss=setting["loss"], generator=_seeded())

    return {"APGD-CE": apgd_ce, "APGD-DLR": apgd_dlr, "PGD-margin": pgd_margin}


def _seeded() -> torch.Generator:
    return torch.Generator().manual_seed(0)


def robust_accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, eps: float) -> float:
    """Accuracy under the strong evaluation (``robust_attacks``) at L∞ radius ε: an image counts as robust
    only if APGD-CE, APGD-DLR and every restart of PGD-margin all fail on it (``worst_case``, per image),

        robust accuracy = 1/N Σ_i 1[ f(x_i′) = y_i for every attack's x_i′ ].

    The images are attacked 250 at a time, on the model's device."""
    check_model(model)
    check_images(images, "images", model=model)
    labels = check_labels(labels, images.shape[0], "labels", num_classes=num_classes(model, images))
    check_positive(eps, "eps")
    device = model_device(model)

    def robust_count(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # the robust images of a chunk
        _, accuracy = worst_case(model, x.to(device), y.to(device), robust_attacks(eps))
        return torch.tensor([accuracy["PGD-margin"] * len(x)], dtype=torch.float64)  # the worst case's entry

    return sum(batched(robust_count, images, labels, batch_size=250).tolist()) / len(images)


__all__ = ["worst_case", "robust_attacks", "robust_accuracy", "ROBUST_SETTING"]
