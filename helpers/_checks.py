"""Argument checks shared by every public function.

Each check raises ``TypeError`` or ``ValueError`` whose message names the argument, says what was
expected and what came, so a student never has to read a deep torch traceback.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import Iterator

import torch
from torch import nn


def check_model(model: object, name: str = "model") -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module; got {type(model).__name__}")
    return model


def check_images(x: object, name: str = "x", *, channels: int | None = None) -> torch.Tensor:
    """Images: a floating tensor N×C×H×W with every value in [0, 1]."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of images N×C×H×W; got {type(x).__name__}")
    if not x.is_floating_point():
        hint = " — convert uint8 images with x.float() / 255" if x.dtype == torch.uint8 else ""
        raise TypeError(f"{name} must be a floating-point tensor; got dtype {x.dtype}{hint}")
    if x.dim() != 4:
        raise ValueError(f"{name} must have 4 dimensions N×C×H×W; got shape {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one image; got shape {tuple(x.shape)}")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{name} must have {channels} channel(s); got shape {tuple(x.shape)}")
    lo, hi = (float(v) for v in torch.aminmax(x.detach()))  # one pass; NaN and ±inf reach the extremes
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if (lo < 0.0 or hi > 1.0) and not _NOISY.get():
        hint = " — divide uint8 images by 255" if hi > 1.0 and hi <= 255.0 and lo >= 0 else ""
        raise ValueError(f"{name} must lie in [0, 1]; got min {lo:.4g}, max {hi:.4g}{hint}")
    return x


_NOISY = contextvars.ContextVar("noisy_inputs", default=False)


@contextlib.contextmanager
def noisy_inputs() -> Iterator[None]:
    """Inside this block ``check_images`` lets values outside [0, 1] pass (NaN and ±inf still fail): the
    library's own noisy copies x + N(0, σ²) of a user's valid images — SmoothGrad, randomized smoothing,
    noise training, which do not clip, as in their papers — reach models that check their input, such as
    ``Defended(model, median_filter)``."""
    token = _NOISY.set(True)
    try:
        yield
    finally:
        _NOISY.reset(token)


def check_labels(
    y: object, n: int, name: str = "y", *, num_classes: int | None = None
) -> torch.Tensor:
    """Labels: an int64 tensor of shape N (an int is broadcast to all N images)."""
    if isinstance(y, bool):
        raise TypeError(f"{name} must be an int or an int64 tensor of shape ({n},); got bool")
    if isinstance(y, int):
        y = torch.full((n,), y, dtype=torch.int64)
    if not isinstance(y, torch.Tensor):
        raise TypeError(
            f"{name} must be an int or an int64 tensor of shape ({n},); got {type(y).__name__}"
        )
    if y.dtype != torch.int64:
        raise TypeError(f"{name} must have dtype torch.int64; got {y.dtype}")
    if y.dim() == 0:
        y = y.expand(n)
    if y.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) to match the images; got {tuple(y.shape)}")
    if num_classes is not None and n > 0:
        lo, hi = int(y.min()), int(y.max())
        if lo < 0 or hi >= num_classes:
            raise ValueError(
                f"{name} must hold classes in 0…{num_classes - 1}; got values from {lo} to {hi}"
            )
    return y


def check_positive(value: object, name: str, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number; got {type(value).__name__}")
    if value != value or (value < 0 if allow_zero else value <= 0):
        bound = "≥ 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound}; got {value}")
    return float(value)


def check_int(value: object, name: str, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int; got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be ≥ {minimum}; got {value}")
    return value


def check_choice(value: object, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value  # type: ignore[return-value]


def check_generator(generator: object, name: str = "generator") -> torch.Generator | None:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"{name} must be a torch.Generator or None; got {type(generator).__name__}")
    return generator


def num_classes(model: nn.Module, x: torch.Tensor) -> int:
    """The number of logits the model returns: read off a plain ``nn.Sequential`` that ends in ``nn.Linear``
    (its output is that layer's), else measured by a forward pass on one image."""
    if type(model) is nn.Sequential and len(model) and isinstance(model[-1], nn.Linear):
        return model[-1].out_features
    with torch.no_grad(), frozen(model):
        return int(model(x[:1]).shape[1])


@contextlib.contextmanager
def frozen(model: nn.Module) -> Iterator[nn.Module]:
    """Evaluate ``model`` in eval mode with its parameters frozen, then restore both.

    The tensor contract: a function that runs the model restores ``model.training`` and every
    parameter's ``requires_grad`` and leaves no ``.grad`` behind.
    """
    modes = [(m, m.training) for m in model.modules()]  # per module: a wrapper may hold an eval-mode model
    flags = [(p, p.requires_grad) for p in model.parameters()]
    grads = [(p, p.grad) for p in model.parameters()]
    model.eval()
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield model
    finally:
        for m, mode in modes:
            m.training = mode
        for p, flag in flags:
            p.requires_grad_(flag)
        for p, grad in grads:
            p.grad = grad
