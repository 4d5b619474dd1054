"""Checks of the tensors a function takes: images, waveforms, words, labels, and any other tensor argument
(``check_tensor``: a dtype, a rank or shape, finite values, a range).

The dtype policy: images are float32 (float64 where the model itself is float64, as in the oracle tests);
any other dtype is refused with a message that says how to convert, never computed in silently.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import numbers
from collections.abc import Iterator

import torch
from torch import nn

from helpers._checks.running import model_dtype

FLOAT_DTYPES = (torch.float32, torch.float64)


def shape_or_type(value: object, *, dtype: bool = False) -> tuple[int, ...] | str:
    """What came, for an error message: a tensor's shape (with its dtype where ``dtype``), or else the
    name of the value's type."""
    if not isinstance(value, torch.Tensor):
        return type(value).__name__
    return f"{tuple(value.shape)} {value.dtype}" if dtype else tuple(value.shape)


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



def check_tensor(
    value: object,
    name: str,
    *,
    what: str = "",
    dtype: str | torch.dtype | tuple[torch.dtype, ...] | None = "float",
    dims: int | tuple[int, ...] | None = None,
    shape: tuple[int | None, ...] | None = None,
    finite: bool = True,
    low: float | None = None,
    high: float | None = None,
) -> torch.Tensor:
    """A tensor argument other than images, checked in one place: its ``dtype`` (``"float"``: any floating
    dtype; a dtype or a tuple of them; None: any), its number of dimensions ``dims`` (one, or a tuple of those
    allowed) or its exact ``shape`` (``None`` for a free dimension), finite values (a floating tensor, unless
    ``finite=False``) and every value in [``low``, ``high``] where given. ``what`` describes it in the
    messages (``"feature map N×K×h×w"``), each of which names the argument."""
    about = f" {what}" if what else ""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor{about}; got {type(value).__name__}")
    if dtype is None:
        fits, wanted = True, "a tensor"
    elif dtype == "float":
        fits, wanted = value.is_floating_point(), "a floating-point tensor"
    else:
        allowed = dtype if isinstance(dtype, tuple) else (dtype,)
        fits, wanted = value.dtype in allowed, f"a tensor of dtype {' or '.join(map(str, allowed))}"
    if not fits:
        raise TypeError(f"{name} must be {wanted}{about}; got dtype {value.dtype}")
    ranks = dims if isinstance(dims, tuple) else (len(shape),) if shape is not None else (dims,)
    if ranks != (None,) and value.dim() not in ranks:
        raise ValueError(f"{name} must have {' or '.join(map(str, ranks))} dimensions{about}; "
                         f"got shape {tuple(value.shape)}")
    if shape is not None and any(s is not None and s != v for s, v in zip(shape, value.shape)):
        expected = "×".join("?" if s is None else str(s) for s in shape)
        raise ValueError(f"{name} must have shape {expected}{about}; got {tuple(value.shape)}")
    bounded = low is not None or high is not None
    if value.numel() == 0 or not (bounded or (finite and value.is_floating_point())):
        return value
    values = value.detach().to(torch.uint8) if value.dtype == torch.bool else value.detach()
    lo, hi = (float(v) for v in torch.aminmax(values))  # one pass; NaN and ±inf reach the extremes
    if finite and not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if (low is not None and lo < low) or (high is not None and hi > high):
        interval = f"[{'-∞' if low is None else f'{low:g}'}, {'∞' if high is None else f'{high:g}'}]"
        raise ValueError(f"{name} must lie in {interval}; got min {lo:.4g}, max {hi:.4g}")
    return value
