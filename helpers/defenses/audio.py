"""Passive defenses for audio (lecture 40's filters, on waveforms ``N×T`` in [−1, 1])."""

from __future__ import annotations

import torch

from helpers._checks import check_waveforms


def quantize_waveform(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Reduce the bit depth of waveforms: round every sample to the nearest of the levels k / 2^(bits−1),
    x ↦ rint(x · 2^(bits−1)) / 2^(bits−1), clipped to [−1, 1]. A small perturbation is mostly rounded
    away, with the speech's own fine detail, but not always: a sample that lies near the midpoint between two
    levels moves to the next level under a tiny push, so an attacker who aims at those samples gets through
    (notebook 08b). Its gradient is 0 almost everywhere; attack through it with ``helpers.attacks.bpda``."""
    check_waveforms(x)
    if isinstance(bits, bool) or not isinstance(bits, int) or not 2 <= bits <= 16:
        raise ValueError(f"bits must be an int from 2 to 16; got {bits!r}")
    levels = 2 ** (bits - 1)
    return torch.clamp(torch.round(x * levels) / levels, -1.0, 1.0)


__all__ = ["quantize_waveform"]
