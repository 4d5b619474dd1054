"""Classifiers of the other media: spoken digits (waveforms, through ``helpers.audio.LogMel``) and words
(character indices, through ``helpers.text.OneHot``). Like the image models, each computes its features
inside itself, so attacks act on the raw input."""

from __future__ import annotations

from torch import nn

from helpers._checks import check_int


def keyword_cnn(num_classes: int = 10) -> nn.Sequential:
    """The spoken-digit classifier (zoo: ``digits_cnn``): waveforms ``N×8000`` in [−1, 1] → logits.

    ``LogMel`` (40 bands × 61 frames, in torch, so gradients reach the samples) → BatchNorm over the bands
    → three 1-D convolutions along time (64, 96, 128 channels; ReLU, max pooling) → max over time (a word
    may start anywhere in the clip) → logits.
    """
    from helpers.audio import LogMel

    check_int(num_classes, "num_classes", minimum=2)
    return nn.Sequential(
        LogMel(),
        nn.BatchNorm1d(40),
        nn.Conv1d(40, 64, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool1d(2),
        nn.Conv1d(64, 96, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool1d(2),
        nn.Conv1d(96, 128, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveMaxPool1d(1),
        nn.Flatten(),
        nn.Linear(128, num_classes),
    )


def char_cnn(num_classes: int = 3) -> nn.Sequential:
    """The word-language classifier (zoo: ``words_cnn``): character indices ``N×12`` → logits.

    ``OneHot`` (which also takes the one-hot ``N×12×V`` itself, for HotFlip) → 1-D convolutions over
    characters of width 3 (character trigrams, 128 channels) and 3 again (96) → max over positions → logits.
    """
    from helpers.text import ALPHABET, OneHot

    check_int(num_classes, "num_classes", minimum=2)
    return nn.Sequential(
        OneHot(len(ALPHABET)),
        nn.Conv1d(len(ALPHABET), 128, 3, padding=1),
        nn.ReLU(),
        nn.Conv1d(128, 96, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveMaxPool1d(1),
        nn.Flatten(),
        nn.Linear(96, num_classes),
    )


__all__ = ["keyword_cnn", "char_cnn"]
