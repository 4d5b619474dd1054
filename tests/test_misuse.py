"""The tensor contract under misuse: every public callable of ``helpers``, fed bad and awkward arguments.

The test walks the package itself (as ``test_contract`` does), so a new public function is covered
without editing this file — except that it must get an entry in ``CALLS`` (a valid call, or a reason it
is skipped), and the test fails, naming it, until it has one. From the valid call it derives the
variants by the arguments' names, values and annotations:

- images (``x``, ``images``, ``x_adv``, …): other ranks and dtypes, NaN / ±inf pixels, an empty batch,
  values outside [0, 1], not a tensor — each must be refused;
- labels (``y``, ``labels``, ``target``): out of range, negative, wrong length, float, 2-D — refused;
- models: not a module, a model returning shape N, N×1 or NaN logits — refused by every function that
  runs the model (one that only stores it must not return anything non-finite);
- numbers: NaN, ±inf and negative values refused, 0 refused or a finite result, a float for an int;
  ``bool`` options given the string ``"False"`` and ``str`` options given a list — refused;
- valid-but-awkward input: a batch of 1, channels_last, a non-contiguous view, ``x`` requiring grad, a
  model in train mode with dropout, an eval-mode model with one dropout left in train mode, a frozen
  model — each must give a finite, detached result.

A refusal must be a ``TypeError`` / ``ValueError`` (or the project's own exception) raised from a frame
of ``helpers``, never from inside torch, numpy or matplotlib, and its message must name the argument.
After every call, refused or not: the inputs are unchanged, every submodule's mode and every
parameter's ``requires_grad`` is as it was, and no ``.grad`` is left on the model.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import math
import pkgutil
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib
import nbformat
import pytest
import torch
from torch import nn

import helpers
import helpers.attacks.glasses
import helpers.faces
from helpers import attacks, defenses, explain
from tests.conftest import tiny_batch, tiny_cnn

LRP = importlib.import_module("helpers.explain.relevance")  # the package behind ``explain.lrp``

matplotlib.use("Agg")
HELPERS_DIR = str(Path(helpers.__file__).resolve().parent)
IMAGE_NAMES = {"x", "images", "x_adv", "seed_images", "clean", "x_init"}
LABEL_NAMES = {"y", "labels", "target"}
CLASSES = 5


@dataclasses.dataclass(frozen=True)
class Call:
    """A valid call: ``build(model, x, y, generator) -> {argument: value}`` (``self`` binds a method).
    ``awkward=False`` where the function needs fixed data, so the awkward batches do not apply."""

    build: Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.Generator], dict[str, Any]]
    awkward: bool = True
    trains: bool = False  # a frozen model is refused with a clear error, not trained
    differentiable: bool = False  # a building block used inside autograd: its result keeps the graph
    not_images: frozenset[str] = frozenset()  # arguments named like images that take any values (clip_box)
    inputs: str = "images"  # what build's model, x and y are: "images", "waveforms" or "tokens"


@dataclasses.dataclass(frozen=True)
class Skip:
    reason: str


def _training(**options: Any) -> Call:
    """A valid call of a training loop: the model, images and labels in batches of 4, one seeded generator, no
    progress bar, and ``options`` (the epochs, the loop's own settings)."""

    def build(m: nn.Module, x: torch.Tensor, y: torch.Tensor, g: torch.Generator) -> dict[str, Any]:
        return dict(model=m, images=x, labels=y, **options, batch_size=4, generator=g, progress=False)

    return Call(build, trains=True)


RECORD = Skip("a record type: its fields are stored, not computed on")
CLI = Skip("a command line: argparse checks its arguments")
NO_ARGS = Skip("takes no argument to misuse")


def _tiny_notebooks(tmp: Path) -> Path:
    folder = tmp / "nbs"
    folder.mkdir(exist_ok=True)
    cell = nbformat.v4.new_code_cell("def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION")
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), folder / "a.ipynb")
    return folder


def _tmp() -> Path:
    import tempfile

    return Path(tempfile.mkdtemp(prefix="misuse-"))


def _tiny_keyword(classes: int = CLASSES, seed: int = 0) -> nn.Sequential:
    """The course's spoken-word classifier (LogMel → 1-D convolutions), on waveforms N×2048."""
    torch.manual_seed(seed)
    model = helpers.models.keyword_cnn(max(classes, 2))
    if classes == 1:  # keyword_cnn refuses a single class: the bad model is built by hand
        model[-1] = nn.Linear(128, 1)
    return model


def _tiny_char(classes: int = CLASSES, seed: int = 0) -> nn.Sequential:
    """The course's word classifier (OneHot → 1-D convolutions), on character indices N×12."""
    torch.manual_seed(seed)
    model = helpers.models.char_cnn(max(classes, 2))
    if classes == 1:
        model[-1] = nn.Linear(96, 1)
    return model


def tiny_waveforms(n: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 2048, generator=g) * 1.6 - 0.8, torch.randint(CLASSES, (n,), generator=g)


def tiny_tokens(n: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(1, 27, (n, 12), generator=g), torch.randint(CLASSES, (n,), generator=g)


# kind → (model builder, batch builder)
KINDS: dict[str, tuple[Callable[..., nn.Module], Callable[..., tuple[torch.Tensor, torch.Tensor]]]] = {
    "images": (tiny_cnn, tiny_batch),
    "waveforms": (_tiny_keyword, tiny_waveforms),
    "tokens": (_tiny_char, tiny_tokens),
}


def _base(kind: str) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    make_model, make_batch = KINDS[kind]
    x, y = make_batch(4)
    return make_model().eval(), x, y


def _notebook() -> nbformat.NotebookNode:
    cells = [
        nbformat.v4.new_markdown_cell("intro"),
        nbformat.v4.new_code_cell(
            "def saliency(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION"
        ),
        nbformat.v4.new_code_cell("### BEGIN HIDDEN TESTS\nassert True\n### END HIDDEN TESTS"),
    ]
    return nbformat.v4.new_notebook(cells=cells)


def _denoiser() -> nn.Module:
    torch.manual_seed(0)
    return helpers.models.fashion_denoiser(width=4).eval()


def _reconstruction_detector():
    return defenses.denoiser.ReconstructionDetector(_denoiser())


def _detector(m):
    return defenses.FeatureSqueezingDetector(m)


CALLS: dict[str, Call | Skip] = {
    # attacks
    "helpers.attacks.blackbox.BlackBox": Call(lambda m, x, y, g: dict(model=m, output="probs", budget=100)),
    "helpers.attacks.blackbox.BlackBox.__call__": Call(
        lambda m, x, y, g: dict(self=attacks.BlackBox(m), x=x)
    ),
    "helpers.attacks.transfer.Ensemble": Call(lambda m, x, y, g: dict(models=[m, tiny_cnn(seed=1)])),
    "helpers.attacks.transfer.ensemble": Call(lambda m, x, y, g: dict(models=[m, tiny_cnn(seed=1)])),
    "helpers.attacks.transfer.substitute_training": Call(
        lambda m, x, y, g: dict(
            blackbox=attacks.BlackBox(m, output="label"),
            seed_images=x,
            model_fn=lambda: tiny_cnn(seed=2),
            rounds=1,
            lam=0.1,
            epochs=1,
            lr=1e-3,
            generator=g,
            progress=False,
        )
    ),
    "helpers.attacks.blackbox.simba": Call(
        lambda m, x, y, g: dict(blackbox=attacks.BlackBox(m), x=x, y=y, eps=0.2, max_queries=5, generator=g,
                                x_init=x)
    ),
    "helpers.attacks.blackbox.square_attack": Call(
        lambda m, x, y, g: dict(blackbox=attacks.BlackBox(m), x=x, y=y, eps=0.2, max_queries=5, generator=g,
                                x_init=x)
    ),
    "helpers.attacks.geometry.decision_plane": Call(
        lambda m, x, y, g: dict(
            model=m,
            x=x[:1],
            u=torch.ones_like(x[:1]),
            v=-torch.ones_like(x[:1]),
            span=0.5,
            resolution=3,
            batch_size=4,
        )
    ),
    "helpers.attacks.norms.project_linf": Call(
        lambda m, x, y, g: dict(delta=x - 0.5, eps=0.1), differentiable=True
    ),
    "helpers.attacks.norms.project_l2": Call(
        lambda m, x, y, g: dict(delta=x - 0.5, eps=0.1), differentiable=True
    ),
    "helpers.attacks.norms.clip_box": Call(
        lambda m, x, y, g: dict(x=x), differentiable=True, not_images=frozenset({"x"})
    ),
    "helpers.attacks.norms.linf": Call(lambda m, x, y, g: dict(a=x, b=x.flip(0)), differentiable=True),
    "helpers.attacks.norms.l2": Call(lambda m, x, y, g: dict(a=x, b=x.flip(0)), differentiable=True),
    "helpers.attacks.physical.universal_perturbation": Call(
        lambda m, x, y, g: dict(model=m, x=x, y=y, eps=0.1, alpha=0.02, steps=2, batch_size=4, generator=g)
    ),
    "helpers.attacks.physical.random_transforms": Call(
        lambda m, x, y, g: dict(n=3, shift=0.1, rotation=10.0, generator=g)
    ),
    "helpers.attacks.physical.apply_patch": Call(
        lambda m, x, y, g: dict(
            images=x,
            patch=x[0],
            mask=torch.ones(12, 12),
            change=attacks.random_transforms(len(x), generator=g),
        ),
        differentiable=True,
    ),
    "helpers.attacks.physical.adversarial_patch": Call(
        lambda m, x, y, g: dict(
            model=m, images=x, target=1, mask=torch.ones(12, 12), steps=2, lr=0.05, batch_size=4, generator=g
        )
    ),
    "helpers.attacks.whitebox.fgsm": Call(
        lambda m, x, y, g: dict(model=m, x=x, y=y, eps=0.1, targeted=False)
    ),
    "helpers.attacks.whitebox.ifgsm": Call(
        lambda m, x, y, g: dict(model=m, x=x, y=y, eps=0.1, alpha=0.02, steps=2)
    ),
    "helpers.attacks.whitebox.pgd": Call(
        lambda m, x, y, g: dict(
            model=m, x=x, y=y, eps=0.1, alpha=0.02, steps=2, restarts=2, random_start=True, generator=g
        )
    ),
    "helpers.attacks.whitebox.input_diversity": Call(
        lambda m, x, y, g: dict(x=x, probability=1.0, generator=g, min_scale=0.8), differentiable=True
    ),
    "helpers.attacks.whitebox.resize_pad": Skip(
        "the unchecked inner loop of input_diversity, for the attacks"
    ),
    "helpers.attacks.whitebox.mifgsm": Call(
        lambda m, x, y, g: dict(
            model=m, x=x, y=y, eps=0.1, alpha=0.02, steps=2, decay=1.0, diversity_prob=0.5, generator=g
        )
    ),
    "helpers.attacks.minimum_norm.cw_l2": Call(
        lambda m, x, y, g: dict(model=m, x=x, y=y, c=1.0, kappa=0.0, steps=2, lr=0.01, search_steps=2)
    ),
    "helpers.attacks.minimum_norm.deepfool": Call(
        lambda m, x, y, g: dict(model=m, x=x, y=y, steps=2, overshoot=0.02)
    ),
    "helpers.attacks.whitebox.success_rate": Call(
        lambda m, x, y, g: dict(model=m, x_adv=x, y=y, batch_size=4)
    ),
    # data, models, runtime
    "helpers.data.fashion_mnist": Call(lambda m, x, y, g: dict(split="test"), awkward=False),
    "helpers.data.shapes": Call(lambda m, x, y, g: dict(n=2, size=16, seed=0), awkward=False),
    "helpers.data.shapes_split": Call(lambda m, x, y, g: dict(split="test", n=2), awkward=False),
    "helpers.models.images.Normalize": Call(lambda m, x, y, g: dict(mean=(0.5,), std=(0.25,)), awkward=False),
    "helpers.models.images.fashion_cnn": NO_ARGS,
    "helpers.models.images.fashion_blackbox": NO_ARGS,
    "helpers.models.images.fashion_proxy": NO_ARGS,
    "helpers.models.images.shapes_cnn": Call(lambda m, x, y, g: dict(num_classes=4), awkward=False),
    "helpers.models.images.BinaryLogits": NO_ARGS,
    "helpers.models.images.elephant_toy": NO_ARGS,
    "helpers.models.count_parameters": Call(lambda m, x, y, g: dict(model=m)),
    "helpers.runtime.device": NO_ARGS,
    "helpers.runtime.seed_everything": Call(lambda m, x, y, g: dict(seed=3), awkward=False),
    "helpers.training.train": _training(epochs=1, lr=1e-3, weight_decay=0.0),
    "helpers.training.predict": Call(lambda m, x, y, g: dict(model=m, images=x, batch_size=4)),
    "helpers.training.accuracy": Call(lambda m, x, y, g: dict(model=m, images=x, labels=y, batch_size=4)),
    # defenses
    "helpers.attacks.adaptive.bpda": Call(lambda m, x, y, g: dict(filter=defenses.median_filter)),
    "helpers.attacks.adaptive.ExpectationOverTransformation": Call(
        lambda m, x, y, g: dict(model=m, transform=defenses.median_filter, n=2)
    ),
    "helpers.attacks.adaptive.eot": Call(
        lambda m, x, y, g: dict(model=m, transform=defenses.median_filter, n=2)
    ),
    "helpers.attacks.adaptive.Detector": Skip("a Protocol, the interface evade_detector reads: not built"),
    "helpers.attacks.adaptive.Detector.score": Skip("a Protocol method: see ReconstructionDetector.score"),
    "helpers.defenses.detection.FeatureSqueezingDetector": Call(lambda m, x, y, g: dict(model=m)),
    "helpers.defenses.detection.FeatureSqueezingDetector.score": Call(
        lambda m, x, y, g: dict(self=_detector(m), x=x)
    ),
    "helpers.defenses.detection.FeatureSqueezingDetector.fit": Call(
        lambda m, x, y, g: dict(self=_detector(m), clean=x, fpr=0.1)
    ),
    "helpers.defenses.detection.FeatureSqueezingDetector.detect": Call(
        lambda m, x, y, g: dict(self=_detector(m).fit(x), x=x)
    ),
    "helpers.defenses.detection.roc": Call(
        lambda m, x, y, g: dict(
            clean_scores=torch.rand(5, generator=g), adversarial_scores=torch.rand(4, generator=g)
        )
    ),
    "helpers.defenses.filters.gaussian_blur": Call(
        lambda m, x, y, g: dict(x=x, sigma=1.0), differentiable=True
    ),
    "helpers.defenses.filters.median_filter": Call(lambda m, x, y, g: dict(x=x, size=3), differentiable=True),
    "helpers.defenses.filters.bit_depth": Call(lambda m, x, y, g: dict(x=x, bits=3), differentiable=True),
    "helpers.defenses.filters.jpeg": Call(lambda m, x, y, g: dict(x=x, quality=50)),
    "helpers.defenses.filters.random_resize_pad": Call(
        lambda m, x, y, g: dict(x=x, min_scale=0.8, generator=g), differentiable=True
    ),
    "helpers.defenses.filters.Defended": Call(
        lambda m, x, y, g: dict(model=m, filters=[defenses.median_filter])
    ),
    "helpers.defenses.smoothing.noise_counts": Call(
        lambda m, x, y, g: dict(model=m, x=x, sigma=0.25, n=4, batch_size=8, generator=g)
    ),
    "helpers.defenses.smoothing.smoothed_predict": Call(
        lambda m, x, y, g: dict(model=m, x=x, sigma=0.25, n=4, significance=0.1, generator=g)
    ),
    "helpers.defenses.smoothing.lower_confidence_bound": Call(
        lambda m, x, y, g: dict(successes=8, trials=10, significance=0.01), awkward=False
    ),
    "helpers.defenses.smoothing.certify": Call(
        lambda m, x, y, g: dict(model=m, x=x, sigma=0.25, n0=3, n=5, significance=0.1, generator=g)
    ),
    "helpers.defenses.training.adversarial_training": _training(
        attack=lambda a, b, c: attacks.fgsm(a, b, c, eps=0.1), rounds=1, lr=1e-3
    ),
    "helpers.defenses.training.pgd_training": _training(eps=0.1, alpha=0.05, steps=1, epochs=1),
    "helpers.defenses.training.fast_training": _training(eps=0.1, epochs=1),
    "helpers.defenses.training.noise_training": _training(sigma=0.1, epochs=1),
    "helpers.defenses.training.trades": _training(eps=0.1, alpha=0.05, steps=1, epochs=1, beta=1.0),
    # explain
    "helpers.explain.cam.check_layer": Call(lambda m, x, y, g: dict(model=m, layer=m[2])),
    "helpers.explain.cam.cam_from_gradients": Call(
        lambda m, x, y, g: dict(
            activation=torch.rand(2, 3, 4, 4, generator=g), gradient=torch.randn(2, 3, 4, 4, generator=g)
        )
    ),
    "helpers.explain.cam.grad_cam": Call(lambda m, x, y, g: dict(model=m, x=x, target=y, layer=m[2])),
    "helpers.explain.features.filter_activations": Call(lambda m, x, y, g: dict(model=m, layer=m[1], x=x)),
    "helpers.explain.features.activation_maximization": Call(
        lambda m, x, y, g: dict(
            model=m, layer=m[2], channel=[0, 1], shape=(1, 12, 12), steps=2, lr=0.05, l2=1e-3, generator=g
        )
    ),
    "helpers.explain.gradients.saliency": Call(lambda m, x, y, g: dict(model=m, x=x, target=y)),
    "helpers.explain.gradients.input_x_gradient": Call(lambda m, x, y, g: dict(model=m, x=x, target=y)),
    "helpers.explain.gradients.quadrature_nodes": Call(
        lambda m, x, y, g: dict(steps=4, quadrature="riemann_trapezoid")
    ),
    "helpers.explain.gradients.integrated_gradients": Call(
        lambda m, x, y, g: dict(model=m, x=x, target=y, baseline=0.0, steps=3, batch_size=5)
    ),
    "helpers.explain.gradients.completeness_gap": Call(
        lambda m, x, y, g: dict(model=m, x=x, target=y, attributions=torch.rand_like(x), baseline=0.0)
    ),
    "helpers.explain.gradients.smoothgrad": Call(
        lambda m, x, y, g: dict(model=m, x=x, target=y, n=2, noise_level=0.1, generator=g, batch_size=5)
    ),
    "helpers.explain.relevance.propagation.lrp": Call(
        lambda m, x, y, g: dict(
            model=m, x=x, target=y, composite="epsilon_gamma_box", epsilon=0.1, gamma=0.25
        )
    ),
    "helpers.explain.relevance.propagation.conservation": Call(
        lambda m, x, y, g: dict(model=m, x=x, target=y, rule="epsilon", epsilon=0.1)
    ),
    "helpers.explain.relevance.propagation.epsilon_step": Call(
        lambda m, x, y, g: dict(
            a=torch.rand(2, 3, generator=g),
            weight=torch.randn(4, 3, generator=g),
            bias=torch.randn(4, generator=g),
            relevance=torch.rand(2, 4, generator=g),
            epsilon=0.1,
        )
    ),
    "helpers.explain.metrics.deletion_curve": Call(
        lambda m, x, y, g: dict(
            model=m, x=x, target=y, attributions=torch.rand_like(x), steps=3, fill=0.0, sigma=1.0, noise=0.01,
            generator=g, batch_size=5
        )
    ),
    "helpers.explain.metrics.insertion_curve": Call(
        lambda m, x, y, g: dict(
            model=m, x=x, target=y, attributions=torch.rand_like(x), steps=3, fill=0.0, sigma=1.0, noise=0.01,
            generator=g, batch_size=5
        )
    ),
    "helpers.explain.metrics.auc": Call(lambda m, x, y, g: dict(curve=torch.rand(3, 5, generator=g))),
    "helpers.explain.metrics.pointing_game": Call(
        lambda m, x, y, g: dict(attributions=x, masks=torch.ones(len(x), 1, 12, 12, dtype=torch.bool),
                                tolerance=1.0)
    ),
    "helpers.explain.metrics.relevance_mass": Call(
        lambda m, x, y, g: dict(attributions=x, masks=torch.ones(len(x), 1, 12, 12, dtype=torch.bool))
    ),
    "helpers.explain.metrics.roughness": Call(lambda m, x, y, g: dict(attributions=x, signed=True)),
    "helpers.explain.metrics.spearman": Call(
        lambda m, x, y, g: dict(a=torch.rand(3, 6, generator=g), b=torch.rand(3, 6, generator=g))
    ),
    "helpers.explain.metrics.ssim_map": Call(
        lambda m, x, y, g: dict(a=torch.rand(2, 8, 8, generator=g), b=torch.rand(2, 8, 8, generator=g),
                                data_range=1.0, window=7)
    ),
    "helpers.explain.metrics.randomization_test": Call(
        lambda m, x, y, g: dict(
            model=m, x=x, target=y, method=explain.saliency, order="independent", absolute=True,
            pixels=torch.ones(len(x), 1, 12, 12, dtype=torch.bool), similarity="ssim", generator=g
        )
    ),
    "helpers.explain.perturbation.window_masks": Call(
        lambda m, x, y, g: dict(height=6, width=5, window=(2, 2), stride=(2, 1))
    ),
    "helpers.explain.perturbation.occlusion": Call(
        lambda m, x, y, g: dict(model=m, x=x, target=y, window=4, stride=4, baseline=0.0, batch_size=16)
    ),
    "helpers.explain.perturbation.grid_segments": Call(lambda m, x, y, g: dict(height=12, width=12, cell=4)),
    "helpers.explain.perturbation.lime": Call(
        lambda m, x, y, g: dict(
            model=m,
            x=x,
            target=y,
            segments=explain.grid_segments(12, 12, 6),
            n_samples=8,
            kernel_width=0.25,
            ridge=1.0,
            generator=g,
            batch_size=16,
        )
    ),
    # teaching tools
    "helpers.grading.Exercise": RECORD,
    "helpers.grading.Question": RECORD,
    "helpers.grading.Judgement": RECORD,
    "helpers.grading.Judgement.beaten": RECORD,
    "helpers.grading.check": Call(
        lambda m, x, y, g: dict(exercise_id="pointing_game", answer=explain.pointing_game), awkward=False
    ),
    "helpers.grading.judge": Skip(
        "homework 6's judge: checked by tests/test_grading.py on the homework's images"
    ),
    "helpers.homework.HW5Data": RECORD,
    "helpers.homework.HW6Data": RECORD,
    "helpers.homework.hw5_data": NO_ARGS,
    "helpers.homework.hw5_reference": NO_ARGS,
    "helpers.homework.hw6_data": NO_ARGS,
    "helpers.homework.hw6_baselines": Skip(
        "attacks the homework's 128 images: tests/test_grading.py runs it"
    ),
    "helpers.homework.hw6_pass_lines": Skip("the minimum of hw6_baselines: tests/test_grading.py checks it"),
    "helpers.homework.hw5_explain": Call(lambda m, x, y, g: dict(model=m, x=x, y=y, cam_layer=m[2])),
    "helpers.homework.to_uint8_and_back": Call(lambda m, x, y, g: dict(x=x)),
    "helpers.release.Block": RECORD,
    "helpers.release.split_cell": Call(
        lambda m, x, y, g: dict(
            source="### BEGIN SOLUTION\nx = 1\n### END SOLUTION", cell_type="code", where="a.ipynb, cell 0"
        ),
        awkward=False,
    ),
    "helpers.release.student_version": Call(
        lambda m, x, y, g: dict(
            nb=nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")]), name="a"
        ),
        awkward=False,
    ),
    "helpers.release.release": Call(
        lambda m, x, y, g: dict(out=_tmp() / "out", notebooks=_tiny_notebooks(_tmp()), html=False),
        awkward=False,
    ),
    "helpers.release.main": CLI,
    "helpers.viz.images.show_images": Call(lambda m, x, y, g: dict(images=x[:2], ncols=2, panel_size=1.0)),
    "helpers.viz.images.show_heatmaps": Call(
        lambda m, x, y, g: dict(images=x[:2], maps=x[:2], ncols=2, panel_size=1.0)
    ),
    "helpers.viz.images.show_attributions": Call(
        lambda m, x, y, g: dict(images=x[:2], methods={"a": x[:2]}, panel_size=1.0)
    ),
    "helpers.viz.charts.show_curves": Call(
        lambda m, x, y, g: dict(x=[0.0, 0.5, 1.0], curves={"a": [1.0, 0.5, 0.2]}), awkward=False
    ),
    "helpers.viz.charts.show_bars": Call(lambda m, x, y, g: dict(table={"a": {"b": 0.5}}), awkward=False),
    "helpers.viz.charts.format_table": Call(
        lambda m, x, y, g: dict(table={"a": {"b": 0.5}}, digits=2), awkward=False
    ),
    "helpers.viz.charts.show_decision_plane": Call(
        lambda m, x, y, g: dict(
            classes=torch.randint(3, (5, 5), generator=g), span=0.5, class_names=["a", "b", "c"]
        ),
        awkward=False,
    ),
    "helpers.widgets.Explorer": Skip("the explorers' container: built by the four explorers below"),
    "helpers.widgets.Explorer.settings": Skip("reads the controls of an Explorer the explorers build"),
    "helpers.widgets.smoothgrad_explorer": Call(
        lambda m, x, y, g: dict(model=m, x=x[:2], target=y[:2], noise_level=0.1, n=2, seed=0)
    ),
    "helpers.widgets.epsilon_explorer": Call(
        lambda m, x, y, g: dict(model=m, x=x, y=y, attack="FGSM", eps=0.05)
    ),
    "helpers.widgets.lrp_explorer": Call(lambda m, x, y, g: dict(model=m, x=x, target=y)),
    "helpers.widgets.defense_explorer": Call(
        lambda m, x, y, g: dict(model=m, x=x, y=y, eps=0.1, name="JPEG (quality)")
    ),
    "helpers.zoo.recipes.Recipe": RECORD,
    "helpers.zoo.recipes.Recipe.describe": RECORD,
    "helpers.zoo.recipes.Recipe.training": RECORD,  # the field's default, a training method (cross-entropy)
    "helpers.zoo.recipes.Dataset": RECORD,
    "helpers.zoo.names": NO_ARGS,
    "helpers.zoo.card.model_card": NO_ARGS,
    "helpers.zoo.checkpoint_path": Call(lambda m, x, y, g: dict(name="fmnist_cnn"), awkward=False),
    "helpers.zoo.load": Call(lambda m, x, y, g: dict(name="shapes_cnn", device="cpu"), awkward=False),
    "helpers.zoo.retraining.retrain": Skip(
        "trains a zoo model for minutes: tests/test_zoo.py reproduces one"
    ),
    "helpers.zoo.evaluation.evaluate": Skip(
        "evaluates a zoo model on its test split for minutes: tests/test_zoo.py"
    ),
    "helpers.attacks.evaluate.robust_accuracy": Call(
        lambda m, x, y, g: dict(model=m, images=x, labels=y, eps=0.1), awkward=False
    ),  # PGD-50 × 5 restarts: pgd's own entry takes the awkward inputs
    "helpers.zoo.evaluation.shortcut_metrics": Skip(
        "evaluates a model on three 10 000-image Fashion-MNIST test splits: "
        "tests/test_data.py checks the data"
    ),
    # audio and text (build's model, x and y are a keyword_cnn and waveforms, or a char_cnn and words)
    "helpers.audio.LogMel": Call(
        lambda m, x, y, g: dict(sample_rate=8000, n_fft=64, hop=32, n_mels=8, f_min=20.0, floor=1e-6),
        awkward=False,
    ),
    "helpers.audio.db": Call(lambda m, x, y, g: dict(v=x), inputs="waveforms", differentiable=True),
    "helpers.audio.relative_db": Call(
        lambda m, x, y, g: dict(delta=x * 0.01, x=x), inputs="waveforms", differentiable=True
    ),
    "helpers.audio.hz_to_mel": Call(
        lambda m, x, y, g: dict(f=torch.tensor([0.0, 700.0, 4000.0])), awkward=False
    ),
    "helpers.audio.mel_to_hz": Call(
        lambda m, x, y, g: dict(m=torch.tensor([0.0, 500.0, 2000.0])), awkward=False
    ),
    "helpers.audio.mel_filterbank": Call(
        lambda m, x, y, g: dict(n_fft=64, n_mels=8, sample_rate=8000, f_min=20.0, f_max=3000.0), awkward=False
    ),
    "helpers.audio.power_spectrogram": Call(
        lambda m, x, y, g: dict(x=x, n_fft=64, hop=32), inputs="waveforms", differentiable=True
    ),
    "helpers.audio.log_mel": Call(lambda m, x, y, g: dict(x=x, sample_rate=8000), inputs="waveforms"),
    "helpers.attacks.audio.db_radius": Call(
        lambda m, x, y, g: dict(x=x, db=-20.0), inputs="waveforms", differentiable=True
    ),
    "helpers.attacks.audio.pgd_db": Call(
        lambda m, x, y, g: dict(model=m, x=x, y=y, db=-30.0, steps=2, alpha=0.1, loss="ce", targeted=False),
        inputs="waveforms",
    ),
    "helpers.defenses.audio.quantize_waveform": Call(
        lambda m, x, y, g: dict(x=x, bits=6), inputs="waveforms", differentiable=True
    ),
    "helpers.viz.images.show_spectrograms": Call(
        lambda m, x, y, g: dict(waveforms=x[:2], titles=["a", "b"][: len(x)], sample_rate=8000,
                                panel_size=1.0),
        inputs="waveforms",
    ),
    "helpers.text.OneHot": Call(lambda m, x, y, g: dict(vocabulary=39), awkward=False),
    "helpers.text.encode": Call(lambda m, x, y, g: dict(words=["hello", "más"], length=12), awkward=False),
    "helpers.text.decode": Call(lambda m, x, y, g: dict(tokens=x), inputs="tokens"),
    "helpers.attacks.text.flip_gain": Call(
        lambda m, x, y, g: dict(grad=torch.randn(*x.shape, 39, generator=g), tokens=x),
        inputs="tokens",
        differentiable=True,
    ),
    "helpers.attacks.text.flip_scores": Call(
        lambda m, x, y, g: dict(model=m, tokens=x, y=y, targeted=False, vocabulary=39), inputs="tokens"
    ),
    "helpers.attacks.text.hotflip": Call(
        lambda m, x, y, g: dict(model=m, tokens=x, y=y, max_flips=2, beam=2, targeted=False, vocabulary=39),
        inputs="tokens",
    ),
    # data, models, training (new)
    "helpers.data.add_tag": Call(lambda m, x, y, g: dict(images=x)),
    "helpers.data.tag_mask": Call(lambda m, x, y, g: dict(size=12), awkward=False),
    "helpers.data.tagged_fashion_mnist": Call(
        lambda m, x, y, g: dict(split="test", tags="shortcut", classes=(6,), fraction=0.9, seed=0),
        awkward=False,
    ),
    "helpers.data.spoken_digits": Call(
        lambda m, x, y, g: dict(split="test", with_settings=False), awkward=False
    ),
    "helpers.data.words": Call(lambda m, x, y, g: dict(split="test", as_strings=False), awkward=False),
    "helpers.data.photo": Call(lambda m, x, y, g: dict(name="coffee"), awkward=False),
    "helpers.explain.perturbation.superpixels": Call(lambda m, x, y, g: dict(images=x, n_segments=4)),
    # the face detector: photos need ≥ 20 pixels a side, so these calls bring their own (awkward=False)
    "helpers.attacks.glasses.glasses_mask": Call(
        lambda m, x, y, g: dict(box=(2.0, 2.0, 20.0, 22.0), height=24, width=24, thickness=0.05),
        awkward=False,
    ),
    "helpers.attacks.glasses.wear": Call(
        lambda m, x, y, g: dict(images=x, frame=x[0], mask=torch.ones(x.shape[2:], dtype=torch.bool)),
        differentiable=True,
    ),
    "helpers.attacks.glasses.camera_changes": Call(lambda m, x, y, g: dict(n=3, generator=g), awkward=False),
    "helpers.attacks.glasses.photograph": Call(
        lambda m, x, y, g: dict(images=x, change=helpers.attacks.glasses.camera_changes(len(x), generator=g)),
        differentiable=True,
    ),
    "helpers.attacks.glasses.total_variation": Call(
        lambda m, x, y, g: dict(frame=torch.rand(3, 8, 8, generator=g), mask=torch.ones(8, 8).bool()),
        awkward=False, differentiable=True,
    ),
    "helpers.attacks.glasses.non_printability": Call(
        lambda m, x, y, g: dict(frame=torch.rand(3, 8, 8, generator=g), mask=torch.ones(8, 8).bool()),
        awkward=False, differentiable=True,
    ),
    "helpers.attacks.glasses.adversarial_glasses": Call(
        lambda m, x, y, g: dict(images=torch.rand(1, 3, 24, 24, generator=g),
                                mask=torch.ones(24, 24, dtype=torch.bool), steps=1, samples=1, generator=g),
        awkward=False,
    ),
    "helpers.attacks.glasses.face_patch": Call(
        lambda m, x, y, g: dict(images=torch.rand(1, 3, 30, 30, generator=g), top=2, left=2, size=12, steps=1,
                                generator=g),
        awkward=False,
    ),
    "helpers.attacks.glasses.astronaut_glasses": NO_ARGS,
    "helpers.faces.FaceDetector": Call(
        lambda m, x, y, g: dict(networks=helpers.faces.mtcnn()), awkward=False
    ),
    "helpers.faces.detect": Call(lambda m, x, y, g: dict(images=torch.rand(1, 3, 24, 30, generator=g)),
                                 awkward=False),
    "helpers.faces.face_score": Call(lambda m, x, y, g: dict(images=torch.rand(1, 3, 24, 30, generator=g)),
                                     awkward=False),
    "helpers.faces.cascade_loss": Call(
        lambda m, x, y, g: dict(images=torch.rand(1, 3, 24, 30, generator=g), margin=0.1), awkward=False
    ),
    "helpers.faces.pyramid": Call(
        lambda m, x, y, g: dict(height=100, width=80, min_face_size=20, factor=0.709), awkward=False
    ),
    "helpers.faces.mtcnn": Call(lambda m, x, y, g: dict(device="cpu"), awkward=False),
    "helpers.faces.classifier": Call(lambda m, x, y, g: dict(net=helpers.faces.mtcnn().onet), awkward=False),
    "helpers.faces.PNet": NO_ARGS,
    "helpers.faces.RNet": NO_ARGS,
    "helpers.faces.ONet": NO_ARGS,
    "helpers.faces.Faces": RECORD,
    "helpers.faces.Networks": RECORD,
    "helpers.models.images.ResidualBlock": Call(
        lambda m, x, y, g: dict(channels_in=4, channels_out=8, stride=2), awkward=False
    ),
    "helpers.models.images.fashion_resnet": NO_ARGS,
    "helpers.models.sequences.char_cnn": Call(lambda m, x, y, g: dict(num_classes=3), awkward=False),
    "helpers.models.sequences.keyword_cnn": Call(lambda m, x, y, g: dict(num_classes=10), awkward=False),
    "helpers.training.check_inputs": Call(
        lambda m, x, y, g: dict(x=x, name="x", inputs="images", for_model=m),
        differentiable=True,  # a check: it returns the tensor it was given
    ),
    # explain (new)
    "helpers.explain.guided.rrr_penalty": Call(
        lambda m, x, y, g: dict(model=m, x=x, mask=torch.zeros_like(x, dtype=torch.bool)), differentiable=True
    ),
    "helpers.explain.guided.rrr_loss": Call(
        lambda m, x, y, g: dict(model=m, x=x, y=y, mask=torch.zeros_like(x, dtype=torch.bool), weight=1.0),
        differentiable=True,
    ),
    "helpers.explain.relevance.rules.Zero": NO_ARGS,
    "helpers.explain.relevance.rules.ZPlus": NO_ARGS,
    "helpers.explain.relevance.rules.Flat": NO_ARGS,
    "helpers.explain.relevance.rules.Rule": Skip("the base class of the rules: each subclass has its entry"),
    "helpers.explain.relevance.rules.Epsilon": Call(lambda m, x, y, g: dict(epsilon=0.1), awkward=False),
    "helpers.explain.relevance.rules.Gamma": Call(lambda m, x, y, g: dict(gamma=0.25), awkward=False),
    "helpers.explain.relevance.rules.AlphaBeta": Call(
        lambda m, x, y, g: dict(alpha=2.0, beta=1.0), awkward=False
    ),
    "helpers.explain.relevance.rules.ZBox": Call(lambda m, x, y, g: dict(low=0.0, high=1.0), awkward=False),
    **{
        f"helpers.explain.relevance.rules.{rule}.__call__": Skip(
            "lrp calls a rule on its private traced view of a layer (_Affine): lrp's entry runs every rule"
        )
        for rule in ("Rule", "Zero", "Epsilon", "Gamma", "ZPlus", "AlphaBeta", "ZBox", "Flat")
    },
    "helpers.explain.relevance.rules.redistribute": Call(
        lambda m, x, y, g: dict(
            z=torch.randn(2, 3, generator=g), terms=[(torch.randn(2, 3, generator=g), None)], stabilizer=1e-6
        ),
        awkward=False,
        differentiable=True,
    ),
    "helpers.explain.relevance.composites.Composite": Call(
        lambda m, x, y, g: dict(
            rules=[(nn.Linear, LRP.Epsilon(0.1)), ("1", LRP.Gamma(0.25))],
            first=LRP.ZBox(),
            stabilizer=1e-6,
        ),
        awkward=False,
    ),
    "helpers.explain.relevance.composites.Composite.rule_for": Call(
        lambda m, x, y, g: dict(
            self=LRP.one_rule(LRP.Epsilon(0.1)), name="1", layer=m[1], reads_pixels=True
        )
    ),
    "helpers.explain.relevance.composites.composite_for": Call(
        lambda m, x, y, g: dict(composite="epsilon_gamma_box", epsilon=0.1, gamma=0.25), awkward=False
    ),
    "helpers.explain.relevance.composites.one_rule": Call(
        lambda m, x, y, g: dict(rule=LRP.Gamma(0.25)), awkward=False
    ),
    "helpers.explain.spectral.Spray": RECORD,
    "helpers.explain.spectral.laplacian_spectrum": Call(
        lambda m, x, y, g: dict(maps=torch.rand(6, 1, 12, 12, generator=g), pool=2, neighbours=3)
    ),
    "helpers.explain.spectral.spray": Call(
        lambda m, x, y, g: dict(
            maps=torch.rand(6, 1, 12, 12, generator=g), max_clusters=3, pool=2, neighbours=3, seed=0
        )
    ),
    "helpers.explain.spectral.purity": Call(
        lambda m, x, y, g: dict(clusters=torch.tensor([0, 0, 1, 1]), truth=torch.tensor([1, 1, 0, 2]))
    ),
    # teaching tools (new)
    "helpers.grading.judge_points": Call(
        lambda m, x, y, g: dict(
            report=helpers.grading.Judgement(
                accuracy=0.2,
                clean_accuracy=0.9,
                baselines={"fgsm": [0.5, 0.45], "pgd": [0.1, 0.12]},
                max_levels=8,
            )
        ),
        awkward=False,
    ),
    "helpers.marking.roles": Call(lambda m, x, y, g: dict(nb=_notebook(), name="a.ipynb"), awkward=False),
    "helpers.marking.annotate": Call(lambda m, x, y, g: dict(nb=_notebook(), name="a.ipynb"), awkward=False),
    "helpers.marking.checksum": Call(
        lambda m, x, y, g: dict(cell=helpers.marking.annotate(_notebook(), "a.ipynb").cells[1]), awkward=False
    ),
    "helpers.marking.total_line": Call(
        lambda m, x, y, g: dict(
            found=helpers.marking.roles(_notebook(), "a.ipynb"), cells=_notebook().cells
        ),
        awkward=False,
    ),
    "helpers.marking.lock_for_students": Call(
        lambda m, x, y, g: dict(nb=helpers.marking.annotate(_notebook(), "a.ipynb")), awkward=False
    ),
    "helpers.marking.main": CLI,
    # i19: APGD, worst-case evaluation, a learned denoiser and detector
    "helpers.attacks.auto_pgd.apgd": Call(
        lambda m, x, y, g: dict(
            model=m, x=x, y=y, eps=0.1, steps=3, norm="inf", loss="ce", restarts=1, rho=0.75, momentum=0.75,
            targeted=False, generator=g,
        )
    ),
    "helpers.attacks.auto_pgd.apgd_checkpoints": Call(lambda m, x, y, g: dict(steps=10), awkward=False),
    "helpers.attacks.auto_pgd.dlr_loss": Call(
        lambda m, x, y, g: dict(logits=torch.randn(len(y), CLASSES, generator=g), y=y, targeted=False),
        differentiable=True,
    ),
    "helpers.attacks.evaluate.worst_case": Call(
        lambda m, x, y, g: dict(
            model=m, x=x, y=y, attacks={"fgsm": lambda a, b, c: attacks.fgsm(a, b, c, eps=0.1)}
        )
    ),
    "helpers.defenses.denoiser.ReconstructionDetector": Call(lambda m, x, y, g: dict(denoiser=_denoiser())),
    "helpers.defenses.denoiser.ReconstructionDetector.score": Call(
        lambda m, x, y, g: dict(self=_reconstruction_detector(), x=x), differentiable=True
    ),
    "helpers.defenses.denoiser.ReconstructionDetector.fit": Call(
        lambda m, x, y, g: dict(self=_reconstruction_detector(), clean=x, fpr=0.1)
    ),
    "helpers.defenses.denoiser.ReconstructionDetector.detect": Call(
        lambda m, x, y, g: dict(self=_reconstruction_detector().fit(x), x=x)
    ),
    "helpers.defenses.denoiser.reconstruction_error": Call(
        lambda m, x, y, g: dict(denoiser=_denoiser(), x=x), differentiable=True
    ),
    "helpers.attacks.adaptive.evade_detector": Call(
        lambda m, x, y, g: dict(
            model=m,
            detector=_reconstruction_detector().fit(x),
            x=x,
            y=y,
            eps=0.1,
            alpha=0.05,
            steps=2,
            weight=10.0,
        )
    ),
    "helpers.defenses.denoiser.train_denoiser": Call(
        lambda m, x, y, g: dict(
            denoiser=_denoiser(), classifier=m, images=x, labels=y, eps=0.1, sigma=0.1, steps=1, guide=0.1,
            epochs=1, lr=1e-3, batch_size=4, generator=g, progress=False,
        ),
        trains=True,
    ),
    "helpers.defenses.detection.tpr_at_fpr": Call(
        lambda m, x, y, g: dict(
            fpr=torch.tensor([0.0, 0.1, 0.5, 1.0]), tpr=torch.tensor([0.0, 0.6, 0.9, 1.0]), level=0.05
        ),
        awkward=False,
    ),
    "helpers.grading.Judgement.pass_lines": RECORD,
    "helpers.homework.HW6BlackBox": Call(lambda m, x, y, g: dict(model=m, output="probs", budget=100)),
    "helpers.homework.hw6_blackbox": NO_ARGS,
    "helpers.homework.hw6_figures": Skip("the judge's reference figures: tests/test_grading.py and "
                                         "tests/test_hw6_server.py"),
    "helpers.attacks.blackbox.BlackBox.budget": RECORD,
    "helpers.attacks.blackbox.BlackBox.queries": RECORD,
    # homework 6's server: a socket protocol, misused message by message in tests/test_hw6_server.py
    **{f"helpers.hw6_server.{name}": Skip("a server and its client: tests/test_hw6_server.py feeds it "
                                           "malformed messages, images and addresses")
       for name in ("PrivateBox", "PrivateBox.status", "PrivateBox.answer", "RemoteBlackBox",
                    "RemoteBlackBox.__call__", "RemoteBlackBox.budget", "RemoteBlackBox.queries",
                    "RemoteBlackBox.figures", "address", "load_private", "main", "make_server")},
    "helpers.models.denoisers.ResidualDenoiser": Call(
        lambda m, x, y, g: dict(body=nn.Conv2d(1, 1, 3, padding=1)), awkward=False
    ),
    "helpers.models.denoisers.fashion_denoiser": Call(lambda m, x, y, g: dict(width=4), awkward=False),
    "helpers.attacks.evaluate.robust_attacks": Call(lambda m, x, y, g: dict(eps=0.1), awkward=False),
}

# Where a negative number has a meaning: qualified name → argument names.
NEGATIVE_OK: dict[str, set[str]] = {
    "helpers.attacks.audio.db_radius": {"db"},  # decibels below the clip: negative is the point
    "helpers.attacks.audio.pgd_db": {"db"},
    "helpers.explain.relevance.rules.ZBox": {"low"},  # a pixel range, e.g. below 0 after centring
}
# Where −∞ in a result has a documented meaning: qualified name → what it marks.
MINUS_INF_OK: dict[str, str] = {
    "helpers.attacks.text.flip_scores": "a flip that is not allowed (padding, the same character)",
}
# Arguments whose misuse the battery cannot derive from the valid call: (name, argument, bad value builder).
EXTRA: list[tuple[str, str, Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.Generator], Any]]] = [
    ("helpers.attacks.physical.random_transforms", "scale", lambda m, x, y, g: (0.0, 0.0)),
    ("helpers.attacks.physical.random_transforms", "brightness", lambda m, x, y, g: (1.2, 0.8)),
    (
        "helpers.attacks.physical.apply_patch",
        "change",
        lambda m, x, y, g: {**attacks.random_transforms(len(x), generator=g), "scale": torch.zeros(len(x))},
    ),
    ("helpers.attacks.physical.apply_patch", "patch", lambda m, x, y, g: x[0] * float("nan")),
    ("helpers.attacks.physical.apply_patch", "mask", lambda m, x, y, g: torch.full((12, 12), 2.0)),
    (
        "helpers.explain.gradients.integrated_gradients",
        "baseline",
        lambda m, x, y, g: torch.full_like(x, float("nan")),
    ),
    ("helpers.explain.gradients.integrated_gradients", "baseline", lambda m, x, y, g: 2.0),
    (
        "helpers.explain.metrics.relevance_mass",
        "attributions",
        lambda m, x, y, g: torch.full_like(x, float("nan")),
    ),
    (
        "helpers.explain.metrics.pointing_game",
        "attributions",
        lambda m, x, y, g: torch.full_like(x, float("inf")),
    ),
    (
        "helpers.explain.metrics.deletion_curve",
        "attributions",
        lambda m, x, y, g: torch.full_like(x, float("nan")),
    ),
    ("helpers.defenses.filters.gaussian_blur", "sigma", lambda m, x, y, g: 10.0),
    ("helpers.zoo.load", "name", lambda m, x, y, g: ["fmnist_cnn"]),
    ("helpers.zoo.load", "device", lambda m, x, y, g: "banana"),
    ("helpers.grading.check", "exercise_id", lambda m, x, y, g: ["fgsm"]),
    ("helpers.attacks.whitebox.fgsm", "targeted", lambda m, x, y, g: "False"),
    ("helpers.attacks.transfer.ensemble", "models", lambda m, x, y, g: []),
    ("helpers.attacks.transfer.ensemble", "models", lambda m, x, y, g: m),
    ("helpers.attacks.geometry.decision_plane", "u", lambda m, x, y, g: torch.full_like(x[:1], float("nan"))),
]


def _public_callables() -> dict[str, Any]:
    """Every public function, class and public method of a class defined in ``helpers``."""
    found = {}
    for info in pkgutil.walk_packages(helpers.__path__, "helpers."):
        if info.name.rsplit(".", 1)[-1].startswith("_"):
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (
                name.startswith("_")
                or not callable(obj)
                or getattr(obj, "__module__", None) != module.__name__
            ):
                continue
            if inspect.isclass(obj) and issubclass(obj, BaseException):
                continue  # an exception is raised, not called with data
            found[f"{module.__name__}.{name}"] = obj
            if inspect.isclass(obj) and not issubclass(obj, nn.Module | nbformat.NotebookNode):
                for attr, member in vars(obj).items():
                    if (not attr.startswith("_") or attr == "__call__") and (
                        inspect.isfunction(member) or isinstance(member, property)
                    ):
                        found[f"{module.__name__}.{name}.{attr}"] = member
    return found


PUBLIC = _public_callables()


def test_every_public_callable_has_an_entry():
    missing = sorted(set(PUBLIC) - set(CALLS))
    assert not missing, (
        "add these public callables to CALLS in tests/test_misuse.py (a valid call, or a Skip "
        f"with its reason): {missing}"
    )
    stale = sorted(set(CALLS) - set(PUBLIC))
    assert not stale, f"CALLS names callables that no longer exist: {stale}"


# ---------------------------------------------------------------------------------------------- the battery


class _ShapeN(nn.Module):
    """Returns one number per input instead of N×K logits."""

    def __init__(self, inner: nn.Module | None = None) -> None:
        super().__init__()
        self.inner = tiny_cnn() if inner is None else inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x)[:, 0]


def _nan_model(make: Callable[..., nn.Module] = tiny_cnn) -> nn.Module:
    model = make().eval()
    with torch.no_grad():
        model[-1].weight[0, 0] = float("nan")
    return model


BAD_MODELS: dict[str, Callable[[], Any]] = {
    "not a module": lambda: lambda x: x,
    "returns shape N": lambda: _ShapeN().eval(),
    "returns N×1": lambda: tiny_cnn(classes=1).eval(),
    "returns NaN logits": _nan_model,
    "float64 model, float32 images": lambda: tiny_cnn().double().eval(),
}


def _bad_models(kind: str) -> dict[str, Callable[[], Any]]:
    """BAD_MODELS for the models of another kind of input (a keyword_cnn, a char_cnn)."""
    if kind == "images":
        return BAD_MODELS
    make = KINDS[kind][0]
    return {
        "not a module": lambda: lambda x: x,
        "returns shape N": lambda: _ShapeN(make()).eval(),
        "returns N×1": lambda: make(classes=1).eval(),
        "returns NaN logits": lambda: _nan_model(make),
        "float64 model, float32 images": lambda: make().double().eval(),
    }


def _bad_waveforms(x: torch.Tensor, has_model: bool) -> dict[str, tuple[Any, bool]]:
    """name → (value, must be refused), for waveforms N×T in [−1, 1]."""
    nan, inf = x.clone(), x.clone()
    nan[0, 5], inf[-1, 7] = float("nan"), float("inf")
    return {
        "float64": (x.double(), has_model),
        "float16": (x.half(), True),
        "int16 samples": ((x * 32767).to(torch.int16), True),
        "samples beyond ±1": (x * 3, True),
        "rank 1": (x[0], True),
        "rank 3": (x[None], True),
        "NaN sample": (nan, True),
        "inf sample": (inf, True),
        "empty batch": (x[:0], True),
        "a list": (x.tolist(), True),
    }


def _bad_tokens(x: torch.Tensor) -> dict[str, Any]:
    """name → value, each refused, for character indices int64 N×L."""
    out_of_range = x.clone()
    out_of_range[0, 0] = 39
    negative = x.clone()
    negative[-1, 1] = -1
    nan = x.double()
    nan[0, 0] = float("nan")
    return {
        "float tokens": x.float(),
        "NaN in float tokens": nan,
        "int32 tokens": x.int(),
        "index V": out_of_range,
        "index -1": negative,
        "rank 1": x[0],
        "rank 3": x[None],
        "empty batch": x[:0],
        "a list": x.tolist(),
    }


def _bad_images(x: torch.Tensor, has_model: bool) -> dict[str, tuple[Any, bool]]:
    """name → (value, must be refused)."""
    nan, inf = x.clone(), x.clone()
    nan[0, 0, 1, 1], inf[-1, 0, 2, 2] = float("nan"), float("inf")
    return {
        "float64": (x.double(), has_model),
        "float16": (x.half(), True),
        "uint8 0-255": ((x * 255).to(torch.uint8), True),
        "0-255 floats": (x * 255, True),
        "rank 3": (x[0], True),
        "rank 5": (x[None], True),
        "NaN pixel": (nan, True),
        "inf pixel": (inf, True),
        "empty batch": (x[:0], True),
        "a list": (x.tolist(), True),
    }


def _bad_labels(y: Any, n: int) -> dict[str, Any]:
    return {
        "class K": torch.full((n,), CLASSES),
        "class -1": torch.full((n,), -1),
        "one label too many": torch.zeros(n + 1, dtype=torch.int64),
        "float labels": torch.zeros(n),
        "2-D labels": torch.zeros(n, 1, dtype=torch.int64),
    }


def _bad_numbers(value: Any, annotation: str) -> dict[str, tuple[Any, str]]:
    """name → (value, "refuse" | "refuse-negative" | "refuse-or-finite")."""
    bad = {
        "NaN": (float("nan"), "refuse"),
        "inf": (float("inf"), "refuse"),
        "-inf": (-float("inf"), "refuse"),
        "negative": (-1 if isinstance(value, int) else -0.5, "refuse-negative"),
        "zero": (0 * value, "refuse-or-finite"),
    }
    if annotation.startswith("int"):
        bad["a float for an int"] = (2.5, "refuse")
    return bad


# ------------------------------------------------------------------------------------------------- running


def _annotation(param: inspect.Parameter) -> str:
    return (
        param.annotation if isinstance(param.annotation, str) else getattr(param.annotation, "__name__", "")
    )


def _target(name: str, obj: Any, kwargs: dict[str, Any]) -> tuple[Callable, dict[str, Any]]:
    kwargs = dict(kwargs)
    this = kwargs.pop("self", None)
    if this is not None:
        method = name.rsplit(".", 1)[-1]
        return getattr(this, method), kwargs
    return obj, kwargs


def _invoke(function: Callable, kwargs: dict[str, Any]) -> Any:
    params = inspect.signature(function).parameters
    args, rest = [], dict(kwargs)
    if any(p.kind == p.VAR_POSITIONAL for p in params.values()):
        for p in params.values():
            if p.kind == p.POSITIONAL_OR_KEYWORD and p.name in rest:
                args.append(rest.pop(p.name))
            elif p.kind == p.VAR_POSITIONAL:
                args.extend(rest.pop(p.name, []))
    return function(*args, **rest)


def _tensors(value: Any, depth: int = 0):
    if depth > 3:
        return
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _tensors(item, depth + 1)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _tensors(item, depth + 1)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            yield from _tensors(getattr(value, field.name), depth + 1)


def _modules(kwargs: dict[str, Any]) -> list[nn.Module]:
    found = []
    for value in kwargs.values():
        if isinstance(value, nn.Module):
            found.append(value)
        elif isinstance(value, attacks.BlackBox):
            found.append(value._model)
        elif isinstance(value, defenses.FeatureSqueezingDetector):
            found.append(value.model)
        elif isinstance(value, list):
            found += [v for v in value if isinstance(v, nn.Module)]
    return found


def _snapshot(kwargs: dict[str, Any]):
    tensors = [(t, t.detach().clone()) for v in kwargs.values() for t in _tensors(v)]
    modules = _modules(kwargs)
    modes = [(m, m.training) for model in modules for m in model.modules()]
    flags = [(p, p.requires_grad, p.grad) for model in modules for p in model.parameters()]
    return tensors, modes, flags


def _check_left_alone(snapshot, case: str) -> list[str]:
    tensors, modes, flags = snapshot
    problems = []
    if any(
        not (before.shape == t.shape and torch.equal(before.nan_to_num(), t.detach().nan_to_num()))
        for t, before in tensors
    ):
        problems.append(f"{case}: an input tensor was modified in place")
    if any(m.training != mode for m, mode in modes):
        problems.append(f"{case}: a submodule's train/eval mode was left changed")
    if any(p.requires_grad != flag for p, flag, _ in flags):
        problems.append(f"{case}: a parameter's requires_grad was left changed")
    if any(p.grad is not grad for p, _, grad in flags):
        problems.append(f"{case}: .grad was left on a parameter")
    return problems


def _last_frame(error: BaseException) -> str:
    return traceback.extract_tb(error.__traceback__)[-1].filename


def _own_error(error: BaseException) -> bool:
    """A refusal of the project's own: TypeError / ValueError, or an exception class helpers defines."""
    return isinstance(error, (TypeError, ValueError)) or type(error).__module__.startswith("helpers")


def _run(
    name: str,
    obj: Any,
    kwargs: dict[str, Any],
    case: str,
    *,
    argument: str | None,
    expect: str,
    trains: bool = False,
    ran: list[int] | None = None,
    differentiable: bool = False,
) -> list[str]:
    """Call, and return what went wrong: ``expect`` is "refuse", "succeed", "refuse-or-finite" or
    "refuse-if-run" (``ran`` counts the bad model's forward passes)."""
    function, kwargs = _target(name, obj, kwargs)
    snapshot = _snapshot(kwargs)
    problems = []
    try:
        result = _invoke(function, kwargs)
    except Exception as error:  # noqa: BLE001 - every exception is judged below
        where = _last_frame(error)
        if not _own_error(error) or not where.startswith(HELPERS_DIR):
            problems.append(f"{case}: {type(error).__name__} from {where}: {str(error)[:160]}")
        elif expect == "succeed" and not (trains and "trainable" in str(error)):
            problems.append(f"{case}: refused a valid call: {type(error).__name__}: {str(error)[:160]}")
        elif argument is not None and argument.split("[")[0] not in str(error):
            problems.append(f"{case}: the message does not name {argument!r}: {str(error)[:160]}")
    else:
        if expect == "refuse" or (expect == "refuse-if-run" and ran and ran[0] > 0):
            problems.append(f"{case}: returned a result instead of refusing")
        for out in _tensors(result):
            if name in MINUS_INF_OK and out.is_floating_point():
                out = out.masked_fill(out == -math.inf, 0.0)
            if out.is_floating_point() and not bool(torch.isfinite(out).all()):
                problems.append(f"{case}: returned NaN or infinite values")
                break
            if not differentiable and (out.requires_grad or out.grad_fn is not None):
                problems.append(f"{case}: returned a tensor attached to the graph")
                break
        if isinstance(result, float) and not math.isfinite(result):
            problems.append(f"{case}: returned {result}")
    return problems + _check_left_alone(snapshot, case)


def _counting(model: nn.Module) -> list[int]:
    """Count the forward passes of any leaf module of ``model`` (lrp runs the layers, not the model)."""
    count = [0]

    def hook(*_):
        count[0] += 1

    for m in model.modules():
        if not list(m.children()):
            m.register_forward_pre_hook(hook)
    return count


def _awkward_inputs(
    kind: str = "images",
) -> dict[str, Callable[[], tuple[nn.Module, torch.Tensor, torch.Tensor]]]:
    def base():
        return _base(kind)

    def batch_of_one():
        m, x, y = base()
        return m, x[:1], y[:1]

    def channels_last():
        m, x, y = base()
        return m, x.contiguous(memory_format=torch.channels_last), y

    def non_contiguous():
        m, x, y = base()
        return m, x.transpose(2, 3).contiguous().transpose(2, 3), y

    def requires_grad():
        m, x, y = base()
        return m, x.clone().requires_grad_(True), y

    def train_mode():
        m, x, y = base()
        return m.train(), x, y

    def one_dropout_in_train_mode():
        m, x, y = base()
        m[7].train()
        return m, x, y

    def frozen():
        m, x, y = base()
        m.requires_grad_(False)
        return m, x, y

    if kind != "images":  # no channels_last, no dropout; indices cannot require grad
        awkward = {"batch of 1": batch_of_one, "model in train mode": train_mode, "frozen model": frozen}
        if kind == "waveforms":
            awkward["non-contiguous"] = lambda: (lambda m, x, y: (m, x.t().contiguous().t(), y))(*base())
            awkward["x requires grad"] = requires_grad
        return awkward
    return {
        "batch of 1": batch_of_one,
        "channels_last": channels_last,
        "non-contiguous": non_contiguous,
        "x requires grad": requires_grad,
        "model in train mode": train_mode,
        "one dropout left in train mode": one_dropout_in_train_mode,
        "frozen model": frozen,
    }


def _misuse(name: str) -> list[str]:
    entry, obj = CALLS[name], PUBLIC[name]
    if isinstance(entry, Skip):
        return []
    g = torch.Generator().manual_seed(0)
    model, x, y = _base(entry.inputs)
    valid = entry.build(model, x, y, g)
    function, _ = _target(name, obj, valid)
    params = {p.name: p for p in inspect.signature(function).parameters.values()}
    problems = _run(
        name,
        obj,
        valid,
        f"{name}(valid call)",
        argument=None,
        expect="succeed",
        differentiable=entry.differentiable,
    )
    has_model = any(isinstance(v, (nn.Module, attacks.BlackBox)) for v in valid.values()) or "self" in valid

    def fresh() -> dict[str, Any]:
        torch.manual_seed(0)
        return entry.build(*_base(entry.inputs), torch.Generator().manual_seed(0))

    for arg, param in params.items():
        value = valid.get(arg, param.default)
        if value is inspect.Parameter.empty:
            continue
        cases: list[tuple[str, Any, str]] = []
        if arg in IMAGE_NAMES - entry.not_images and isinstance(value, torch.Tensor) and value.dim() == 4:
            cases += [
                (what, bad, "refuse" if must else "refuse-or-finite")
                for what, (bad, must) in _bad_images(value, has_model).items()
            ]
        elif (
            arg in (IMAGE_NAMES | {"waveforms"}) - entry.not_images
            and entry.inputs == "waveforms"
            and isinstance(value, torch.Tensor)
            and value.dim() == 2
        ):
            cases += [
                (what, bad, "refuse" if must else "refuse-or-finite")
                for what, (bad, must) in _bad_waveforms(value, has_model).items()
            ]
        elif arg == "tokens" and isinstance(value, torch.Tensor) and value.dtype == torch.int64:
            cases += [(what, bad, "refuse") for what, bad in _bad_tokens(value).items()]
        elif arg in LABEL_NAMES and (isinstance(value, torch.Tensor) or type(value) is int):
            n = (
                value.shape[0]
                if isinstance(value, torch.Tensor)
                else len(valid.get("x", valid.get("images", valid.get("tokens", [0]))))
            )
            cases += [(what, bad, "refuse") for what, bad in _bad_labels(value, n).items()]
            if type(value) is int:
                cases.pop(2)  # an int has no length to get wrong
        elif arg == "model" and isinstance(value, nn.Module):
            for what, make in _bad_models(entry.inputs).items():
                problems += _bad_model_case(
                    name, obj, fresh, arg, what, make, differentiable=entry.differentiable
                )
        elif isinstance(value, attacks.BlackBox):
            for what, make in BAD_MODELS.items():
                if what != "not a module":
                    problems += _bad_model_case(name, obj, fresh, arg, what, make, wrap=True)
        elif _annotation(param).startswith("bool") and isinstance(value, bool):
            cases.append(('"False"', "False", "refuse"))
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and arg not in LABEL_NAMES:
            for what, (bad, rule) in _bad_numbers(value, _annotation(param)).items():
                if rule == "refuse-negative":
                    rule = "refuse-or-finite" if arg in NEGATIVE_OK.get(name, set()) else "refuse"
                cases.append((what, bad, rule))
        elif _annotation(param) == "str" and isinstance(value, str):
            cases.append(("a list for a str", [value], "refuse"))
        for what, bad, expect in cases:
            kwargs = fresh()
            kwargs[arg] = bad
            problems += _run(
                name, obj, kwargs, f"{name}({arg}={what})", argument=arg, expect=expect,
                differentiable=entry.differentiable,
            )

    for extra_name, arg, make in EXTRA:
        if extra_name == name:
            kwargs = fresh()
            kwargs[arg] = make(*_base(entry.inputs), torch.Generator().manual_seed(0))
            problems += _run(
                name,
                obj,
                kwargs,
                f"{name}({arg}=<{type(kwargs[arg]).__name__} from EXTRA>)",
                argument=arg,
                expect="refuse",
            )

    if entry.awkward:
        for what, make in _awkward_inputs(entry.inputs).items():
            m, xa, ya = make()
            kwargs = entry.build(m, xa, ya, torch.Generator().manual_seed(0))
            problems += _run(
                name,
                obj,
                kwargs,
                f"{name}[{what}]",
                argument=None,
                expect="succeed",
                trains=entry.trains and what == "frozen model",
                differentiable=entry.differentiable,
            )
    return problems


def _bad_model_case(
    name, obj, fresh, arg, what, make, wrap: bool = False, differentiable: bool = False
) -> list[str]:
    bad = make()
    ran = _counting(bad) if isinstance(bad, nn.Module) else [0]
    kwargs = fresh()
    if wrap:
        old = kwargs[arg]
        kwargs[arg] = attacks.BlackBox(bad, output=old.output, budget=old.budget)
        if "self" in kwargs:
            return []
    elif "self" in kwargs:
        return []
    else:
        kwargs[arg] = bad
    expect = "refuse" if what in ("not a module", "float64 model, float32 images") else "refuse-if-run"
    if what.startswith("float64") and not any(k in IMAGE_NAMES for k in kwargs):
        expect = "refuse-or-finite"  # nothing to compare the model's dtype with
    return _run(
        name,
        obj,
        kwargs,
        f"{name}({arg}: {what})",
        argument="model" if not wrap else "model",
        expect=expect,
        ran=ran,
        differentiable=differentiable,
    )


@pytest.fixture
def no_png(monkeypatch):
    """The explorers build their figures as usual, but skip rasterising them: the contract is under test."""
    from helpers import widgets

    monkeypatch.setattr(widgets, "_png", lambda figure: b"")


@pytest.mark.parametrize("name", sorted(n for n, e in CALLS.items() if isinstance(e, Call)))
def test_misuse(name, no_png):
    if name not in PUBLIC:
        pytest.skip("stale entry: test_every_public_callable_has_an_entry reports it")
    torch.set_num_threads(1)
    problems = _misuse(name)
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems)


def test_the_battery_catches_a_silent_result():
    """The test can fail: a function that clamps bad pixels and ignores NaN options is caught."""

    def careless(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float) -> torch.Tensor:
        return (x + eps).clamp(0, 1).detach()

    CALLS["tests.careless"] = Call(lambda m, x, y, g: dict(model=m, x=x, y=y, eps=0.1))
    PUBLIC["tests.careless"] = careless
    try:
        problems = _misuse("tests.careless")
    finally:
        del CALLS["tests.careless"], PUBLIC["tests.careless"]
    assert any("returned a result instead of refusing" in p for p in problems)
    assert any("(eps=NaN)" in p for p in problems)


def test_wrappers_are_views():
    """Wrapping never changes the wrapped models' modes (the issue's Ensemble / Defended / eot cases)."""
    m1, m2 = tiny_cnn().eval(), tiny_cnn(seed=1).train()
    attacks.ensemble([m1, m2])
    assert not any(m.training for m in m1.modules()) and all(m.training for m in m2.modules())
    inner = tiny_cnn().eval()
    inner[7].train()  # a dropout the user left in train mode on purpose
    for wrapper in (
        defenses.Defended(nn.Sequential(inner), defenses.median_filter),
        attacks.eot(inner, defenses.median_filter, 2),
    ):
        assert [m.training for m in inner.modules()] == [i == 8 for i in range(len(list(inner.modules())))]
        del wrapper


# ------------------------------------------------------------------------------------- files the user gives


def _idx(array, path: Path) -> None:
    import gzip

    import numpy as np

    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    path.write_bytes(gzip.compress(header + array.tobytes(), mtime=0))


def _sums(folder: Path) -> None:
    import hashlib

    lines = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}\n" for p in sorted(folder.glob("*.gz"))]
    (folder / "SHA256SUMS").write_text("".join(lines))


@pytest.mark.parametrize(
    "images, labels, message",
    [
        ((10, 28, 28), [200, 255, 3], "one label per image"),
        ((3, 28, 28), [200, 255, 3], "classes 0…9"),
        ((3, 20, 20), [1, 2, 3], "28×28"),
    ],
)
def test_a_custom_fashion_mnist_root_is_checked_for_consistency(tmp_path, images, labels, message):
    """A root's own SHA256SUMS vouches only for itself: counts, label range and image size are checked."""
    import numpy as np

    from helpers.data import fashion_mnist

    _idx(np.zeros(images), tmp_path / "t10k-images-idx3-ubyte.gz")
    _idx(labels, tmp_path / "t10k-labels-idx1-ubyte.gz")
    _sums(tmp_path)
    with pytest.raises(ValueError, match=message):
        fashion_mnist("test", root=tmp_path)


def test_a_file_without_an_idx_header_is_refused(tmp_path):
    import gzip

    from helpers.data import fashion_mnist

    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"not an idx file at all", mtime=0))
    _idx([1, 2], tmp_path / "t10k-labels-idx1-ubyte.gz")
    _sums(tmp_path)
    with pytest.raises(ValueError, match="IDX header"):
        fashion_mnist("test", root=tmp_path)


def test_a_malformed_sha256sums_line_is_refused_naming_the_line(tmp_path, monkeypatch):
    import shutil

    from helpers import zoo

    shutil.copy(zoo.checkpoint_path("shapes_cnn"), tmp_path / "shapes_cnn.pt")
    (tmp_path / "SHA256SUMS").write_text(f"{'0' * 64}  shapes_cnn.pt\nthis line is broken\n")
    monkeypatch.setattr(zoo, "MODELS_DIR", tmp_path)
    with pytest.raises(ValueError, match=r"SHA256SUMS, line 2 is not"):
        zoo.load("shapes_cnn", device="cpu")


class _NotWeights(dict):
    """Pickled as a global that weights_only loading refuses."""


def test_a_checkpoint_that_is_not_plain_weights_gets_the_projects_refusal(tmp_path, monkeypatch):
    import hashlib
    import pickle

    from helpers import zoo

    torch.save(_NotWeights(a=torch.zeros(1)), tmp_path / "shapes_cnn.pt")
    digest = hashlib.sha256((tmp_path / "shapes_cnn.pt").read_bytes()).hexdigest()
    (tmp_path / "SHA256SUMS").write_text(f"{digest}  shapes_cnn.pt\n")
    monkeypatch.setattr(zoo, "MODELS_DIR", tmp_path)
    with pytest.raises(ValueError, match="not a state dict of shapes_cnn") as caught:
        zoo.load("shapes_cnn", device="cpu")
    assert "weights_only=False" not in str(caught.value)
    assert not isinstance(caught.value, pickle.UnpicklingError)


def test_release_never_writes_through_a_symlink_into_the_notebooks(tmp_path):
    from helpers import release

    notebooks = _tiny_notebooks(tmp_path)
    before = (notebooks / "a.ipynb").read_bytes()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "student").symlink_to(notebooks, target_is_directory=True)
    with pytest.raises(release.ReleaseError, match="inside"):
        release.release(tmp_path / "out", notebooks=notebooks, html=False)
    assert (notebooks / "a.ipynb").read_bytes() == before
    assert not (tmp_path / "out" / "solution").exists(), "nothing is written once a path is refused"


@pytest.mark.parametrize("marker", ["### Begin Solution", "### end SOLUTION", "## BEGIN HIDDEN TESTS"])
def test_release_refuses_a_mis_cased_marker_naming_notebook_and_cell(tmp_path, marker):
    from helpers import release

    folder = tmp_path / "nbs"
    folder.mkdir()
    cells = [nbformat.v4.new_markdown_cell("intro"), nbformat.v4.new_code_cell(f"{marker}\nanswer = 42")]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), folder / "b.ipynb")
    with pytest.raises(release.ReleaseError, match=r"b\.ipynb, cell 1, line 1"):
        release.release(tmp_path / "out", notebooks=folder, html=False)


def _boom(*_):
    raise RuntimeError("boom")


@pytest.mark.parametrize(
    "run",
    [
        lambda m, x, y: helpers.training.train(m, x, y, epochs=1, lr=1e-3, loss_fn=_boom, progress=False),
        lambda m, x, y: defenses.adversarial_training(m, x, y, attack=_boom, rounds=1, progress=False),
        lambda m, x, y: defenses.pgd_training(
            m, x, y, eps=0.1, alpha=0.05, steps=1, epochs=1, progress=False,
            generator=torch.Generator().manual_seed(0),
        ) and _boom(),
        lambda m, x, y: attacks.fgsm(defenses.Defended(m, _boom), x, y, eps=0.1),
        lambda m, x, y: attacks.pgd(attacks.eot(m, _boom, 2), x, y, eps=0.1, alpha=0.05, steps=1),
    ],
    ids=["train", "adversarial_training", "pgd_training", "Defended", "eot"],
)
def test_every_submodule_mode_comes_back_on_an_error_path(run):
    """An error half-way (a failing loss, attack or filter) leaves each submodule in the mode it was in."""
    import helpers.training  # noqa: F401

    model = tiny_cnn().eval()
    model[7].train()  # a dropout the user left in train mode on purpose
    modes = [m.training for m in model.modules()]
    x, y = tiny_batch(4)
    with pytest.raises(RuntimeError, match="boom"):
        run(model, x, y)
    assert [m.training for m in model.modules()] == modes
    assert all(p.grad is None for p in model.parameters())


# ------------------------------------------------------------------------------- outputs that are not logits

class _Softmaxed(nn.Module):
    """A model with the pitfall: a softmax left at its end, so it returns probabilities."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x).softmax(1)


PROBABILITY_CALLS = sorted(
    name for name, entry in CALLS.items()
    if isinstance(entry, Call) and entry.inputs == "images" and name in PUBLIC
    and isinstance(entry.build(*_base("images"), torch.Generator().manual_seed(0)).get("model"), nn.Module)
    and "self" not in entry.build(*_base("images"), torch.Generator().manual_seed(0))
)


@pytest.mark.parametrize("name", PROBABILITY_CALLS)
def test_a_model_returning_probabilities_is_never_silent(name, no_png):
    """Every public function that runs a model given as ``model`` warns, naming the pitfall, when its
    outputs are probabilities — or refuses it (lrp: no rule for a softmax); the training loops, whose
    cross-entropy would be meaningless, refuse."""
    import warnings

    entry = CALLS[name]
    torch.manual_seed(0)
    kwargs = entry.build(*_base("images"), torch.Generator().manual_seed(0))
    kwargs["model"] = _Softmaxed(kwargs["model"])
    ran = _counting(kwargs["model"])
    function, kwargs = _target(name, PUBLIC[name], kwargs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            _invoke(function, kwargs)
        except Exception as error:  # noqa: BLE001 - judged below
            assert _own_error(error), f"{type(error).__name__} from {_last_frame(error)}: {error}"
            assert not entry.trains or "probabilities" in str(error), str(error)
            return
    if ran[0] == 0:
        return  # the function never ran the model
    assert not entry.trains, "a training loop must refuse a model that returns probabilities"
    assert any("returned probabilities" in str(w.message) and "logits" in str(w.message)
               and "softmax" in str(w.message) for w in caught), f"{name} ran a softmax model silently"


def test_the_probability_check_leaves_logits_and_black_box_probabilities_alone():
    """Logits that happen to be small raise nothing; a BlackBox answering probabilities is what a
    black-box attack expects, so SimBA and Square on it do not warn."""
    import warnings

    from helpers._checks import check_logits

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_logits(torch.tensor([[0.2, 0.3], [0.9, 0.05]]))  # in [0, 1], but rows do not sum to 1
        check_logits(torch.tensor([[0.5, 0.5], [1.5, -0.5]]))  # rows sum to 1, but not in [0, 1]
        x, y = tiny_batch(2)
        for output in ("probs", "logits"):
            g = torch.Generator().manual_seed(0)
            attacks.simba(attacks.BlackBox(tiny_cnn(), output=output), x, y, eps=0.1, max_queries=20,
                          generator=g)
            attacks.square_attack(attacks.BlackBox(tiny_cnn(), output=output), x, y, eps=0.1, max_queries=20,
                                  generator=g)
    with pytest.warns(UserWarning, match="returned probabilities"):
        check_logits(torch.tensor([[0.2, 0.8], [1.0, 0.0]]))
    with pytest.raises(ValueError, match="model must return logits for this loss; it returned probabilities"):
        check_logits(torch.tensor([[0.2, 0.8], [1.0, 0.0]]), probabilities="refuse")


class _Returns(nn.Module):
    """tiny_cnn's logits passed through ``make``: a model whose output is not N×K finite logits."""

    def __init__(self, make: Callable[[torch.Tensor], Any]) -> None:
        super().__init__()
        self.inner, self.make = tiny_cnn(), make

    def forward(self, x: torch.Tensor) -> Any:
        return self.make(self.inner(x))


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda z: z[:, 0], ValueError, r"must return logits 4×K .* got shape \(4,\)"),
        (lambda z: z[:, :1], ValueError, r"must return logits 4×K .* got shape \(4, 1\)"),
        (lambda z: (z, z), TypeError, "must return a tensor of logits N×K; it returned tuple"),
        (lambda z: z * float("nan"), ValueError, "returned NaN or infinite logits"),
        (lambda z: z[:, :, None, None].expand(-1, -1, 2, 2), ValueError, r"got shape \(4, 5, 2, 2\)"),
    ],
    ids=["N", "N×1", "tuple", "NaN", "N×K×2×2"],
)
def test_defended_checks_its_models_output(make, error, message):
    x, _ = tiny_batch(4)
    defended = defenses.Defended(_Returns(make).eval(), defenses.median_filter)
    with pytest.raises(error, match=message) as caught:
        defended(x)
    assert "Defended's model (_Returns)" in str(caught.value)


@pytest.mark.parametrize("metric", [explain.pointing_game, explain.relevance_mass])
def test_masks_of_another_size_than_the_attributions_are_refused(metric):
    masks = torch.zeros(2, 1, 12, 12, dtype=torch.bool)
    masks[:, :, 3, 3] = True
    small = masks[..., :6, :6]
    for attributions, mask in ((torch.rand(2, 1, 6, 6), masks), (torch.rand(2, 3, 12, 12), small)):
        with pytest.raises(ValueError) as caught:
            metric(attributions, mask)
        message = str(caught.value)
        assert "masks and attributions must have the same height × width" in message
        assert str(tuple(mask.shape)) in message and str(tuple(attributions.shape)) in message
