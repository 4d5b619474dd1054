"""Words as tensors: characters ↔ indices, and the one-hot layer that lets gradients reach the characters.

A batch of words is an int64 tensor ``N×L`` of indices into ``ALPHABET`` (index 0, ``PAD``, fills the end
of a word shorter than L). A text model (``helpers.models.char_cnn``) starts with ``OneHot``, which also
accepts the float one-hot encoding ``N×L×V`` itself: HotFlip differentiates the loss with respect to it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from helpers._checks import check_int, check_tokens

PAD = "·"  # shown for index 0
ALPHABET = PAD + "abcdefghijklmnopqrstuvwxyzáéíñóúüäëïöè"
MAX_LENGTH = 12


def encode(words: Sequence[str], length: int = MAX_LENGTH) -> torch.Tensor:
    """Words → int64 ``N×length`` character indices, padded with 0. Letters outside ``ALPHABET`` and
    words longer than ``length`` raise a ValueError."""
    if (isinstance(words, str) or not isinstance(words, Sequence)
            or not all(isinstance(w, str) for w in words)):
        raise TypeError(f"words must be a list of strings; got {type(words).__name__}")
    check_int(length, "length")
    index = {c: i for i, c in enumerate(ALPHABET)}
    out = torch.zeros(len(words), length, dtype=torch.int64)
    for n, word in enumerate(words):
        if len(word) > length or not word or any(c not in index or c == PAD for c in word):
            raise ValueError(f"words[{n}] = {word!r} must have 1–{length} letters from {ALPHABET[1:]!r}")
        out[n, : len(word)] = torch.tensor([index[c] for c in word])
    return out


def decode(tokens: torch.Tensor) -> list[str]:
    """int64 ``N×L`` character indices → words (padding dropped)."""
    check_tokens(tokens, "tokens", vocabulary=len(ALPHABET))
    return ["".join(ALPHABET[i] for i in row if i != 0) for row in tokens.tolist()]


class OneHot(nn.Module):
    """Indices ``N×L`` → one-hot ``N×V×L`` (characters as channels, for ``nn.Conv1d``). A float ``N×L×V``
    input is taken as the one-hot encoding already made — the door through which HotFlip's gradient
    ∂L/∂x_{i,c} comes back."""

    def __init__(self, vocabulary: int = len(ALPHABET)) -> None:
        super().__init__()
        self.vocabulary = check_int(vocabulary, "vocabulary", minimum=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not x.is_floating_point():
            x = F.one_hot(x, self.vocabulary).float()
        return x.transpose(1, 2)

    def extra_repr(self) -> str:
        return f"vocabulary={self.vocabulary}"


__all__ = ["ALPHABET", "PAD", "MAX_LENGTH", "encode", "decode", "OneHot"]
