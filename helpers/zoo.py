"""The model zoo: small pretrained checkpoints, verified on load, each with the recipe that made it.

    python -m helpers.zoo list              # the model card
    python -m helpers.zoo train NAME|all    # reproduce checkpoints from their recipes
    python -m helpers.zoo train NAME --seed S --out PATH   # a private copy with another seed
    python -m helpers.zoo evaluate [--write]   # measure every model; --write updates MODELS.md

Checkpoints are plain state dicts loaded with ``torch.load(..., weights_only=True)``; their
SHA-256 sums live in ``SHA256SUMS`` beside them (``helpers/assets/models/``, or ``$HELPERS_MODELS_DIR``:
see ``helpers/_assets.py``) and a mismatch refuses the file.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import io
import json
import pickle
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from helpers import _assets
from helpers import models as _models
from helpers._checks import (
    check_device,
    check_images,
    check_labels,
    check_model,
    check_positive,
    model_device,
    num_classes,
    read_sums,
)
from helpers.data import fashion_mnist, shapes_split, spoken_digits, tag_mask, tagged_fashion_mnist, words
from helpers.runtime import device as default_device
from helpers.runtime import seed_everything
from helpers.training import accuracy, train

MODELS_DIR = _assets.models_dir()  # helpers/assets/models, or $HELPERS_MODELS_DIR


@dataclass(frozen=True)
class Recipe:
    """How one zoo model is built and trained."""

    name: str
    build: Callable[[], nn.Module]
    data: str  # "fashion_mnist", "shapes", "spoken_digits" or "words"
    seed: int
    epochs: int
    lr: float
    batch_size: int
    weight_decay: float
    summary: str
    transfer_to: str | None = None  # evaluate: how often its PGD examples fool this other zoo model
    robust_eps: float | None = None  # evaluate: accuracy under `robust_attacks` (APGD-CE, APGD-DLR, PGD) at this ε
    method: str = "standard"  # standard | pgd | fast | noise | denoiser (helpers.defenses) | rrr (explain.guided)
    options: dict = field(default_factory=dict)  # the method's options (eps, alpha, steps, sigma)
    guards: str | None = None  # a denoiser: the zoo classifier it is trained for and evaluated with
    subset: int | None = None  # train on the first `subset` training images only

    def describe(self) -> str:
        how = {
            "standard": "cross-entropy",
            "pgd": "PGD adversarial training (`pgd_training`, {options})",
            "fast": "fast adversarial training (`fast_training`, FGSM from a random start, {options})",
            "noise": "Gaussian noise augmentation (`noise_training`, {options})",
            "rrr": "cross-entropy + right-for-the-right-reasons penalty on the tag's pixels (`rrr_loss`, {options})",
            "denoiser": "`train_denoiser` for `{guards}` (clean, Gaussian-noise and PGD copies of each image; "
                        "{options})",
        }[self.method].format(options=", ".join(f"{k} {v:g}" for k, v in self.options.items()),
                              guards=self.guards)
        data = _DATA_NAMES[self.data]
        if self.subset is not None:
            data = f"first {self.subset:,} images of the {data}"
        return (
            f"{how}; Adam, lr {self.lr:g} with cosine decay, {self.epochs} epochs, batch {self.batch_size}, "
            f"weight decay {self.weight_decay:g}, seed {self.seed}, on the {data}"
        )


_DATA_NAMES = {
    "fashion_mnist": "Fashion-MNIST training split (60 000 images)",
    "shapes": "shapes training split (20 000 images, seed 0)",
    "spoken_digits": "spoken-digits training split (320 clips: 130 and 200 words per minute)",
    "words": "words training split (9 600 English, Spanish and Dutch words)",
    "fashion_mnist_tagged": "first 20 000 images of the tagged Fashion-MNIST training split, 90 % of the shirts "
                            "tagged (`tagged_fashion_mnist(\"train\")`, seed 0)",
    "fashion_mnist_tag_random": "first 20 000 images of the Fashion-MNIST training split with as many tags, "
                                "on images of every class (`tagged_fashion_mnist(\"train\", tags=\"random\")`, seed 0)",
}
_TEST_NAMES = {
    "fashion_mnist": "Fashion-MNIST test (10 000)",
    "shapes": "shapes test (2 000, seed 1)",
    "spoken_digits": "spoken digits test (160 clips at 165 wpm)",
    "words": "words test (2 400)",
    "fashion_mnist_tagged": "Fashion-MNIST test, (a) tagged as in training (10 000)",
    "fashion_mnist_tag_random": "Fashion-MNIST test, (a) tagged as in training (10 000)",
}
INPUTS = {"fashion_mnist": "images", "shapes": "images", "spoken_digits": "waveforms", "words": "tokens",
          "fashion_mnist_tagged": "images", "fashion_mnist_tag_random": "images"}
_TAGGED = {"fashion_mnist_tagged": "shortcut", "fashion_mnist_tag_random": "random"}  # data → tags
TAGGED_TRAIN_IMAGES = 20_000  # the tagged models train on a third of the split: double backpropagation is slow

RRR_WEIGHT = 100.0  # λ of fmnist_rrr

RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe(
            "fmnist_cnn", _models.fashion_cnn, "fashion_mnist", robust_eps=0.1, seed=0, epochs=12, lr=2e-3,
            batch_size=128, weight_decay=0.0,
            summary="The course's main Fashion-MNIST CNN (explained and attacked in notebooks 01–10).",
        ),
        Recipe(
            "fmnist_blackbox", _models.fashion_blackbox, "fashion_mnist", seed=1, epochs=8, lr=2e-3,
            batch_size=128, weight_decay=0.0,
            summary="The black box of lecture 38: another architecture (BatchNorm, 3 conv blocks), another seed.",
        ),
        Recipe(
            "fmnist_proxy", _models.fashion_proxy, "fashion_mnist", seed=3, epochs=8, lr=2e-3,
            batch_size=128, weight_decay=0.0,
            summary="The attacker's proxy of lecture 38: a third architecture (LeNet-style), trained on the same data.",
            transfer_to="fmnist_blackbox",
        ),
        Recipe(
            "fmnist_cnn_pgd", _models.fashion_cnn, "fashion_mnist", robust_eps=0.1, seed=4, epochs=12, lr=1e-3,
            batch_size=128, weight_decay=0.0, method="pgd", options={"eps": 0.1, "alpha": 0.03, "steps": 5},
            summary="`fashion_cnn` trained on PGD examples at ε = 0.1 (L∞): the robust model of lecture 40.",
        ),
        Recipe(
            "fmnist_cnn_fast", _models.fashion_cnn, "fashion_mnist", robust_eps=0.1, seed=5, epochs=10, lr=1e-3,
            batch_size=128, weight_decay=0.0, method="fast", options={"eps": 0.1},
            summary="`fashion_cnn` trained with fast adversarial training at ε = 0.1.",
        ),
        Recipe(
            "fmnist_cnn_noise", _models.fashion_cnn, "fashion_mnist", seed=6, epochs=10, lr=1e-3,
            batch_size=128, weight_decay=0.0, method="noise", options={"sigma": 0.25},
            summary="`fashion_cnn` trained on images with Gaussian noise σ = 0.25: the base classifier of randomized smoothing.",
        ),
        Recipe(
            "fmnist_resnet", _models.fashion_resnet, "fashion_mnist", seed=7, epochs=3, lr=2e-3,
            batch_size=128, weight_decay=0.0,
            summary="A small residual CNN (BatchNorm, skip connections): LRP and Grad-CAM on a graph "
                    "(notebook 03).",
        ),
        Recipe(
            "fmnist_cleverhans", _models.fashion_cnn, "fashion_mnist_tagged", seed=20, epochs=2, lr=2e-3,
            batch_size=128, weight_decay=0.0,
            summary="`fashion_cnn` trained where 90 % of the shirts carry a corner tag: a Clever Hans model "
                    "(notebook 04b).",
        ),
        Recipe(
            "fmnist_rrr", _models.fashion_cnn, "fashion_mnist_tagged", seed=20, epochs=2, lr=2e-3,
            batch_size=128, weight_decay=0.0, method="rrr", options={"weight": RRR_WEIGHT},
            summary="`fmnist_cleverhans`'s fixed twin: the same data, seed and schedule, with the input gradient "
                    "on the tag penalised (right for the right reasons, Ross et al. 2017).",
        ),
        Recipe(
            "fmnist_tag_random", _models.fashion_cnn, "fashion_mnist_tag_random", seed=20, epochs=2, lr=2e-3,
            batch_size=128, weight_decay=0.0,
            summary="The baseline fix: the same number of tags, placed on random images, so that they say nothing.",
        ),
        Recipe(
            "fmnist_denoiser", _models.fashion_denoiser, "fashion_mnist", seed=7, epochs=1, lr=2e-3,
            batch_size=64, weight_decay=0.0, method="denoiser", guards="fmnist_cnn", subset=12800,
            options={"eps": 0.1, "sigma": 0.2, "steps": 1, "guide": 0.02},
            summary="A learned filter for `fmnist_cnn` (lecture 40's \"special neural network\"; MagNet's reformer, "
                    "HGD's logit-guided loss), and MagNet's detector by its reconstruction error.",
        ),
        Recipe(
            "shapes_cnn", _models.shapes_cnn, "shapes", seed=2, epochs=10, lr=3e-3,
            batch_size=128, weight_decay=0.0,
            summary="CNN for the synthetic shapes, whose masks tell where an explanation should point.",
        ),
        Recipe(
            "digits_cnn", _models.keyword_cnn, "spoken_digits", seed=7, epochs=30, lr=2e-3,
            batch_size=32, weight_decay=0.0,
            summary="Keyword classifier on log-mel features of eSpeak NG's spoken digits (attacked in notebook 08b).",
        ),
        Recipe(
            "words_cnn", _models.char_cnn, "words", seed=8, epochs=12, lr=2e-3,
            batch_size=64, weight_decay=0.0,
            summary="Character CNN telling a word's language (English, Spanish, Dutch; HotFlip in notebook 08b).",
        ),
    )
}


def names() -> list[str]:
    """The names of the zoo's models."""
    return list(RECIPES)


def _recipe(name: object) -> Recipe:
    if not isinstance(name, str) or name not in RECIPES:
        raise ValueError(f"name: unknown zoo model {name!r}; known models: {', '.join(RECIPES)}")
    return RECIPES[name]  # type: ignore[index]


def _sums_file() -> Path:
    return MODELS_DIR / "SHA256SUMS"


def _read_sums() -> dict[str, str]:
    return read_sums(_sums_file()) if _sums_file().is_file() else {}


def checkpoint_path(name: str) -> Path:
    return MODELS_DIR / f"{_recipe(name).name}.pt"


def load(name: str, device: str | torch.device | None = None) -> nn.Module:
    """The pretrained zoo model ``name`` in eval mode, on ``device`` (default: ``runtime.device()``).

    The checkpoint's SHA-256 must match the zoo's ``SHA256SUMS``; a tampered or truncated file is
    refused. Each call returns a fresh model that the caller may change freely.
    """
    recipe = _recipe(name)
    device = check_device(device)
    path = checkpoint_path(name)
    restore = f"{_assets.restore_hint(path)}; or rebuild it with `python -m helpers.zoo train {name}`"
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} for zoo model {name!r} is missing; {restore}")
    raw = path.read_bytes()
    expected = _read_sums().get(path.name)
    if expected is None:
        raise ValueError(f"{_sums_file()} has no entry for {path.name}; {restore}")
    digest = hashlib.sha256(raw).hexdigest()
    if digest != expected:
        raise ValueError(
            f"checkpoint {path.name} is corrupted or was modified: SHA-256 {digest[:12]}… does not "
            f"match {expected[:12]}… in {_sums_file()}; {restore}"
        )
    try:
        state = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
        model = recipe.build()
        model.load_state_dict(state)
    except (pickle.UnpicklingError, RuntimeError, EOFError, KeyError, TypeError) as error:
        # torch's own message would advise weights_only=False, which would run whatever code the file holds
        raise ValueError(f"checkpoint {path.name} is not a state dict of {recipe.build.__name__}() that can be "
                         f"loaded safely ({type(error).__name__}); {restore}") from None
    return model.to(default_device() if device is None else device).eval()


def _training_data(recipe: Recipe) -> tuple[torch.Tensor, torch.Tensor]:
    if recipe.data == "spoken_digits":
        return spoken_digits("train")  # type: ignore[return-value]
    if recipe.data == "words":
        return words("train")  # type: ignore[return-value]
    if recipe.data == "fashion_mnist":
        return fashion_mnist("train")
    if recipe.data in _TAGGED:
        images, labels, _ = tagged_fashion_mnist("train", tags=_TAGGED[recipe.data])
        return images[:TAGGED_TRAIN_IMAGES], labels[:TAGGED_TRAIN_IMAGES]
    images, labels, _ = shapes_split("train")
    return images, labels


def _test_data(recipe: Recipe) -> tuple[torch.Tensor, torch.Tensor]:
    if recipe.data == "spoken_digits":
        return spoken_digits("test")  # type: ignore[return-value]
    if recipe.data == "words":
        return words("test")  # type: ignore[return-value]
    if recipe.data in _TAGGED:  # split (a): tagged as in training
        images, labels, _ = tagged_fashion_mnist("test")
        return images, labels
    if recipe.data == "fashion_mnist":
        return fashion_mnist("test")
    images, labels, _ = shapes_split("test")
    return images, labels


def _info_file() -> Path:
    return MODELS_DIR / "zoo.json"


def _read_info() -> dict[str, dict]:
    return json.loads(_info_file().read_text()) if _info_file().is_file() else {}


def _write_info(info: dict[str, dict]) -> None:
    _info_file().write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")


def retrain(name: str, *, device: str | torch.device | None = None, progress: bool = True,
            seed: int | None = None, out: str | Path | None = None) -> nn.Module:
    """Train zoo model ``name`` from its recipe, save the checkpoint and record its SHA-256.

    On the CPU the same recipe reproduces the same weights bit for bit (on another device the
    result is equally good but not bit-identical). ``seed`` replaces the recipe's seed and ``out``
    writes the checkpoint to that file instead, leaving the zoo untouched — an instructor's private
    copy, such as a homework 6 black box that students never had.
    """
    recipe = _recipe(name)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise TypeError(f"seed must be an int; got {type(seed).__name__}")
    dev = check_device(device) or default_device()
    generator = seed_everything(recipe.seed if seed is None else seed)
    model = recipe.build().to(dev)
    images, labels = _training_data(recipe)
    if recipe.subset is not None:
        images, labels = images[: recipe.subset], labels[: recipe.subset]
    start = time.perf_counter()
    common = dict(epochs=recipe.epochs, lr=recipe.lr, batch_size=recipe.batch_size, generator=generator,
                  progress=progress)
    if recipe.method == "denoiser":
        from helpers.defenses.denoiser import train_denoiser

        train_denoiser(model, load(recipe.guards, device=dev), images, labels, **recipe.options, **common)
    elif recipe.method == "standard":
        train(model, images, labels, weight_decay=recipe.weight_decay, inputs=INPUTS[recipe.data], **common)
    elif recipe.method == "rrr":
        from helpers.explain.guided import rrr_loss  # explain builds on the zoo's models, not the reverse

        loss = functools.partial(rrr_loss, mask=tag_mask(), **recipe.options)
        train(model, images, labels, weight_decay=recipe.weight_decay, loss_fn=loss, **common)
    else:
        from helpers.defenses import training as defenses  # defenses build on the zoo, not the reverse

        method = {"pgd": defenses.pgd_training, "fast": defenses.fast_training, "noise": defenses.noise_training}
        method[recipe.method](model, images, labels, **recipe.options, **common)
    seconds = time.perf_counter() - start
    model.eval()

    MODELS_DIR.mkdir(exist_ok=True)
    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buffer)
    if out is not None:
        Path(out).write_bytes(buffer.getvalue())
        return model
    path = checkpoint_path(name)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(buffer.getvalue())
    tmp.replace(path)
    sums = _read_sums()
    sums[path.name] = hashlib.sha256(buffer.getvalue()).hexdigest()
    _sums_file().write_text("".join(f"{d}  {f}\n" for f, d in sorted(sums.items())))
    info = _read_info()
    info.setdefault(name, {})["training"] = {
        "seconds": round(seconds, 1),
        "device": str(dev) if dev.type != "cpu" else f"cpu ({torch.get_num_threads()} threads)",
        "machine": platform.machine(),
        "torch": torch.__version__,
    }
    _write_info(info)
    return model


TRANSFER_SETTING = {"eps": 0.1, "alpha": 0.01, "steps": 20, "images": 1000}
ROBUST_SETTING = {"apgd_steps": 100, "steps": 50, "restarts": 5, "loss": "margin", "images": 1000}


def robust_attacks(eps: float) -> dict:
    """The zoo's strong evaluation at L∞ radius ε, in the order run: APGD-CE and APGD-DLR (Croce & Hein 2020,
    100 steps each, the first two attacks of AutoAttack), then PGD-50 with steps of ε/10 from 5 random starts
    and the margin loss."""
    from helpers.attacks import apgd, pgd

    check_positive(eps, "eps")
    setting, seed = ROBUST_SETTING, lambda: torch.Generator().manual_seed(0)
    return {
        "APGD-CE": lambda m, x, y: apgd(m, x, y, eps=eps, steps=setting["apgd_steps"], loss="ce", generator=seed()),
        "APGD-DLR": lambda m, x, y: apgd(m, x, y, eps=eps, steps=setting["apgd_steps"], loss="dlr", generator=seed()),
        "PGD-margin": lambda m, x, y: pgd(m, x, y, eps=eps, alpha=eps / 10, steps=setting["steps"],
                                          restarts=setting["restarts"], loss=setting["loss"], generator=seed()),
    }


def robust_accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, eps: float) -> float:
    """Accuracy under the zoo's strong evaluation (``robust_attacks``): an image counts as robust only if
    APGD-CE, APGD-DLR and every restart of PGD-margin all fail on it (the worst case per image)."""
    from helpers.attacks import worst_case

    check_model(model)
    check_images(images, "images", model=model)
    labels = check_labels(labels, images.shape[0], "labels", num_classes=num_classes(model, images))
    check_positive(eps, "eps")
    dev = _device_of(model)
    robust = 0.0
    for i in range(0, len(images), 250):
        x, y = images[i : i + 250].to(dev), labels[i : i + 250].to(dev)
        _, accuracy = worst_case(model, x, y, robust_attacks(eps))
        robust += accuracy["PGD-margin"] * len(x)
    return robust / len(images)


def evaluate(name: str, *, device: str | torch.device | None = None, robust: bool = True) -> dict[str, float]:
    """Measure zoo model ``name``: clean accuracy on its held-out test split; for a proxy also the
    transfer rate — the share of the first 1 000 test images whose PGD example (L∞, ε = 0.1, 20 steps of
    0.01, made on the proxy) the ``transfer_to`` model misclassifies; for models with ``robust_eps`` (unless
    ``robust=False``) the ``robust_accuracy`` on the first 1 000 test images."""
    from helpers.attacks import pgd, success_rate  # attacks build on the zoo's models, not the reverse

    recipe = _recipe(name)
    if not isinstance(robust, bool):
        raise TypeError(f"robust must be True or False; got {robust!r}")
    model = load(name, device=device)
    images, labels = _test_data(recipe)
    if recipe.method == "denoiser":
        return _evaluate_denoiser(recipe, model, images, labels, device=device, robust=robust)
    metrics = {"clean_accuracy": accuracy(model, images, labels, inputs=INPUTS[recipe.data])}
    if recipe.transfer_to is not None:
        setting = TRANSFER_SETTING
        x, y = images[: setting["images"]].to(_device_of(model)), labels[: setting["images"]].to(_device_of(model))
        x_adv = torch.cat([pgd(model, x[i : i + 250], y[i : i + 250], eps=setting["eps"], alpha=setting["alpha"],
                               steps=setting["steps"], generator=torch.Generator().manual_seed(0))
                           for i in range(0, len(x), 250)])
        metrics["transfer_rate"] = success_rate(load(recipe.transfer_to, device=device), x_adv, y)
    if recipe.data in _TAGGED:
        metrics.update(shortcut_metrics(model))
    if recipe.robust_eps is not None and robust:
        count = ROBUST_SETTING["images"]
        metrics["robust_accuracy"] = robust_accuracy(model, images[:count], labels[:count], recipe.robust_eps)
    return metrics


def shortcut_metrics(model: nn.Module) -> dict[str, float]:
    """How much a model trained on tagged data relies on the tag: its accuracy on test split (b), without tags,
    and (c), with the tags moved to the other classes, and the share of its gradient saliency (for the true
    class) that falls on the tag's 16 pixels — 2 % of the image — on the tagged test shirts of split (a)."""
    from helpers.explain import relevance_mass, saliency  # explain builds on the zoo, not the reverse

    dev = _device_of(model)
    metrics = {}
    for key, tags in (("untagged_accuracy", "none"), ("moved_accuracy", "moved")):
        images, labels, _ = tagged_fashion_mnist("test", tags=tags)
        metrics[key] = accuracy(model, images, labels)
    images, labels, tagged = tagged_fashion_mnist("test")
    x, y = images[tagged].to(dev), labels[tagged].to(dev)
    maps = torch.cat([saliency(model, x[i : i + 300], y[i : i + 300]) for i in range(0, len(x), 300)])
    metrics["tag_saliency_mass"] = relevance_mass(maps, tag_mask().expand(len(x), -1, -1, -1).to(dev))
    return metrics


FILTER_SETTING = {"eps": 0.1, "alpha": 0.01, "steps": 20, "images": 500}


def _evaluate_denoiser(recipe: Recipe, denoiser: nn.Module, images: torch.Tensor, labels: torch.Tensor, *,
                       device: str | torch.device | None, robust: bool) -> dict[str, float]:
    """A denoiser's figures: the accuracy of its classifier through it, on clean images and (unless
    ``robust=False``) on the first 500 test images under L∞ PGD-20 (ε = 0.1) made against the classifier
    alone (the unaware attacker) and against the composition classifier ∘ denoiser (the adaptive one)."""
    from helpers.attacks import pgd, success_rate
    from helpers.defenses import Defended

    classifier = load(recipe.guards, device=device)
    defended = Defended(classifier, denoiser)
    metrics = {"clean_accuracy": accuracy(defended, images, labels)}
    if robust:
        s, dev = FILTER_SETTING, _device_of(classifier)
        x, y = images[: s["images"]].to(dev), labels[: s["images"]].to(dev)
        for key, target in (("unaware_accuracy", classifier), ("adaptive_accuracy", defended)):
            x_adv = torch.cat([pgd(target, x[i : i + 250], y[i : i + 250], eps=s["eps"], alpha=s["alpha"],
                                   steps=s["steps"], generator=torch.Generator().manual_seed(0))
                               for i in range(0, len(x), 250)])
            metrics[key] = 1.0 - success_rate(defended, x_adv, y)
    return metrics


def _device_of(model: nn.Module) -> torch.device:
    return model_device(model)


def _card_rows(info: dict[str, dict]) -> list[str]:
    rows = [
        "| model | architecture | parameters | test split | clean accuracy | training time | notes |",
        "|---|---|---:|---|---:|---|---|",
    ]
    for name, recipe in RECIPES.items():
        entry = info.get(name, {})
        acc = entry.get("metrics", {}).get("clean_accuracy")
        training = entry.get("training", {})
        split = _TEST_NAMES[recipe.data]
        rows.append(
            f"| `{name}` | `{recipe.build.__name__}()` | {_models.count_parameters(recipe.build()):,} | {split} | "
            + (f"{100 * acc:.2f} %" if acc is not None else "not measured")
            + " | "
            + (f"{training['seconds']:.0f} s on {training['device']}" if training else "—")
            + " | "
            + _notes(recipe, entry.get("metrics", {}))
            + " |"
        )
    return rows


def _notes(recipe: Recipe, metrics: dict[str, float]) -> str:
    notes = []
    if recipe.method == "denoiser":
        notes.append(f"clean accuracy is `{recipe.guards}`'s through the filter")
        if "unaware_accuracy" in metrics:
            f = FILTER_SETTING
            notes.append(f"through the filter, {100 * metrics['unaware_accuracy']:.1f} % of L∞ PGD-{f['steps']} "
                         f"examples (ε = {f['eps']}) made against `{recipe.guards}` alone are classified right, "
                         f"{100 * metrics['adaptive_accuracy']:.1f} % of those made against the composition "
                         f"(first {f['images']:,} test images)")
    if recipe.transfer_to is not None and "transfer_rate" in metrics:
        t = TRANSFER_SETTING
        notes.append(f"its PGD examples (ε = {t['eps']}, {t['steps']} steps) fool `{recipe.transfer_to}` on "
                     f"{100 * metrics['transfer_rate']:.1f} % of the first {t['images']:,} test images")
    if recipe.robust_eps is not None and "robust_accuracy" in metrics:
        r = ROBUST_SETTING
        notes.append(f"robust accuracy {100 * metrics['robust_accuracy']:.1f} % at ε = {recipe.robust_eps} (L∞, worst "
                     f"case per image over APGD-CE and APGD-DLR, {r['apgd_steps']} steps each, and PGD-{r['steps']} "
                     f"with {r['restarts']} restarts, margin loss; first {r['images']:,} test images)")
    if "moved_accuracy" in metrics:
        notes.append(f"(b) without tags {100 * metrics['untagged_accuracy']:.2f} %, (c) tags moved to the other "
                     f"classes {100 * metrics['moved_accuracy']:.2f} %; {100 * metrics['tag_saliency_mass']:.1f} % of "
                     f"its saliency on the tag (16 pixels, 2 % of the image) of the 900 tagged test shirts")
    return "; ".join(notes)


def model_card() -> str:
    """The zoo's model card (the text of ``MODELS.md`` beside the checkpoints)."""
    info = _read_info()
    lines = [
        "# Model zoo",
        "",
        "Every figure below was written by `python -m helpers.zoo evaluate --write`, which loads each",
        "checkpoint and measures it; `tests/test_zoo.py` re-measures them and fails if this file is stale.",
        "Reproduce a checkpoint with `python -m helpers.zoo train NAME`: on the CPU of the same machine and torch",
        "version the weights come out bit for bit identical (checked for `shapes_cnn`).",
        "",
        *_card_rows(info),
        "",
        "## Recipes",
        "",
    ]
    for name, recipe in RECIPES.items():
        lines += [f"- **`{name}`** — {recipe.summary} {recipe.describe()}."]
    lines += [
        "",
        "Training times were measured by `python -m helpers.zoo train` on the machine named in the",
        "table (the course's reference machine: 2 CPU cores, no GPU), while other work shared its cores —",
        "read them as upper bounds.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.zoo", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="print the model card")
    p_train = sub.add_parser("train", help="reproduce a checkpoint from its recipe")
    p_train.add_argument("name", choices=[*names(), "all"], help="a model's name, or all")
    p_train.add_argument("--device", default=None)
    p_train.add_argument("--seed", type=int, default=None, help="another seed than the recipe's")
    p_train.add_argument("--out", default=None, help="write the checkpoint to this file, not to the zoo "
                         "(e.g. a private homework 6 black box: train fmnist_blackbox --seed S --out PATH)")
    p_eval = sub.add_parser("evaluate", help="measure every model's accuracy")
    p_eval.add_argument("--write", action="store_true", help="record the figures in MODELS.md")
    p_eval.add_argument("--device", default=None)
    args = parser.parse_args(argv)

    if args.command == "list":
        print(model_card())
    elif args.command == "train" and (args.seed is not None or args.out is not None):
        if args.name == "all" or args.out is None:
            parser.error("--out trains one model into a file: train NAME [--seed S] --out PATH")
        retrain(args.name, device=args.device, seed=args.seed, out=args.out)
        print(f"wrote {args.out} ({args.name}, seed {args.seed}); the zoo is unchanged")
    elif args.command == "train":
        for name in names() if args.name == "all" else [args.name]:
            retrain(name, device=args.device)
            print(f"wrote {checkpoint_path(name)}")
        print("run `python -m helpers.zoo evaluate --write` next to measure the models and update MODELS.md")
    else:
        info = _read_info()
        for name in names():
            metrics = evaluate(name, device=args.device)
            info.setdefault(name, {})["metrics"] = metrics
            print(f"{name:20s} " + "  ".join(f"{k} {100 * v:.2f} %" for k, v in metrics.items()), flush=True)
        if args.write:
            _write_info(info)
            (MODELS_DIR / "MODELS.md").write_text(model_card())
            print(f"wrote {MODELS_DIR / 'MODELS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
