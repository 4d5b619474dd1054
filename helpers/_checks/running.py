"""Running a user's model: the model checks, its output checked as logits (``check_logits``, attached by
``watched`` and ``frozen``), every submodule's mode restored (``modes_kept``), and the one batch loop of the
library (``batched``).

The tensor contract: a function that runs the model restores every submodule's mode and every parameter's
``requires_grad`` and leaves no ``.grad`` behind, on every exit path; a model's output is checked once,
every time a function of the library runs it.
"""

from __future__ import annotations

import contextlib
import math
import re
import warnings
from collections.abc import Callable, Iterator

import torch
from torch import nn


def check_model(model: object, name: str = "model") -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module; got {type(model).__name__}")
    return model


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter or buffer (CPU for a model with neither)."""
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


def model_dtype(model: nn.Module) -> torch.dtype | None:
    """The floating dtype the model computes in (its first floating parameter or buffer), or None."""
    for tensor in (*model.parameters(), *model.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype
    return None


PROBABILITIES = ("returned probabilities (every row in [0, 1], summing to 1), not logits: with a softmax "
                 "inside the model, cross-entropy attacks and training optimise the wrong loss — return "
                 "the logits (drop the final softmax)")


def check_logits(
    logits: object, n: int | None = None, name: str = "model", *, probabilities: str = "warn"
) -> torch.Tensor:
    """A model's output: finite logits N×K with K ≥ 2 classes, one row per input image.

    An output that looks like probabilities — every value in [0, 1], every row summing to 1 — is the pitfall
    of a softmax left inside the model: ``probabilities="warn"`` warns (the answers are still right, the
    losses are not), ``"refuse"`` raises where the loss would be meaningless (training with the library's
    cross-entropy). The check reads the output already computed: one pass for its range, a second only
    when every value lies in [0, 1]."""
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"{name} must return a tensor of logits N×K; it returned {type(logits).__name__}")
    if logits.dim() != 2 or (n is not None and logits.shape[0] != n) or logits.shape[1] < 2:
        rows = "N" if n is None else str(n)
        raise ValueError(
            f"{name} must return logits {rows}×K with K ≥ 2 classes for {rows} images; "
            f"got shape {tuple(logits.shape)}"
        )
    if logits.numel() == 0:
        return logits
    values = logits.detach()
    lo, hi = torch.stack(torch.aminmax(values)).tolist()  # one pass; NaN and ±inf reach the extremes
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{name} returned NaN or infinite logits — check its weights and inputs")
    if lo >= 0.0 and hi <= 1.0 and bool(((values.sum(1) - 1).abs() <= 1e-4).all()):
        if probabilities == "refuse":
            raise ValueError(f"{name} must return logits for this loss; it {PROBABILITIES}")
        warnings.warn(f"{name} {PROBABILITIES}", UserWarning, stacklevel=2)
    return logits


_WATCHED: set[int] = set()


@contextlib.contextmanager
def watched(model: nn.Module, *, probabilities: str = "warn") -> Iterator[nn.Module]:
    """Check every output of ``model`` with ``check_logits`` while the block runs (``probabilities``: as
    there)."""
    if id(model) in _WATCHED:  # an inner function of the library already watches it
        yield model
        return

    def hook(_module: nn.Module, inputs: tuple, output: object) -> None:
        first = inputs[0] if inputs and isinstance(inputs[0], torch.Tensor) and inputs[0].dim() > 0 else None
        check_logits(output, None if first is None else first.shape[0], probabilities=probabilities)

    handle = model.register_forward_hook(hook)
    _WATCHED.add(id(model))
    try:
        yield model
    finally:
        _WATCHED.discard(id(model))
        handle.remove()


def num_classes(model: nn.Module, x: torch.Tensor) -> int:
    """The number of logits the model returns: read off a plain ``nn.Sequential`` that ends in ``nn.Linear``
    (its output is that layer's), else measured by a forward pass on one image (which checks the output)."""
    if type(model) is nn.Sequential and len(model) and isinstance(model[-1], nn.Linear):
        classes = model[-1].out_features
        if classes < 2:
            raise ValueError(f"model must return logits N×K with K ≥ 2 classes; "
                             f"its last layer has {classes} output")
        return classes
    with torch.no_grad(), frozen(model):
        return int(model(x[:1].to(model_device(model))).shape[1])


# What torch says when a model cannot take the inputs it was given (channels, H×W, rank or a clip's length
# that its layers were not built for): the start of the message of conv, linear, pooling, broadcasting and
# framing (a spectrogram's windows, unfold) errors.
_MISFIT = re.compile(r"Given groups=|mat1 and mat2 shapes cannot be multiplied|The size of tensor a .* must "
                     r"match the size of tensor b|Expected \d+D .*input|Calculated padded input size|"
                     r"Kernel size can't be greater|Output size is too small|size mismatch|"
                     r"maximum size for tensor at dimension")


@contextlib.contextmanager
def misfit_named() -> Iterator[None]:
    """Report a model that cannot take the images (torch's shape error from inside a layer) as a
    ``ValueError`` naming ``x`` and ``model``, torch's message kept and its error chained."""
    try:
        yield
    except RuntimeError as error:
        if not _MISFIT.search(str(error)):
            raise
        raise ValueError(f"x does not fit model: its shape (an image's channels, height or width, a clip's "
                         f"length) is not one the model's layers take (torch: {str(error).splitlines()[0]})"
                         ) from error


@contextlib.contextmanager
def modes_kept(model: nn.Module) -> Iterator[nn.Module]:
    """Restore the train/eval mode of every submodule of ``model`` when the block ends, errors included
    (and name a model that cannot take the images: ``misfit_named``)."""
    modes = [(m, m.training) for m in model.modules()]
    try:
        with misfit_named():
            yield model
    finally:
        for m, mode in modes:
            m.training = mode


@contextlib.contextmanager
def frozen(model: nn.Module, *, logits: bool = True) -> Iterator[nn.Module]:
    """Evaluate ``model`` in eval mode with its parameters frozen and its output checked (as logits; an
    image-to-image model such as a denoiser passes ``logits=False``), then restore both.

    The tensor contract: a function that runs the model restores every submodule's mode and every
    parameter's ``requires_grad`` and leaves no ``.grad`` behind, on every exit path.
    """
    flags = [(p, p.requires_grad) for p in model.parameters()]
    grads = [(p, p.grad) for p in model.parameters()]
    with modes_kept(model), (watched(model) if logits else contextlib.nullcontext()):
        model.eval()
        for p, _ in flags:
            p.requires_grad_(False)
        try:
            yield model
        finally:
            for p, flag in flags:
                p.requires_grad_(flag)
            for p, grad in grads:
                p.grad = grad


# The chunk size of inference (predict, accuracy, success_rate). For a deterministic model the logits of an
# image do not depend on it (bit for bit on the CPU, for the zoo's models), but the time does: on one CPU
# thread, 2 000 test images through fmnist_cnn take 1.0 s in chunks of 128 and 1.7 s in chunks of 1 000,
# whose activations no longer fit the cache (fmnist_blackbox: 2.7 s and 3.5 s; fmnist_resnet: 0.35 s and
# 0.67 s; benchmarks/RESULTS.md times it on every `make bench`). A randomised model (a random filter in
# front) draws its randomness once per chunk.
EVAL_BATCH = 128


def batched(fn: Callable[..., torch.Tensor], *tensors: torch.Tensor, batch_size: int) -> torch.Tensor:
    """``fn`` over the rows of ``tensors`` in chunks of ``batch_size`` (the same rows of each), the
    results concatenated: the one batch loop of the library, which bounds the memory."""
    size = int(batch_size)  # a NumPy integer too
    return torch.cat([fn(*chunks) for chunks in zip(*(t.split(size) for t in tensors))])
