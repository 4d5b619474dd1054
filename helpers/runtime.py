"""Where the course runs and how it is made reproducible."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

_DEVICES = ("cpu", "cuda", "mps")


def device() -> torch.device:
    """The device the notebooks use: cuda > mps > cpu.

    The environment variable ``HELPERS_DEVICE`` (e.g. ``cpu`` or ``cuda:1``) overrides the choice;
    ``make test`` sets it to ``cpu`` so that notebook outputs match the committed ones everywhere.
    """
    wanted = os.environ.get("HELPERS_DEVICE", "").strip()
    if wanted:
        kind = wanted.split(":")[0]
        if kind not in _DEVICES:
            raise ValueError(
                f"HELPERS_DEVICE must name one of {', '.join(_DEVICES)} (e.g. 'cuda:0'); got {wanted!r}"
            )
        if kind == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"HELPERS_DEVICE={wanted!r} but torch sees no CUDA device")
        if kind == "mps" and not torch.backends.mps.is_available():
            raise ValueError(f"HELPERS_DEVICE={wanted!r} but torch sees no MPS device")
        return torch.device(wanted)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch (all devices) and return a CPU ``torch.Generator`` seeded alike.

    Pass the returned generator to every function that takes ``generator=``: the same seed then
    reproduces a result exactly on the same device.
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int; got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be ≥ 0; got {seed}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)
