"""The two homework assignments' fixed data and reference solutions (the answer key of ``grading``).

- Homework 5 (``notebooks/hw5_explain.ipynb``): explain the zoo CNN with five methods, measure them
  with deletion and the pointing game, and answer questions about the results.
- Homework 6 (``notebooks/hw6_attack.ipynb``): attack the zoo's black box ``fmnist_blackbox`` within an
  L∞ budget of ``HW6_LEVELS`` grey levels, submitted as 8-bit images; ``grading.judge`` compares a
  submission with the baselines below, each made by the reference solution on the same images.

Everything here is deterministic: the images are fixed slices of the test splits and every random
draw comes from a seeded generator.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from helpers import zoo
from helpers._checks import check_images, check_labels, check_model, num_classes
from helpers.attacks import BlackBox, ensemble, fgsm, ifgsm, mifgsm
from helpers.data import fashion_mnist, shapes_split
from helpers.explain import (
    auc,
    deletion_curve,
    grad_cam,
    integrated_gradients,
    lrp,
    pointing_game,
    saliency,
    smoothgrad,
)
from helpers.models import fashion_blackbox
from helpers.runtime import device

HW5_METHODS = ("saliency", "SmoothGrad", "integrated gradients", "LRP ε-γ-box", "Grad-CAM")
HW6_LEVELS = 12  # the budget in grey levels of an 8-bit image
HW6_EPS = HW6_LEVELS / 255
HW6_QUERIES = 300  # black-box queries allowed per image


@dataclass(frozen=True)
class HW5Data:
    model: nn.Module  # the zoo's fmnist_cnn
    x: torch.Tensor  # 24 Fashion-MNIST test images
    y: torch.Tensor
    shapes_model: nn.Module  # the zoo's shapes_cnn
    sx: torch.Tensor  # 64 shapes test images, their labels and object masks
    sy: torch.Tensor
    smasks: torch.Tensor


def hw5_data() -> HW5Data:
    """Homework 5's models and images, on ``runtime.device()``."""
    dev = device()
    images, labels = fashion_mnist("test")
    sx, sy, smasks = shapes_split("test", 64)
    return HW5Data(zoo.load("fmnist_cnn", device=dev), images[:24].to(dev), labels[:24].to(dev),
                   zoo.load("shapes_cnn", device=dev), sx.to(dev), sy.to(dev), smasks.to(dev))


def hw5_explain(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                cam_layer: nn.Module) -> dict[str, torch.Tensor]:
    """The reference explanations, with the settings the homework prescribes."""
    check_model(model)
    check_images(x, model=model)
    check_labels(y, x.shape[0], "y", num_classes=num_classes(model, x))
    return {
        "saliency": saliency(model, x, y),
        "SmoothGrad": smoothgrad(model, x, y, n=16, noise_level=0.15,
                                 generator=torch.Generator().manual_seed(0)),
        "integrated gradients": integrated_gradients(model, x, y, steps=32),
        "LRP ε-γ-box": lrp(model, x, y, composite="epsilon_gamma_box"),
        "Grad-CAM": grad_cam(model, x, y, layer=cam_layer),
    }


@functools.cache
def hw5_reference() -> dict[str, object]:
    """The answer key of homework 5: explanations, mean deletion AUCs, pointing-game scores, answers.

    Each answer is graded under a stated metric: deletion to black (``fill=0.0``, the default) and the
    pointing game without tolerance. (To the data set's mean grey, or with a 1-pixel tolerance, other
    methods win: the homework has the student measure that for the written question.) The two named
    answers are unique extremes on the CPU (IG's deletion AUC 0.21 against ≥ 0.35 for the others;
    saliency's pointing game 0.31 against ≥ 0.61), so they do not hinge on rounding."""
    data = hw5_data()
    maps = hw5_explain(data.model, data.x, data.y, data.model[5])
    deletion = {name: auc(deletion_curve(data.model, data.x, data.y, m)).mean().item()
                for name, m in maps.items()}
    shape_maps = hw5_explain(data.shapes_model, data.sx, data.sy, data.shapes_model[8])
    pointing = {name: pointing_game(m, data.smasks) for name, m in shape_maps.items()}
    return {
        "hw5_explanations": {name: m.cpu() for name, m in maps.items()},
        "hw5_deletion": deletion,
        "hw5_most_faithful": min(deletion, key=deletion.get),
        "hw5_pointing": pointing,
        "hw5_worst_pointer": min(pointing, key=pointing.get),
    }


@dataclass(frozen=True)
class HW6Data:
    x: torch.Tensor  # 128 Fashion-MNIST test images (the originals, exact multiples of 1/255)
    y: torch.Tensor
    eps: float  # HW6_LEVELS / 255
    blackbox: BlackBox  # the victim: probabilities only, no gradients, HW6_QUERIES per image in all


# An instructor grades against a private black box that students never had: a checkpoint of the
# fmnist_blackbox architecture trained with another seed (``python -m helpers.zoo train fmnist_blackbox
# --seed S --out PATH``), named by this environment variable. Without it the practice box of the zoo is used.
HW6_BLACKBOX_ENV = "HELPERS_HW6_BLACKBOX"
HW6_BASELINE_SEEDS = (0, 1, 2, 3, 4)  # the strong baseline's randomness, over which its pass line is taken


def _hw6_images() -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = fashion_mnist("test")
    return images[1000:1128], labels[1000:1128]  # not the images the lecture notebooks attack


def hw6_blackbox_path() -> str | None:
    """The private black box's checkpoint (``$HELPERS_HW6_BLACKBOX``), or None for the zoo's practice box."""
    path = os.environ.get(HW6_BLACKBOX_ENV) or None
    if path is not None and not Path(path).is_file():
        raise FileNotFoundError(f"${HW6_BLACKBOX_ENV} names {path!r}, which is not a file; train one with "
                                "`python -m helpers.zoo train fmnist_blackbox --seed S --out PATH`")
    return path


@functools.cache
def _hw6_victim(path: str | None) -> nn.Module:
    """The model behind homework 6's black box, on the CPU: the private checkpoint at ``path``, or the
    zoo's ``fmnist_blackbox``."""
    if path is None:
        return zoo.load("fmnist_blackbox", device="cpu")
    model = fashion_blackbox()
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


class HW6BlackBox(BlackBox):
    """Homework 6's black box: one per Python process and per victim, so that its query counter is shared
    by ``hw6_data()`` (however often it is called) and ``grading.judge``, and it only ever goes up."""

    @property
    def queries(self) -> int:
        return self._spent

    @queries.setter
    def queries(self, value: int) -> None:
        if value < getattr(self, "_spent", 0):
            raise AttributeError(f"the homework's query counter cannot be reset: {self._spent} of "
                                 f"{self.budget} queries are spent in this session")
        self._spent = value


@functools.cache
def _hw6_blackbox(path: str | None) -> HW6BlackBox:
    return HW6BlackBox(_hw6_victim(path), budget=HW6_QUERIES * len(_hw6_images()[0]))


def hw6_blackbox() -> HW6BlackBox:
    """The session's counted black box (the private one where ``$HELPERS_HW6_BLACKBOX`` names it)."""
    return _hw6_blackbox(hw6_blackbox_path())


def hw6_data() -> HW6Data:
    """Homework 6's images, on ``runtime.device()``, and the session's black box. Calling it again returns
    the same black box, its queries still counted: the budget is for the whole session."""
    dev = device()
    x, y = _hw6_images()
    return HW6Data(x.to(dev), y.to(dev), HW6_EPS, hw6_blackbox())


def to_uint8_and_back(x: torch.Tensor) -> torch.Tensor:
    """What a submitted PNG holds: pixels rounded to the nearest of the 256 grey levels."""
    check_images(x)
    return torch.round(x * 255).to(torch.uint8).to(x.dtype) / 255


@functools.cache
def hw6_baselines(path: str | None = None,
                  seeds: tuple[int, ...] = HW6_BASELINE_SEEDS) -> dict[str, list[float]]:
    """The victim's accuracy (after the uint8 round trip) on the reference solution's three baselines —
    simple: FGSM on the proxy; medium: I-FGSM on the proxy; strong: MI-FGSM with input diversity on the
    ensemble of the proxy and ``fmnist_cnn`` — all within the homework's budget, made without querying
    the black box. The victim is the checkpoint at ``path`` (None: the zoo's practice box). FGSM and
    I-FGSM are deterministic: one figure each; the strong baseline's random input diversity is drawn once
    per seed in ``seeds``, one figure each."""
    x, y = _hw6_images()
    proxy = zoo.load("fmnist_proxy", device="cpu")
    both = ensemble([proxy, zoo.load("fmnist_cnn", device="cpu")])
    victim = _hw6_victim(path)
    eps = HW6_EPS
    made = {
        "simple": [fgsm(proxy, x, y, eps=eps)],
        "medium": [ifgsm(proxy, x, y, eps=eps, alpha=eps / 10, steps=20)],
        "strong": [mifgsm(both, x, y, eps=eps, alpha=eps / 10, steps=20, diversity_prob=0.7,
                          generator=torch.Generator().manual_seed(seed)) for seed in seeds],
    }

    def accuracy(x_adv: torch.Tensor) -> float:  # the victim's, on the images as a PNG would store them
        return (victim(to_uint8_and_back(x_adv)).argmax(1) == y).float().mean().item()

    with torch.no_grad():
        return {name: [accuracy(x_adv) for x_adv in runs] for name, runs in made.items()}


def hw6_pass_lines(path: str | None = None) -> dict[str, float]:
    """The accuracy a submission must get *below* to beat each baseline: the lowest the baseline reached
    over its seeds, so that no draw of the baseline's own randomness beats it."""
    return {name: min(runs) for name, runs in hw6_baselines(path).items()}


__all__ = ["HW5_METHODS", "HW6_EPS", "HW6_LEVELS", "HW6_QUERIES", "HW6_BLACKBOX_ENV", "HW6_BASELINE_SEEDS",
           "HW6BlackBox", "hw5_data", "hw5_explain", "hw5_reference", "hw6_baselines", "hw6_blackbox",
           "hw6_blackbox_path", "hw6_data", "hw6_pass_lines", "to_uint8_and_back"]
