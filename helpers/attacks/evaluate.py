"""Robust accuracy by the worst case over several attacks, per image (as AutoAttack reports it)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import nn

from helpers._checks import check_images, check_labels, check_model, frozen, num_classes

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


__all__ = ["worst_case"]
