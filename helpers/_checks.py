"""Argument checks shared by every public function.

Each check raises ``TypeError`` or ``ValueError`` whose message names the argument, says what was
expected and what came, so a student never has to read a deep torch traceback.

The dtype policy: images are float32 (float64 where the model itself is float64, as in the oracle
tests); any other dtype is refused with a message that says how to convert, never computed in
silently. Numbers must be finite; a model's output is checked once, in ``check_logits``, every time
a function of the library runs it (``frozen`` and ``watched`` attach the check).
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
import math
import numbers
import re
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from torch import nn

FLOAT_DTYPES = (torch.float32, torch.float64)


def shape_or_type(value: object, *, dtype: bool = False) -> tuple[int, ...] | str:
    """What came, for an error message: a tensor's shape (with its dtype where ``dtype``), or else the
    name of the value's type."""
    if not isinstance(value, torch.Tensor):
        return type(value).__name__
    return f"{tuple(value.shape)} {value.dtype}" if dtype else tuple(value.shape)


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


def _check_float_dtype(x: torch.Tensor, name: str, model: nn.Module | None, hint: str) -> None:
    """The dtype policy: float32, or float64 for a float64 model; ``hint`` says how to convert the
    integer tensor that came instead."""
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor; got dtype {x.dtype}{hint}")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be a float32 tensor; got dtype {x.dtype} — "
                        f"convert it with {name}.float()")
    expected = model_dtype(model) if model is not None else None
    if expected is not None and x.dtype != expected:
        how = f"{name}.float()" if expected == torch.float32 else f"{name}.to({expected})"
        raise TypeError(f"{name} must have the model's dtype {expected}; got {x.dtype} — "
                        f"convert it with {how}")


def check_images(
    x: object, name: str = "x", *, channels: int | None = None, model: nn.Module | None = None
) -> torch.Tensor:
    """Images: a float32 (or, for a float64 model, float64) tensor N×C×H×W with every value in [0, 1]."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of images N×C×H×W; got {type(x).__name__}")
    hint = f" — convert uint8 images with {name}.float() / 255" if x.dtype == torch.uint8 else ""
    _check_float_dtype(x, name, model, hint)
    if x.dim() != 4:
        raise ValueError(f"{name} must have 4 dimensions N×C×H×W; got shape {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one image; got shape {tuple(x.shape)}")
    if x.numel() == 0:
        raise ValueError(f"{name} must have at least one pixel per image; got shape {tuple(x.shape)}")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{name} must have {channels} channel(s); got shape {tuple(x.shape)}")
    lo, hi = (float(v) for v in torch.aminmax(x.detach()))  # one pass; NaN and ±inf reach the extremes
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if (lo < 0.0 or hi > 1.0) and not _NOISY.get():
        hint = " — divide uint8 images by 255" if hi > 1.0 and hi <= 255.0 and lo >= 0 else ""
        raise ValueError(f"{name} must lie in [0, 1]; got min {lo:.4g}, max {hi:.4g}{hint}")
    return x


def check_waveforms(x: object, name: str = "x", *, model: nn.Module | None = None) -> torch.Tensor:
    """Waveforms: a float32 (or, for a float64 model, float64) tensor N×T (one clip a row) with every sample
    in [−1, 1]."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of waveforms N×T; got {type(x).__name__}")
    hint = " — convert int16 audio with x.float() / 32768" if x.dtype == torch.int16 else ""
    _check_float_dtype(x, name, model, hint)
    if x.dim() != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} must have 2 dimensions N×T with N, T ≥ 1; got shape {tuple(x.shape)}")
    lo, hi = (float(v) for v in torch.aminmax(x.detach()))
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if lo < -1.0 or hi > 1.0:
        hint = " — divide int16 samples by 32768" if max(-lo, hi) <= 32768 else ""
        raise ValueError(f"{name} must lie in [-1, 1]; got min {lo:.4g}, max {hi:.4g}{hint}")
    return x


def check_tokens(x: object, name: str = "x", *, vocabulary: int | None = None) -> torch.Tensor:
    """Words as character indices: an int64 tensor N×L (index 0 pads a short word)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of character indices N×L; got {type(x).__name__}")
    if x.dtype != torch.int64:
        raise TypeError(f"{name} must have dtype torch.int64 (character indices); got {x.dtype}")
    if x.dim() != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} must have 2 dimensions N×L with N, L ≥ 1; got shape {tuple(x.shape)}")
    lo, hi = int(x.min()), int(x.max())
    if lo < 0 or (vocabulary is not None and hi >= vocabulary):
        top = f"{vocabulary - 1}" if vocabulary is not None else "∞"
        raise ValueError(f"{name} must hold character indices in 0…{top}; got values from {lo} to {hi}")
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
    if isinstance(y, numbers.Integral):
        y = torch.full((n,), int(y), dtype=torch.int64)
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
        lo, hi = (int(v) for v in torch.aminmax(y))
        if lo < 0 or hi >= num_classes:
            raise ValueError(
                f"{name} must hold classes in 0…{num_classes - 1}; got values from {lo} to {hi}"
            )
    return y


def check_number(
    value: object,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """A finite real number (NaN and ±inf refused) in the interval given by ``low`` and ``high``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number; got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number; got {value}")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        left = "-∞" if low is None else f"{low:g}"
        right = "∞" if high is None else f"{high:g}"
        opening = "(" if low_open or low is None else "["
        closing = ")" if high_open or high is None else "]"
        interval = f"{opening}{left}, {right}{closing}"
        raise ValueError(f"{name} must be in {interval}; got {value:g}")
    return value


def check_positive(value: object, name: str, *, allow_zero: bool = False) -> float:
    """A finite number > 0 (≥ 0 with ``allow_zero``); NaN and infinity are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number; got {type(value).__name__}")
    if value != value or (value < 0 if allow_zero else value <= 0):
        bound = "≥ 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound}; got {value}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number; got {value}")
    return float(value)


def check_int(value: object, name: str, *, minimum: int = 1, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int; got {type(value).__name__}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be ≥ {minimum}; got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be ≤ {maximum}; got {value}")
    return value


def check_bool(value: object, name: str) -> bool:
    """True or False — not a string such as ``"False"``, which Python would treat as true."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False; got {value!r} ({type(value).__name__})")
    return value


def bool_options(function: object) -> set[str]:
    """The names of ``function``'s keyword options annotated ``bool`` (checked by the public wrappers)."""
    return {name for name, p in inspect.signature(function).parameters.items()
            if p.kind == p.KEYWORD_ONLY and p.annotation in ("bool", bool)}


def check_choice(value: object, name: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_generator(generator: object, name: str = "generator") -> torch.Generator | None:
    """A ``torch.Generator``, or None for torch's global RNG (the convention of torch, Captum and
    torchattacks: ``torch.manual_seed(s)`` then reproduces the call; two calls in a row draw anew)."""
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"{name} must be a torch.Generator or None; got {type(generator).__name__}")
    return generator


def own_generator(generator: torch.Generator | None) -> torch.Generator:
    """The generator a function that needs one object to draw from uses: ``generator`` itself, or for None
    a fresh CPU generator seeded by one draw from torch's global RNG (as torch's ``RandomSampler`` does), so
    that None means the global RNG here too."""
    if generator is not None:
        return generator
    return torch.Generator().manual_seed(int(torch.randint(2**62, (1,))))


def check_device(value: object, name: str = "device") -> torch.device | None:
    """None, or a device torch knows: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"`` or a ``torch.device``."""
    if value is None or isinstance(value, torch.device):
        return value
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str such as 'cpu' or 'cuda', a torch.device or None; got "
                        f"{type(value).__name__}")
    try:
        return torch.device(value)
    except RuntimeError:
        raise ValueError(f"{name} must name a device such as 'cpu', 'cuda' or 'mps'; got {value!r}") from None


def check_callable(value: object, name: str, what: str = "x -> x") -> object:
    if not callable(value):
        raise TypeError(f"{name} must be callable {what}; got {type(value).__name__}")
    return value


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


# What torch says when a model cannot take the images it was given (channels, H×W or rank that its layers
# were not built for): the start of the message of conv, linear, pooling and broadcasting errors.
_MISFIT = re.compile(r"Given groups=|mat1 and mat2 shapes cannot be multiplied|The size of tensor a .* must "
                     r"match the size of tensor b|Expected \d+D .*input|Calculated padded input size|"
                     r"Kernel size can't be greater|Output size is too small|size mismatch")


@contextlib.contextmanager
def misfit_named() -> Iterator[None]:
    """Report a model that cannot take the images (torch's shape error from inside a layer) as a
    ``ValueError`` naming ``x`` and ``model``, torch's message kept and its error chained."""
    try:
        yield
    except RuntimeError as error:
        if not _MISFIT.search(str(error)):
            raise
        raise ValueError(f"x does not fit model: its channels, height or width are not those the model's "
                         f"layers take (torch: {str(error).splitlines()[0]})") from error


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


def read_sums(path: Path) -> dict[str, str]:
    """The ``sha256sum`` file ``path`` as {file name: digest}; a malformed line is refused, naming the
    line."""
    sums = {}
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not re.fullmatch(r"[0-9a-fA-F]{64}", parts[0]):
            raise ValueError(f"{path}, line {number} is not '<64 hex digits>  <file name>': "
                             f"{line.strip()[:80]!r}")
        sums[parts[1].lstrip("*")] = parts[0].lower()
    return sums


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
