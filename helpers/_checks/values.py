"""Checks of the plain values a function takes: numbers, options, generators, devices, callables, and the
checksum files of the assets.

Each check raises ``TypeError`` or ``ValueError`` whose message names the argument, says what was expected
and what came. Numbers must be finite (NaN and ±inf refused).
"""

from __future__ import annotations

import inspect
import math
import numbers
import re
from pathlib import Path

import torch


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

