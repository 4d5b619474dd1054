"""Training and evaluating the course's models, in batches, on the model's device."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from helpers._checks import (
    EVAL_BATCH,
    batched,
    check_bool,
    check_callable,
    check_choice,
    check_generator,
    check_images,
    check_int,
    check_labels,
    check_model,
    check_positive,
    check_tokens,
    check_waveforms,
    frozen,
    model_device,
    modes_kept,
    num_classes,
    own_generator,
    shape_or_type,
    watched,
)

INPUTS = {"images": check_images, "waveforms": check_waveforms, "tokens": check_tokens}


def check_inputs(x: object, name: str, inputs: str, for_model: nn.Module | None = None) -> torch.Tensor:
    """Check ``x`` against the tensor contract of its kind: ``"images"`` N×C×H×W in [0, 1] (in the dtype of
    ``for_model``), ``"waveforms"`` N×T in [−1, 1] or ``"tokens"`` int64 N×L character indices."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a str (the argument's name, for the messages); "
                        f"got {type(name).__name__}")
    check = INPUTS[check_choice(inputs, "inputs", tuple(INPUTS))]
    return check(x, name, model=for_model) if check is check_images else check(x, name)


LossFn = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


def _cross_entropy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The standard training loss: mean cross-entropy of the model's logits."""
    return F.cross_entropy(model(x), y)


def train(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    epochs: int,
    lr: float,
    batch_size: int = 128,
    weight_decay: float = 0.0,
    loss_fn: LossFn = _cross_entropy,
    epoch_end: Callable[[int, nn.Module], bool] | None = None,
    generator: torch.Generator | None = None,
    progress: bool = True,
    inputs: str = "images",
    outputs: str = "logits",
) -> list[float]:
    """Minimise ``loss_fn(model, x_batch, y_batch)`` (default: cross-entropy) on ``(images, labels)``
    with Adam.

    The learning rate follows a cosine from ``lr`` down to 0 over all steps. Batches are shuffled with
    ``generator`` and moved to the model's device one at a time; dropout and any randomness in ``loss_fn``
    draw from a torch RNG seeded from ``generator`` (a given generator leaves the global RNG as it was), so
    the same generator gives identical weights on the CPU. With ``generator=None`` the randomness comes from
    torch's global RNG: one draw seeds the run, so ``torch.manual_seed`` reproduces it. ``epoch_end(epoch,
    model)`` is called after every epoch and stops training by returning True (adversarial training uses it
    to catch catastrophic overfitting). Updates ``model`` in place, restores every submodule's train/eval
    mode (errors included), and returns the mean training loss of each epoch. ``inputs`` names the kind of
    data (``"images"``, ``"waveforms"`` or ``"tokens"``) whose contract ``images`` is checked against.
    ``outputs`` says what the model returns: ``"logits"`` (a classifier: ``labels`` are checked against its
    classes and its outputs as logits) or ``"images"`` (an image-to-image model, e.g. a denoiser, whose
    ``loss_fn`` uses the labels with a classifier of its own: the caller checks them against that
    classifier).
    """
    labels = _check_train(model, images, labels, inputs, outputs)
    check_int(epochs, "epochs")
    check_positive(lr, "lr")
    check_int(batch_size, "batch_size")
    check_positive(weight_decay, "weight_decay", allow_zero=True)
    check_callable(loss_fn, "loss_fn", "(model, x, y) -> loss")
    if epoch_end is not None:
        check_callable(epoch_end, "epoch_end", "(epoch, model) -> bool")
    check_generator(generator)
    check_bool(progress, "progress")
    return _fit(model, images, labels, epochs=epochs, lr=lr, batch_size=batch_size, weight_decay=weight_decay,
                loss_fn=loss_fn, epoch_end=epoch_end, generator=own_generator(generator), progress=progress,
                outputs=outputs)


def _fit(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, epochs: int, lr: float,
         batch_size: int, weight_decay: float, loss_fn: LossFn,
         epoch_end: Callable[[int, nn.Module], bool] | None, generator: torch.Generator, progress: bool,
         outputs: str) -> list[float]:
    """``train`` without its checks (``generator`` a generator object), for a loop that trains again and
    again on data it made itself (the T-round adversarial training)."""
    device = model_device(model)
    steps_per_epoch = math.ceil(images.shape[0] / batch_size)
    optimiser, schedule = _adam(model, lr, weight_decay, epochs * steps_per_epoch)
    history: list[float] = []
    bar = tqdm(total=epochs * steps_per_epoch, disable=not progress, desc="train", unit="batch")
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(int(torch.randint(2**62, (1,), generator=generator)))
        # the library's own losses are cross-entropies of logits: on probabilities they are meaningless
        own_loss = getattr(loss_fn, "__module__", "").startswith("helpers.")
        watch = watched(model, probabilities="refuse" if own_loss else "warn")
        with modes_kept(model), (watch if outputs == "logits" else contextlib.nullcontext()):
            model.train()
            try:
                for epoch in range(epochs):
                    order = torch.randperm(images.shape[0], generator=generator)
                    total = 0.0
                    for batch in order.split(batch_size):  # shuffled: a step each, not `batched`
                        xb, yb = images[batch].to(device), labels[batch].to(device)
                        total += _step(model, xb, yb, loss_fn, optimiser, schedule, epoch) * len(batch)
                        bar.update(1)
                    history.append(total / images.shape[0])
                    bar.set_postfix(epoch=epoch + 1, loss=f"{history[-1]:.4f}")
                    if epoch_end is not None and epoch_end(epoch, model):
                        break
            finally:
                bar.close()
                optimiser.zero_grad(set_to_none=True)
    return history


def _check_train(model: object, images: object, labels: object, inputs: str, outputs: str) -> torch.Tensor:
    """``train``'s model, data and labels: the labels within the model's classes when it returns logits."""
    check_model(model)
    check_inputs(images, "images", inputs, model)
    if check_choice(outputs, "outputs", ("logits", "images")) == "logits":
        return check_labels(labels, images.shape[0], "labels", num_classes=num_classes(model, images))
    return check_labels(labels, images.shape[0], "labels")


def _adam(model: nn.Module, lr: float, weight_decay: float,
          steps: int) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """Adam on the trainable parameters, its learning rate on a cosine from ``lr`` down to 0 in ``steps``."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no trainable parameters: every parameter has requires_grad=False")
    optimiser = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    return optimiser, torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, steps)


def _step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: LossFn,
          optimiser: torch.optim.Optimizer,
          schedule: torch.optim.lr_scheduler.LRScheduler, epoch: int) -> float:
    """One step of Adam on the batch loss, the learning rate moved along its schedule; returns the loss."""
    loss = _check_loss(loss_fn(model, x, y), epoch)
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()
    schedule.step()
    return loss.item()


def _check_loss(loss: object, epoch: int) -> torch.Tensor:
    """The batch loss must be one finite number: a NaN would silently turn every weight into NaN."""
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        got = shape_or_type(loss)
        raise ValueError(f"loss_fn must return a scalar loss tensor; got {got}")
    if not bool(torch.isfinite(loss.detach())):
        raise ValueError(f"the training loss became {float(loss)} in epoch {epoch + 1}: lr may be too large")
    return loss


def predict(
    model: nn.Module, images: torch.Tensor, *, batch_size: int = EVAL_BATCH, inputs: str = "images"
) -> torch.Tensor:
    """The model's logits for ``images``, computed in eval mode in batches on the model's device.

    Returns a detached ``N×classes`` tensor on the device of ``images``. ``inputs``: as in ``train``.
    """
    check_model(model)
    check_inputs(images, "images", inputs, model)
    check_int(batch_size, "batch_size")
    return _predict(model, images, batch_size)


def _predict(model: nn.Module, images: torch.Tensor, batch_size: int = EVAL_BATCH) -> torch.Tensor:
    """``predict`` without its checks, for the library's composed functions (the model not yet frozen)."""
    device = model_device(model)
    with torch.no_grad(), frozen(model):
        out = batched(lambda chunk: model(chunk.to(device)), images, batch_size=batch_size)
    return out.to(images.device)


def accuracy(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    batch_size: int = EVAL_BATCH,
    inputs: str = "images",
) -> float:
    """Share of ``images`` whose arg-max logit equals ``labels`` (a float in [0, 1]). ``inputs``: as in
    ``train``."""
    check_model(model)
    labels = check_labels(labels, check_inputs(images, "images", inputs, model).shape[0], "labels")
    check_int(batch_size, "batch_size")
    logits = _predict(model, images, batch_size)
    check_labels(labels, images.shape[0], "labels", num_classes=logits.shape[1])
    return _hits(logits, labels)


def _hits(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The share of rows whose arg-max is the label."""
    return (logits.argmax(1) == labels.to(logits.device)).float().mean().item()


def _accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
              batch_size: int = EVAL_BATCH) -> float:
    """``accuracy`` without its checks, for the library's composed functions."""
    return _hits(_predict(model, images, batch_size), labels)


__all__ = ["train", "predict", "accuracy", "model_device", "check_inputs"]
