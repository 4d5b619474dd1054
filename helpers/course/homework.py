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
from types import SimpleNamespace

import torch
from torch import nn

from helpers import zoo
from helpers._checks import check_images, check_labels, check_model, num_classes
from helpers.attacks import BlackBox, ensemble, fgsm, ifgsm, mifgsm
from helpers.course.hw6_client import SERVER_ENV, RemoteBlackBox
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
# --seed S --out PATH``), served from another process (``python -m helpers.course.hw6_server --checkpoint PATH
# --port 0``), whose address this environment variable gives. Without it the zoo's practice box is used.
HW6_SERVER_ENV = SERVER_ENV
HW6_BASELINE_SEEDS = (0, 1, 2, 3, 4)  # the strong baseline's randomness, over which its pass line is taken


# Recorded, not computed here: ``scripts/hw6_private_boxes.py`` on the practice box and on three private
# boxes (the fmnist_blackbox recipe, 8 epochs, with seeds 101, 102 and 103). Per box, its accuracy with no
# attack, under the simple and medium baselines, the strong one's (lowest, highest) over HW6_BASELINE_SEEDS,
# and the reference solution's (transferred examples, then + Square from them).
HW6_MEASURED = {
    "practice (the zoo's)": (0.930, 0.797, 0.727, (0.531, 0.578), (0.531, 0.336)),
    "private, seed 101": (0.930, 0.781, 0.703, (0.578, 0.578), (0.578, 0.438)),
    "private, seed 102": (0.938, 0.781, 0.727, (0.547, 0.578), (0.547, 0.359)),
    "private, seed 103": (0.930, 0.773, 0.695, (0.578, 0.594), (0.578, 0.422)),
}


def hw6_images() -> tuple[torch.Tensor, torch.Tensor]:
    """Homework 6's 128 images and their labels, on the CPU: a fixed slice of Fashion-MNIST's test split."""
    images, labels = fashion_mnist("test")
    return images[1000:1128], labels[1000:1128]  # not the images the lecture notebooks attack


@functools.cache
def _hw6_practice_victim() -> nn.Module:
    """The model behind homework 6's practice box, on the CPU: the zoo's ``fmnist_blackbox``."""
    return zoo.load("fmnist_blackbox", device="cpu")


# The practice box's query count: owned by this module, not by a box or a cache, so that only a new
# process starts it again at zero.
_PRACTICE_TALLY = SimpleNamespace(spent=0)


class HW6BlackBox(BlackBox):
    """Homework 6's practice box in the student's own process: the zoo's ``fmnist_blackbox`` behind a
    budget of ``HW6_QUERIES`` per image. Every instance shares one counter, so ``hw6_data()`` (however
    often it is called), ``grading.judge`` and a rebuilt box all count against the same budget."""

    def __init__(self, model: nn.Module, *, output: str = "probs", budget: int | None = None) -> None:
        super().__init__(model, output=output, budget=budget)
        self._tally = _PRACTICE_TALLY


@functools.cache
def _hw6_practice_box() -> HW6BlackBox:
    return HW6BlackBox(_hw6_practice_victim(), budget=HW6_QUERIES * len(hw6_images()[0]))


def hw6_blackbox() -> BlackBox:
    """Homework 6's black box: a client of the private box's server where ``$HELPERS_HW6_SERVER`` gives its
    address (the model, the count and the budget live in the server's process), else the practice box."""
    if os.environ.get("HELPERS_HW6_BLACKBOX"):
        raise RuntimeError("$HELPERS_HW6_BLACKBOX is no longer read: a private box inside the student's "
                           "process is not black. Serve it instead — `python -m helpers.course.hw6_server "
                           f"--checkpoint PATH --port 0` — and set ${HW6_SERVER_ENV} to the address it prints"
                           )
    address = os.environ.get(HW6_SERVER_ENV)
    return RemoteBlackBox(address) if address else _hw6_practice_box()


def hw6_data() -> HW6Data:
    """Homework 6's images, on ``runtime.device()``, and the black box. Calling it again gives the same
    counter: the budget is for the whole session (at grading, for the server's whole life)."""
    dev = device()
    x, y = hw6_images()
    return HW6Data(x.to(dev), y.to(dev), HW6_EPS, hw6_blackbox())


def hw6_figures(blackbox: BlackBox) -> tuple[float, dict[str, list[float]]]:
    """The reference figures for ``blackbox`` (``hw6_blackbox()``): its clean accuracy on the homework images
    and the baselines' accuracies — computed by the server on the private box, else here on the practice
    box. Spends no query."""
    if isinstance(blackbox, RemoteBlackBox):
        figures = blackbox.figures()
        baselines = {k: [float(v) for v in runs] for k, runs in figures["baselines"].items()}
        return float(figures["clean"]), baselines
    x, y = hw6_images()
    with torch.no_grad():
        clean = (_hw6_practice_victim()(x).argmax(1) == y).float().mean().item()
    return clean, {k: list(v) for k, v in hw6_baselines().items()}


def to_uint8_and_back(x: torch.Tensor) -> torch.Tensor:
    """What a submitted PNG holds: pixels rounded to the nearest of the 256 grey levels."""
    check_images(x)
    return torch.round(x * 255).to(torch.uint8).to(x.dtype) / 255


@functools.cache
def hw6_baselines(victim: nn.Module | None = None,
                  seeds: tuple[int, ...] = HW6_BASELINE_SEEDS) -> dict[str, list[float]]:
    """The victim's accuracy (after the uint8 round trip) on the reference solution's three baselines —
    simple: FGSM on the proxy; medium: I-FGSM on the proxy; strong: MI-FGSM with input diversity on the
    ensemble of the proxy and ``fmnist_cnn`` — all within the homework's budget, made without querying
    the black box. The victim is ``victim`` (None: the zoo's practice box; the server passes the private
    one). FGSM and
    I-FGSM are deterministic: one figure each; the strong baseline's random input diversity is drawn once
    per seed in ``seeds``, one figure each."""
    x, y = hw6_images()
    proxy = zoo.load("fmnist_proxy", device="cpu")
    both = ensemble([proxy, zoo.load("fmnist_cnn", device="cpu")])
    victim = _hw6_practice_victim() if victim is None else victim
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


def hw6_pass_lines(victim: nn.Module | None = None) -> dict[str, float]:
    """The accuracy a submission must get *below* to beat each baseline: the simple and medium baselines
    are deterministic (one figure each); the strong one's line is the lowest it reached over its seeds, so
    that no draw of the baseline's own randomness beats it."""
    return {name: min(runs) for name, runs in hw6_baselines(victim).items()}


__all__ = ["HW5_METHODS", "HW6_EPS", "HW6_LEVELS", "HW6_QUERIES", "HW6_SERVER_ENV", "HW6_BASELINE_SEEDS",
           "HW6_MEASURED",
           "HW6BlackBox", "hw5_data", "hw5_explain", "hw5_reference", "hw6_baselines", "hw6_blackbox",
           "hw6_data", "hw6_figures", "hw6_images", "hw6_pass_lines", "to_uint8_and_back"]
