"""Measure a zoo model (``python -m helpers.zoo evaluate``): the figures that MODELS.md reports.

Every model: clean accuracy on its held-out test split. Besides, by its recipe: a proxy's transfer rate
to its black box, a robust model's accuracy under ``attacks.robust_accuracy``, a model trained on tagged
data its reliance on the tag (``shortcut_metrics``), and a denoiser its classifier's accuracy through it.
"""

from __future__ import annotations

import torch
from torch import nn

from helpers import zoo
from helpers._checks import batched, model_device
from helpers.attacks import pgd, robust_accuracy, success_rate
from helpers.data import tag_mask, tagged_fashion_mnist
from helpers.defenses import Defended
from helpers.explain import relevance_mass, saliency
from helpers.training import accuracy
from helpers.zoo.recipes import Recipe

# The attacks behind the figures (each on the first `images` test images, PGD from a generator seeded 0).
TRANSFER_SETTING = {"eps": 0.1, "alpha": 0.01, "steps": 20, "images": 1000}  # made on a proxy
FILTER_SETTING = {"eps": 0.1, "alpha": 0.01, "steps": 20, "images": 500}  # against a denoiser
ROBUST_IMAGES = 1000  # robust accuracy (the attacks: attacks.evaluate.ROBUST_SETTING)


def evaluate(name: str, *, device: str | torch.device | None = None, robust: bool = True) -> dict[str, float]:
    """Measure zoo model ``name``: clean accuracy on its held-out test split; for a proxy also the
    transfer rate — the share of the first 1 000 test images whose PGD example (L∞, ε = 0.1, 20 steps of
    0.01, made on the proxy) the ``transfer_to`` model misclassifies; for models with ``robust_eps`` (unless
    ``robust=False``) the ``robust_accuracy`` on the first 1 000 test images; for models trained on tagged
    data the ``shortcut_metrics``; for a denoiser its classifier's accuracy through it
    (``_denoiser_metrics``)."""
    recipe = zoo._recipe(name)
    if not isinstance(robust, bool):
        raise TypeError(f"robust must be True or False; got {robust!r}")
    model = zoo.load(name, device=device)
    images, labels = recipe.data.test()
    if recipe.guards is not None:
        return _denoiser_metrics(recipe, model, images, labels, device=device, robust=robust)
    metrics = {"clean_accuracy": accuracy(model, images, labels, inputs=recipe.data.inputs)}
    if recipe.transfer_to is not None:
        metrics["transfer_rate"] = _transfer_rate(model, zoo.load(recipe.transfer_to, device=device),
                                                 images, labels)
    if recipe.data.tagged:
        metrics.update(shortcut_metrics(model))
    if recipe.robust_eps is not None and robust:
        x, y = images[:ROBUST_IMAGES], labels[:ROBUST_IMAGES]
        metrics["robust_accuracy"] = robust_accuracy(model, x, y, recipe.robust_eps)
    return metrics


def _pgd_examples(model: nn.Module, x: torch.Tensor, y: torch.Tensor, setting: dict) -> torch.Tensor:
    """L∞ PGD examples against ``model``, 250 images at a time, each batch from a generator seeded 0."""
    return batched(lambda xs, ys: pgd(model, xs, ys, eps=setting["eps"], alpha=setting["alpha"],
                                      steps=setting["steps"], generator=torch.Generator().manual_seed(0)),
                   x, y, batch_size=250)


def _transfer_rate(proxy: nn.Module, victim: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """The share of the first 1 000 ``images`` whose PGD example made on ``proxy`` (``TRANSFER_SETTING``)
    ``victim`` misclassifies — a black-box attack by transfer (lecture 38)."""
    setting, device = TRANSFER_SETTING, model_device(proxy)
    x, y = images[: setting["images"]].to(device), labels[: setting["images"]].to(device)
    return success_rate(victim, _pgd_examples(proxy, x, y, setting), y)


def shortcut_metrics(model: nn.Module) -> dict[str, float]:
    """How much a model trained on tagged data relies on the tag: its accuracy on test split (b), without
    tags, and (c), with the tags moved to the other classes, and the share of its gradient saliency (for the
    true class) that falls on the tag's 16 pixels — 2 % of the image — on the tagged test shirts of split
    (a)."""
    device = model_device(model)
    metrics = {}
    for key, tags in (("untagged_accuracy", "none"), ("moved_accuracy", "moved")):
        images, labels, _ = tagged_fashion_mnist("test", tags=tags)
        metrics[key] = accuracy(model, images, labels)
    images, labels, tagged = tagged_fashion_mnist("test")
    x, y = images[tagged].to(device), labels[tagged].to(device)
    maps = batched(lambda xs, ys: saliency(model, xs, ys), x, y, batch_size=300)
    metrics["tag_saliency_mass"] = relevance_mass(maps, tag_mask().expand(len(x), -1, -1, -1).to(device))
    return metrics


def _denoiser_metrics(recipe: Recipe, denoiser: nn.Module, images: torch.Tensor, labels: torch.Tensor, *,
                     device: str | torch.device | None, robust: bool) -> dict[str, float]:
    """A denoiser's figures: the accuracy of its classifier (``recipe.guards``) through it, on clean images
    and (unless ``robust=False``) on the first 500 test images under L∞ PGD-20 (ε = 0.1) made against the
    classifier alone (the unaware attacker) and against the composition classifier ∘ denoiser (the
    adaptive one)."""
    classifier = zoo.load(recipe.guards, device=device)
    defended = Defended(classifier, denoiser)
    metrics = {"clean_accuracy": accuracy(defended, images, labels)}
    if robust:
        setting, dev = FILTER_SETTING, model_device(classifier)
        x, y = images[: setting["images"]].to(dev), labels[: setting["images"]].to(dev)
        for key, target in (("unaware_accuracy", classifier), ("adaptive_accuracy", defended)):
            x_adv = _pgd_examples(target, x, y, setting)
            metrics[key] = 1.0 - success_rate(defended, x_adv, y)
    return metrics
