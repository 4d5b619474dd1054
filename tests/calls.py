"""One valid call of every public callable of ``helpers``: the table ``CALLS``, read by three tests.

- ``tests/test_contract.py`` runs each entry that takes a ``model`` on every device, the model in train and
  in eval mode, and checks the tensor contract of DESIGN.md (inputs, modes, ``requires_grad`` and weights
  left as they were, results detached and on the input's device); it fails on a public function with a
  model and an image argument that has no entry here.
- ``tests/test_misuse.py`` derives bad and awkward arguments from every entry (the battery), and fails on a
  public callable — function, class, public method — that has neither a valid call nor a ``Skip`` here.
- ``tests/test_generators.py`` calls each entry with a ``generator`` to check what ``generator=None`` means.

An entry's ``build(model, x, y, generator)`` returns the call's arguments by name (``self`` binds a method);
``model``, ``x`` and ``y`` are a tiny model and a batch of the entry's kind of input (``inputs``); the
contract runs them on every device, so a build that takes a model makes its tensors on ``x.device``.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import torch
from torch import nn

import helpers
import helpers.attacks.glasses
import helpers.faces
from helpers import attacks, defenses, explain
from tests.conftest import tiny_batch, tiny_cnn

LRP = importlib.import_module("helpers.explain.relevance")  # the package behind ``explain.lrp``
CLASSES = 5


@dataclasses.dataclass(frozen=True)
class Call:
    """A valid call: ``build(model, x, y, generator) -> {argument: value}`` (``self`` binds a method).
    ``awkward=False`` where the function needs fixed data, so the battery's awkward batches do not apply."""

    build: Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.Generator], dict[str, Any]]
    awkward: bool = True
    trains: bool = False  # its purpose is to change the model's weights; a frozen model is refused
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
    return Path(tempfile.mkdtemp(prefix="calls-"))


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


def base_inputs(kind: str, n: int = 4) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """A tiny model of ``kind`` in eval mode, a batch of ``n`` inputs and their labels (CLASSES classes)."""
    make_model, make_batch = KINDS[kind]
    x, y = make_batch(n)
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


def _denoiser(device: torch.device | str = "cpu") -> nn.Module:
    torch.manual_seed(0)
    return helpers.models.fashion_denoiser(width=4).eval().to(device)


def _reconstruction_detector(device: torch.device | str = "cpu"):
    return defenses.denoiser.ReconstructionDetector(_denoiser(device))


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
            mask=torch.ones(12, 12, device=x.device),
            change=attacks.random_transforms(len(x), generator=g),
        ),
        differentiable=True,
    ),
    "helpers.attacks.physical.adversarial_patch": Call(
        lambda m, x, y, g: dict(
            model=m, images=x, target=1, mask=torch.ones(12, 12, device=x.device), steps=2, lr=0.05,
            batch_size=4, generator=g,
        )
    ),
    "helpers.attacks.whitebox.fgsm": Call(
        lambda m, x, y, g: dict(model=m, x=x, y=y, eps=0.1, targeted=False)
    ),
    "helpers.attacks.whitebox.rfgsm": Call(
        lambda m, x, y, g: dict(model=m, x=x, y=y, eps=0.1, alpha=0.05, targeted=False, generator=g)
    ),
    "helpers.attacks.whitebox.ifgsm": Call(
        lambda m, x, y, g: dict(model=m, x=x, y=y, eps=0.1, alpha=0.02, steps=2)
    ),
    "helpers.attacks.whitebox.pgd": Call(
        lambda m, x, y, g: dict(
            model=m, x=x, y=y, eps=0.5, alpha=0.1, steps=2, norm="2", restarts=2, random_start=True,
            generator=g,
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
    "helpers.data.fashion.fashion_mnist": Call(lambda m, x, y, g: dict(split="test"), awkward=False),
    "helpers.data.synthetic.shapes": Call(lambda m, x, y, g: dict(n=2, size=16, seed=0), awkward=False),
    "helpers.data.synthetic.shapes_split": Call(lambda m, x, y, g: dict(split="test", n=2), awkward=False),
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
    "helpers.attacks.adaptive.Detector": Skip("a Protocol, the interface evade_detector reads: not built"),
    "helpers.attacks.adaptive.Detector.score": Skip("a Protocol method: see ReconstructionDetector.score"),
    "helpers.attacks.adaptive.eot": Call(
        lambda m, x, y, g: dict(model=m, transform=defenses.median_filter, n=2)
    ),
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
    "helpers.imaging.gaussian_blur": Call(
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
        lambda m, x, y, g: dict(model=m, x=x, target=y, n=2, noise_level=0.1, kind="vargrad", generator=g,
                                batch_size=5)
    ),
    "helpers.explain.gradients.gradient_shap": Call(
        lambda m, x, y, g: dict(model=m, x=x, target=y, n=2, sigma=0.1, generator=g,
                                baselines=torch.rand(3, *x.shape[1:], device=x.device))
    ),
    "helpers.explain.relevance.propagation.lrp": Call(
        lambda m, x, y, g: dict(
            model=m, x=x, target=y, composite="epsilon_gamma_box", epsilon=0.1, gamma=0.25
        )
    ),
    "helpers.explain.relevance.propagation.conservation": Call(
        lambda m, x, y, g: dict(model=m, x=x, target=y, rule="gamma", gamma=0.25)
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
    "helpers.explain.metrics.faithfulness.deletion_curve": Call(
        lambda m, x, y, g: dict(
            model=m, x=x, target=y, attributions=torch.rand_like(x), steps=3, fill=0.0, sigma=1.0, noise=0.01,
            generator=g, batch_size=5
        )
    ),
    "helpers.explain.metrics.faithfulness.insertion_curve": Call(
        lambda m, x, y, g: dict(
            model=m, x=x, target=y, attributions=torch.rand_like(x), steps=3, fill="road", sigma=1.0,
            noise=0.01, generator=g, batch_size=5
        )
    ),
    "helpers.explain.metrics.faithfulness.auc": Call(
        lambda m, x, y, g: dict(curve=torch.rand(3, 5, generator=g)),
    ),
    "helpers.explain.metrics.localisation.pointing_game": Call(
        lambda m, x, y, g: dict(attributions=x, masks=torch.ones(len(x), 1, 12, 12, dtype=torch.bool),
                                tolerance=1.0)
    ),
    "helpers.explain.metrics.localisation.relevance_mass": Call(
        lambda m, x, y, g: dict(attributions=x, masks=torch.ones(len(x), 1, 12, 12, dtype=torch.bool))
    ),
    "helpers.explain.metrics.localisation.roughness": Call(
        lambda m, x, y, g: dict(attributions=x, signed=True),
    ),
    "helpers.explain.metrics.sanity.spearman": Call(
        lambda m, x, y, g: dict(a=torch.rand(3, 6, generator=g), b=torch.rand(3, 6, generator=g))
    ),
    "helpers.explain.metrics.sanity.ssim_map": Call(
        lambda m, x, y, g: dict(a=torch.rand(2, 8, 8, generator=g), b=torch.rand(2, 8, 8, generator=g),
                                data_range=1.0, window=7)
    ),
    "helpers.explain.metrics.sanity.randomization_test": Call(
        lambda m, x, y, g: dict(
            model=m, x=x, target=y, method=explain.saliency, order="independent", absolute=True,
            pixels=torch.ones(len(x), 1, 12, 12, dtype=torch.bool, device=x.device), similarity="ssim",
            generator=g,
        )
    ),
    "helpers.explain.perturbation.window_masks": Call(
        lambda m, x, y, g: dict(height=6, width=5, window=(2, 2), stride=(2, 1))
    ),
    "helpers.explain.perturbation.occlusion": Call(
        lambda m, x, y, g: dict(model=m, x=x, target=y, window=4, stride=3, baseline=0.0, batch_size=7)
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
    "helpers.course.exercises.Exercise": RECORD,
    "helpers.course.exercises.Question": RECORD,
    "helpers.course.grading.Judgement": RECORD,
    "helpers.course.grading.Judgement.beaten": RECORD,
    "helpers.course.grading.check": Call(
        lambda m, x, y, g: dict(exercise_id="pointing_game", answer=explain.pointing_game), awkward=False
    ),
    "helpers.course.grading.judge": Skip(
        "homework 6's judge: checked by tests/test_grading.py on the homework's images"
    ),
    "helpers.course.homework.HW5Data": RECORD,
    "helpers.course.homework.HW6Data": RECORD,
    "helpers.course.homework.hw5_data": NO_ARGS,
    "helpers.course.homework.hw5_reference": NO_ARGS,
    "helpers.course.homework.hw6_data": NO_ARGS,
    "helpers.course.homework.hw6_baselines": Skip(
        "attacks the homework's 128 images: tests/test_grading.py runs it"
    ),
    "helpers.course.homework.hw6_pass_lines": Skip(
        "the minimum of hw6_baselines: tests/test_grading.py checks it",
    ),
    "helpers.course.homework.hw5_explain": Call(lambda m, x, y, g: dict(model=m, x=x, y=y, cam_layer=m[2])),
    "helpers.course.homework.to_uint8_and_back": Call(lambda m, x, y, g: dict(x=x)),
    "helpers.course.release.Block": RECORD,
    "helpers.course.release.split_cell": Call(
        lambda m, x, y, g: dict(
            source="### BEGIN SOLUTION\nx = 1\n### END SOLUTION", cell_type="code", where="a.ipynb, cell 0"
        ),
        awkward=False,
    ),
    "helpers.course.release.student_version": Call(
        lambda m, x, y, g: dict(
            nb=nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")]), name="a"
        ),
        awkward=False,
    ),
    "helpers.course.release.release": Call(
        lambda m, x, y, g: dict(out=_tmp() / "out", notebooks=_tiny_notebooks(_tmp()), html=False),
        awkward=False,
    ),
    "helpers.course.release.main": CLI,
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
        lambda m, x, y, g: dict(model=m, x=x, y=y, attack="PGD (20 steps)", eps=0.05)
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
    "helpers.data.fashion.add_tag": Call(lambda m, x, y, g: dict(images=x)),
    "helpers.data.fashion.tag_mask": Call(lambda m, x, y, g: dict(size=12), awkward=False),
    "helpers.data.fashion.tagged_fashion_mnist": Call(
        lambda m, x, y, g: dict(split="test", tags="shortcut", classes=(6,), fraction=0.9, seed=0),
        awkward=False,
    ),
    "helpers.data.speech_text.spoken_digits": Call(
        lambda m, x, y, g: dict(split="test", with_settings=False), awkward=False
    ),
    "helpers.data.speech_text.words": Call(
        lambda m, x, y, g: dict(split="test", as_strings=False), awkward=False,
    ),
    "helpers.data.photos.photo": Call(lambda m, x, y, g: dict(name="coffee"), awkward=False),
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
    "helpers.faces.cascade.FaceDetector": Call(
        lambda m, x, y, g: dict(networks=helpers.faces.mtcnn()), awkward=False
    ),
    "helpers.faces.cascade.detect": Call(
        lambda m, x, y, g: dict(images=torch.rand(1, 3, 24, 30, generator=g)), awkward=False
    ),
    "helpers.faces.cascade.face_score": Call(
        lambda m, x, y, g: dict(images=torch.rand(1, 3, 24, 30, generator=g)), awkward=False
    ),
    "helpers.faces.cascade.cascade_loss": Call(
        lambda m, x, y, g: dict(images=torch.rand(1, 3, 24, 30, generator=g), margin=0.1), awkward=False
    ),
    "helpers.faces.cascade.pyramid": Call(
        lambda m, x, y, g: dict(height=100, width=80, min_face_size=20, factor=0.709), awkward=False
    ),
    "helpers.faces.networks.mtcnn": Call(lambda m, x, y, g: dict(device="cpu"), awkward=False),
    "helpers.faces.networks.classifier": Call(
        lambda m, x, y, g: dict(net=helpers.faces.mtcnn().onet), awkward=False,
    ),
    "helpers.faces.networks.PNet": NO_ARGS,
    "helpers.faces.networks.RNet": NO_ARGS,
    "helpers.faces.networks.ONet": NO_ARGS,
    "helpers.faces.cascade.Faces": RECORD,
    "helpers.faces.networks.Networks": RECORD,
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
        lambda m, x, y, g: dict(model=m, x=x, mask=torch.ones_like(x, dtype=torch.bool)), differentiable=True
    ),
    "helpers.explain.guided.rrr_loss": Call(
        lambda m, x, y, g: dict(model=m, x=x, y=y, mask=torch.ones_like(x, dtype=torch.bool), weight=2.0),
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
            "lrp calls a rule on its traced view of a layer (Affine): lrp's entry runs every rule"
        )
        for rule in ("Rule", "Zero", "Epsilon", "Gamma", "ZPlus", "AlphaBeta", "ZBox", "Flat")
    },
    "helpers.explain.relevance.rules.Affine": Skip(
        "lrp's view of a traced Conv2d or Linear, BatchNorm folded: test_explain_lrp.py checks the folding"
    ),
    "helpers.explain.relevance.rules.Affine.__call__": Skip("runs the layer for a rule: see Affine"),
    "helpers.explain.relevance.rules.Pixels": RECORD,
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
    "helpers.course.grading.judge_points": Call(
        lambda m, x, y, g: dict(
            report=helpers.course.grading.Judgement(
                accuracy=0.2,
                clean_accuracy=0.9,
                baselines={"fgsm": [0.5, 0.45], "pgd": [0.1, 0.12]},
                max_levels=8,
            )
        ),
        awkward=False,
    ),
    "helpers.course.marking.roles": Call(
        lambda m, x, y, g: dict(nb=_notebook(), name="a.ipynb"), awkward=False,
    ),
    "helpers.course.marking.annotate": Call(
        lambda m, x, y, g: dict(nb=_notebook(), name="a.ipynb"), awkward=False,
    ),
    "helpers.course.marking.checksum": Call(
        lambda m, x, y, g: dict(cell=helpers.course.marking.annotate(_notebook(), "a.ipynb").cells[1]),
        awkward=False
    ),
    "helpers.course.marking.total_line": Call(
        lambda m, x, y, g: dict(
            found=helpers.course.marking.roles(_notebook(), "a.ipynb"), cells=_notebook().cells
        ),
        awkward=False,
    ),
    "helpers.course.marking.lock_for_students": Call(
        lambda m, x, y, g: dict(nb=helpers.course.marking.annotate(_notebook(), "a.ipynb")), awkward=False
    ),
    "helpers.course.marking.main": CLI,
    # i19: APGD, worst-case evaluation, a learned denoiser and detector
    "helpers.attacks.auto_pgd.apgd": Call(
        lambda m, x, y, g: dict(
            model=m, x=x, y=y, eps=0.1, steps=3, norm="inf", loss="dlr", restarts=2, rho=0.75, momentum=0.75,
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
            model=m, x=x, y=y, attacks={
                "fgsm": lambda a, b, c: attacks.fgsm(a, b, c, eps=0.1),
                "pgd": lambda a, b, c: attacks.pgd(a, b, c, eps=0.1, alpha=0.05, steps=2, generator=g),
            }
        )
    ),
    "helpers.defenses.denoiser.ReconstructionDetector": Call(lambda m, x, y, g: dict(denoiser=_denoiser())),
    "helpers.defenses.denoiser.ReconstructionDetector.score": Call(
        lambda m, x, y, g: dict(self=_reconstruction_detector(x.device), x=x), differentiable=True
    ),
    "helpers.defenses.denoiser.ReconstructionDetector.fit": Call(
        lambda m, x, y, g: dict(self=_reconstruction_detector(x.device), clean=x, fpr=0.1)
    ),
    "helpers.defenses.denoiser.ReconstructionDetector.detect": Call(
        lambda m, x, y, g: dict(self=_reconstruction_detector(x.device).fit(x), x=x)
    ),
    "helpers.defenses.denoiser.reconstruction_error": Call(
        lambda m, x, y, g: dict(denoiser=_denoiser(x.device), x=x), differentiable=True
    ),
    "helpers.attacks.adaptive.evade_detector": Call(
        lambda m, x, y, g: dict(
            model=m,
            detector=_reconstruction_detector(x.device).fit(x),
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
    ),
    "helpers.defenses.detection.tpr_at_fpr": Call(
        lambda m, x, y, g: dict(
            fpr=torch.tensor([0.0, 0.1, 0.5, 1.0]), tpr=torch.tensor([0.0, 0.6, 0.9, 1.0]), level=0.05
        ),
        awkward=False,
    ),
    "helpers.course.grading.Judgement.pass_lines": RECORD,
    "helpers.course.homework.HW6BlackBox": Call(lambda m, x, y, g: dict(model=m, output="probs", budget=100)),
    "helpers.course.homework.hw6_blackbox": NO_ARGS,
    "helpers.course.homework.hw6_figures": Skip("the judge's reference figures: tests/test_grading.py and "
                                         "tests/test_hw6_server.py"),
    "helpers.attacks.blackbox.BlackBox.budget": RECORD,
    "helpers.attacks.blackbox.BlackBox.queries": RECORD,
    # homework 6's server: a socket protocol, misused message by message in tests/test_hw6_server.py
    **{f"helpers.course.hw6_server.{name}": Skip("a server and its client: tests/test_hw6_server.py feeds it "
                                           "malformed messages, images and addresses")
       for name in ("PrivateBox", "PrivateBox.status", "PrivateBox.answer", "address", "load_private", "main",
                    "make_server")},
    **{f"helpers.course.hw6_client.RemoteBlackBox{member}": Skip("the server's client: see above")
       for member in ("", ".__call__", ".budget", ".queries", ".figures")},
    "helpers.course.homework.hw6_images": NO_ARGS,
    "helpers.course.execute.execute": Skip("runs a notebook in a kernel: make notebooks"),
    "helpers.course.execute.execute_node": Skip("runs a notebook in a kernel: tests/test_release.py"),
    "helpers.course.execute.main": CLI,
    "helpers.course.mainland.to_mainland": Call(lambda m, x, y, g: dict(text="程式與資料"), awkward=False),
    "helpers.course.mainland.Overrides": RECORD,
    "helpers.course.mainland.read_overrides": Skip(
        "reads i18n/zh_CN_overrides.tsv: tests/test_translation.py checks its rows and its refusals"
    ),
    "helpers.course.translation.differences": Call(
        lambda m, x, y, g: dict(english="## 1 · Step 20", translated="## 1 · 第 20 步"), awkward=False
    ),
    **{f"helpers.course.translation.{name}": Skip(
        "the translation build works on the repository's notebooks and catalogs: tests/test_translation.py "
        "runs it on tiny ones")
       for name in ("build", "built", "catalog_path", "check", "code_and_outputs_differ", "edition", "gaps",
                    "markdown_cells", "read_catalog", "translate_notebook", "translations", "update_catalog",
                    "update_catalogs")},
    "helpers.course.translation.main": CLI,
    "helpers.course.catalogs.new_catalog": Call(
        lambda m, x, y, g: dict(project="hw5_explain", lang="zh_TW"), awkward=False
    ),
    "helpers.course.catalogs.merge": Skip(
        "msgmerge over polib catalogs: tests/test_translation.py and tests/test_messages.py run it"
    ),
    "helpers.course.language.current": NO_ARGS,
    "helpers.course.language.catalog": Call(lambda m, x, y, g: dict(lang="zh_TW"), awkward=False),
    "helpers.course.language.width": Call(lambda m, x, y, g: dict(text="配分 2"), awkward=False),
    "helpers.course.language.N_": Skip("gettext's marker: returns its argument for the catalog's extractor"),
    "helpers.course.messages.placeholders": Call(lambda m, x, y, g: dict(text="{a} of {b}"), awkward=False),
    **{f"helpers.course.messages.{name}": Skip(
        "the grading catalog's tooling works on the repository's sources and catalogs: "
        "tests/test_messages.py")
       for name in ("built", "catalog_path", "check", "compiled", "mo_path", "problems", "templates",
                    "update", "update_file")},
    "helpers.models.denoisers.ResidualDenoiser": Call(
        lambda m, x, y, g: dict(body=nn.Conv2d(1, 1, 3, padding=1)), awkward=False
    ),
    "helpers.models.denoisers.fashion_denoiser": Call(lambda m, x, y, g: dict(width=4), awkward=False),
    "helpers.attacks.evaluate.robust_attacks": Call(lambda m, x, y, g: dict(eps=0.1), awkward=False),
}


def public_callables() -> dict[str, Any]:
    """Every public function, class and public method of a class defined in ``helpers``."""
    found = {}
    for info in pkgutil.walk_packages(helpers.__path__, "helpers."):
        if any(part.startswith("_") for part in info.name.split(".")):  # private, or in a private package
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


PUBLIC = public_callables()  # qualified name → the callable


def bind(name: str, obj: Any, kwargs: dict[str, Any]) -> tuple[Callable, dict[str, Any]]:
    """What the arguments of a build call: ``self`` binds the method ``name``; and the other arguments."""
    kwargs = dict(kwargs)
    this = kwargs.pop("self", None)
    if this is not None:
        method = name.rsplit(".", 1)[-1]
        return getattr(this, method), kwargs
    return obj, kwargs


def invoke(function: Callable, kwargs: dict[str, Any]) -> Any:
    """``function(**kwargs)``, the arguments of a ``*args`` parameter passed by position."""
    params = inspect.signature(function).parameters
    args, rest = [], dict(kwargs)
    if any(p.kind == p.VAR_POSITIONAL for p in params.values()):
        for p in params.values():
            if p.kind == p.POSITIONAL_OR_KEYWORD and p.name in rest:
                args.append(rest.pop(p.name))
            elif p.kind == p.VAR_POSITIONAL:
                args.extend(rest.pop(p.name, []))
    return function(*args, **rest)


def takes_model(name: str) -> bool:
    """Whether entry ``name`` is a valid call of a function or class with a ``model`` argument (a method's
    ``self`` does not count): the entries that test_contract runs."""
    if not isinstance(CALLS.get(name), Call):
        return False
    params = inspect.signature(PUBLIC[name]).parameters
    return "model" in params and "self" not in params
