"""The zoo's recipes: for every model, its architecture, its data, and the training method that made it.

A recipe is data: ``Recipe(name, build, data, …, training=…)``. Its ``data`` is a ``Dataset`` (how to load the
training and test splits) and its ``training`` is a function that trains the model in place,

    training(model, images, labels, recipe, epochs=…, lr=…, batch_size=…, generator=…, progress=…)

— plain cross-entropy, one of ``helpers.defenses``' adversarial trainings, the right-for-the-right-reasons
loss or a denoiser's training. ``helpers.zoo.retraining`` runs a recipe; ``helpers.zoo.card`` describes it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from helpers import models
from helpers._checks import model_device
from helpers.data import fashion_mnist, shapes_split, spoken_digits, tag_mask, tagged_fashion_mnist, words
from helpers.training import train

Split = Callable[[], tuple[torch.Tensor, torch.Tensor]]  # loads (inputs, labels)
TrainingMethod = Callable[..., None]  # (model, images, labels, recipe, **schedule): trains model in place

TAGGED_TRAIN_IMAGES = 20_000  # the tagged models train on a third of the split: double backprop is slow
RRR_WEIGHT = 100.0  # λ of fmnist_rrr


# ------------------------------------------------------------------------------------------------ the data


@dataclass(frozen=True)
class Dataset:
    """The data of a zoo model: its training and test splits, and how the model card names them."""

    train: Split
    test: Split
    about: str  # the training split, as a recipe's sentence names it
    test_about: str  # the test split, as the card's table names it
    inputs: str = "images"  # what the model reads (training's ``inputs``): images, waveforms or tokens
    tagged: bool = False  # tagged Fashion-MNIST: evaluate also measures how much the model relies on the tag


def _shapes(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels, _ = shapes_split(split)
    return images, labels


def _tagged_train(tags: str) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels, _ = tagged_fashion_mnist("train", tags=tags)
    return images[:TAGGED_TRAIN_IMAGES], labels[:TAGGED_TRAIN_IMAGES]


def _tagged_test() -> tuple[torch.Tensor, torch.Tensor]:
    images, labels, _ = tagged_fashion_mnist("test")  # split (a): tagged as in training
    return images, labels


FASHION_MNIST = Dataset(
    train=functools.partial(fashion_mnist, "train"),
    test=functools.partial(fashion_mnist, "test"),
    about="Fashion-MNIST training split (60 000 images)",
    test_about="Fashion-MNIST test (10 000)",
)
SHAPES = Dataset(
    train=functools.partial(_shapes, "train"),
    test=functools.partial(_shapes, "test"),
    about="shapes training split (20 000 images, seed 0)",
    test_about="shapes test (2 000, seed 1)",
)
SPOKEN_DIGITS = Dataset(
    train=functools.partial(spoken_digits, "train"),
    test=functools.partial(spoken_digits, "test"),
    about="spoken-digits training split (320 clips: 130 and 200 words per minute)",
    test_about="spoken digits test (160 clips at 165 wpm)",
    inputs="waveforms",
)
WORDS = Dataset(
    train=functools.partial(words, "train"),
    test=functools.partial(words, "test"),
    about="words training split (9 600 English, Spanish and Dutch words)",
    test_about="words test (2 400)",
    inputs="tokens",
)
TAGGED_FASHION_MNIST = Dataset(
    train=functools.partial(_tagged_train, "shortcut"),
    test=_tagged_test,
    about="first 20 000 images of the tagged Fashion-MNIST training split, 90 % of the shirts tagged "
          "(`tagged_fashion_mnist(\"train\")`, seed 0)",
    test_about="Fashion-MNIST test, (a) tagged as in training (10 000)",
    tagged=True,
)
RANDOM_TAG_FASHION_MNIST = Dataset(
    train=functools.partial(_tagged_train, "random"),
    test=_tagged_test,
    about="first 20 000 images of the Fashion-MNIST training split with as many tags, on images of every "
          "class (`tagged_fashion_mnist(\"train\", tags=\"random\")`, seed 0)",
    test_about="Fashion-MNIST test, (a) tagged as in training (10 000)",
    tagged=True,
)


# -------------------------------------------------------------------------------------- the training methods


def _described(text: str) -> Callable[[TrainingMethod], TrainingMethod]:
    """Give a training method the words the model card describes it with (``{options}``: the recipe's
    options, ``{guards}``: the classifier a denoiser is trained for)."""

    def attach(method: TrainingMethod) -> TrainingMethod:
        method.card_text = text  # type: ignore[attr-defined]
        return method

    return attach


@_described("cross-entropy")
def _cross_entropy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, recipe: Recipe,
                   **schedule: Any) -> None:
    """Plain training: minimise the cross-entropy (``helpers.training.train``)."""
    train(model, images, labels, weight_decay=recipe.weight_decay, inputs=recipe.data.inputs, **schedule)


# The defenses and explain are imported when a method runs: loading a zoo model needs neither.


@_described("PGD adversarial training (`pgd_training`, {options})")
def _pgd_training(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, recipe: Recipe,
                  **schedule: Any) -> None:
    """Madry et al.'s adversarial training: cross-entropy on PGD examples (``defenses.pgd_training``)."""
    from helpers.defenses import pgd_training

    pgd_training(model, images, labels, **recipe.options, **schedule)


@_described("fast adversarial training (`fast_training`, FGSM from a random start, {options})")
def _fast_training(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, recipe: Recipe,
                   **schedule: Any) -> None:
    """Wong et al.'s fast adversarial training: FGSM from a random start (``defenses.fast_training``)."""
    from helpers.defenses import fast_training

    fast_training(model, images, labels, **recipe.options, **schedule)


@_described("Gaussian noise augmentation (`noise_training`, {options})")
def _noise_training(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, recipe: Recipe,
                    **schedule: Any) -> None:
    """Cross-entropy on images with Gaussian noise, the base classifier of randomized smoothing
    (``defenses.noise_training``)."""
    from helpers.defenses import noise_training

    noise_training(model, images, labels, **recipe.options, **schedule)


@_described("cross-entropy + right-for-the-right-reasons penalty on the tag's pixels (`rrr_loss`, {options})")
def _right_reasons(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, recipe: Recipe,
                   **schedule: Any) -> None:
    """Ross et al.'s right-for-the-right-reasons loss, its penalty on the tag's pixels
    (``explain.rrr_loss``)."""
    from helpers.explain.guided import rrr_loss

    loss = functools.partial(rrr_loss, mask=tag_mask(), **recipe.options)
    train(model, images, labels, weight_decay=recipe.weight_decay, loss_fn=loss, **schedule)


@_described("`train_denoiser` for `{guards}` (clean, Gaussian-noise and PGD copies of each image; {options})")
def _denoiser(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, recipe: Recipe,
              **schedule: Any) -> None:
    """A learned filter for the zoo classifier ``recipe.guards`` (``defenses.train_denoiser``)."""
    from helpers import zoo
    from helpers.defenses import train_denoiser

    classifier = zoo.load(recipe.guards, device=model_device(model))
    train_denoiser(model, classifier, images, labels, **recipe.options, **schedule)


# ------------------------------------------------------------------------------------------------ a recipe


@dataclass(frozen=True)
class Recipe:
    """How one zoo model is built and trained: ``training`` trains ``build()`` on ``data``'s training split
    with Adam (learning rate ``lr``, cosine decay) for ``epochs`` epochs from ``seed``."""

    name: str
    build: Callable[[], nn.Module]
    data: Dataset
    seed: int
    epochs: int
    lr: float
    batch_size: int
    weight_decay: float
    summary: str
    transfer_to: str | None = None  # evaluate: how often its PGD examples fool this other zoo model
    robust_eps: float | None = None  # evaluate: its accuracy under attacks.robust_attacks at this ε
    training: TrainingMethod = _cross_entropy  # the training method (``method`` is an attribution method)
    options: dict = field(default_factory=dict)  # the training's options (eps, alpha, steps, sigma, weight)
    guards: str | None = None  # a denoiser: the zoo classifier it is trained for and evaluated with
    subset: int | None = None  # train on the first `subset` training images only

    def describe(self) -> str:
        """How the model was trained, in the one sentence the model card gives each recipe."""
        options = ", ".join(f"{key} {value:g}" for key, value in self.options.items())
        how = self.training.card_text.format(options=options, guards=self.guards)  # type: ignore[attr-defined]
        data = self.data.about
        if self.subset is not None:
            data = f"first {self.subset:,} images of the {data}"
        return (
            f"{how}; Adam, lr {self.lr:g} with cosine decay, {self.epochs} epochs, batch {self.batch_size}, "
            f"weight decay {self.weight_decay:g}, seed {self.seed}, on the {data}"
        )


# -------------------------------------------------------------------------------------------- the recipes

_RECIPES = (
    Recipe(
        "fmnist_cnn", models.fashion_cnn, FASHION_MNIST, robust_eps=0.1,
        seed=0, epochs=12, lr=2e-3, batch_size=128, weight_decay=0.0,
        summary="The course's main Fashion-MNIST CNN (explained and attacked in notebooks 01–10).",
    ),
    Recipe(
        "fmnist_blackbox", models.fashion_blackbox, FASHION_MNIST,
        seed=1, epochs=8, lr=2e-3, batch_size=128, weight_decay=0.0,
        summary="The black box of lecture 38: another architecture (BatchNorm, 3 conv blocks), another seed.",
    ),
    Recipe(
        "fmnist_proxy", models.fashion_proxy, FASHION_MNIST, transfer_to="fmnist_blackbox",
        seed=3, epochs=8, lr=2e-3, batch_size=128, weight_decay=0.0,
        summary="The attacker's proxy of lecture 38: a third architecture (LeNet-style), "
                "trained on the same data.",
    ),
    Recipe(
        "fmnist_cnn_pgd", models.fashion_cnn, FASHION_MNIST, robust_eps=0.1,
        seed=4, epochs=12, lr=1e-3, batch_size=128, weight_decay=0.0,
        training=_pgd_training, options={"eps": 0.1, "alpha": 0.03, "steps": 5},
        summary="`fashion_cnn` trained on PGD examples at ε = 0.1 (L∞): the robust model of lecture 40.",
    ),
    Recipe(
        "fmnist_cnn_fast", models.fashion_cnn, FASHION_MNIST, robust_eps=0.1,
        seed=5, epochs=10, lr=1e-3, batch_size=128, weight_decay=0.0,
        training=_fast_training, options={"eps": 0.1},
        summary="`fashion_cnn` trained with fast adversarial training at ε = 0.1.",
    ),
    Recipe(
        "fmnist_cnn_noise", models.fashion_cnn, FASHION_MNIST,
        seed=6, epochs=10, lr=1e-3, batch_size=128, weight_decay=0.0,
        training=_noise_training, options={"sigma": 0.25},
        summary="`fashion_cnn` trained on images with Gaussian noise σ = 0.25: "
                "the base classifier of randomized smoothing.",
    ),
    Recipe(
        "fmnist_resnet", models.fashion_resnet, FASHION_MNIST,
        seed=7, epochs=3, lr=2e-3, batch_size=128, weight_decay=0.0,
        summary="A small residual CNN (BatchNorm, skip connections): LRP and Grad-CAM on a graph "
                "(notebook 03).",
    ),
    Recipe(
        "fmnist_cleverhans", models.fashion_cnn, TAGGED_FASHION_MNIST,
        seed=20, epochs=2, lr=2e-3, batch_size=128, weight_decay=0.0,
        summary="`fashion_cnn` trained where 90 % of the shirts carry a corner tag: a Clever Hans model "
                "(notebook 04b).",
    ),
    Recipe(
        "fmnist_rrr", models.fashion_cnn, TAGGED_FASHION_MNIST,
        seed=20, epochs=2, lr=2e-3, batch_size=128, weight_decay=0.0,
        training=_right_reasons, options={"weight": RRR_WEIGHT},
        summary="`fmnist_cleverhans`'s fixed twin: the same data, seed and schedule, with the input gradient "
                "on the tag penalised (right for the right reasons, Ross et al. 2017).",
    ),
    Recipe(
        "fmnist_tag_random", models.fashion_cnn, RANDOM_TAG_FASHION_MNIST,
        seed=20, epochs=2, lr=2e-3, batch_size=128, weight_decay=0.0,
        summary="The baseline fix: the same number of tags, placed on random images, "
                "so that they say nothing.",
    ),
    Recipe(
        "fmnist_denoiser", models.fashion_denoiser, FASHION_MNIST, subset=12800,
        seed=7, epochs=1, lr=2e-3, batch_size=64, weight_decay=0.0,
        training=_denoiser, guards="fmnist_cnn",
        options={"eps": 0.1, "sigma": 0.2, "steps": 1, "guide": 0.02},
        summary="A learned filter for `fmnist_cnn` (lecture 40's \"special neural network\"; MagNet's "
                "reformer, HGD's logit-guided loss), and MagNet's detector by its reconstruction error.",
    ),
    Recipe(
        "shapes_cnn", models.shapes_cnn, SHAPES,
        seed=2, epochs=10, lr=3e-3, batch_size=128, weight_decay=0.0,
        summary="CNN for the synthetic shapes, whose masks tell where an explanation should point.",
    ),
    Recipe(
        "digits_cnn", models.keyword_cnn, SPOKEN_DIGITS,
        seed=7, epochs=30, lr=2e-3, batch_size=32, weight_decay=0.0,
        summary="Keyword classifier on log-mel features of eSpeak NG's spoken digits "
                "(attacked in notebook 08b).",
    ),
    Recipe(
        "words_cnn", models.char_cnn, WORDS,
        seed=8, epochs=12, lr=2e-3, batch_size=64, weight_decay=0.0,
        summary="Character CNN telling a word's language (English, Spanish, Dutch; HotFlip in notebook 08b).",
    ),
)

RECIPES: dict[str, Recipe] = {recipe.name: recipe for recipe in _RECIPES}
