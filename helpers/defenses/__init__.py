"""Defending a classifier (lecture 40): passive filters and detectors (``filters``, ``detection``; a
learned filter and detector in ``denoiser``), adversarial training (``training``) and certified randomized
smoothing (``smoothing``). The adaptive attacks that test them (BPDA, EOT, ``evade_detector``) are attacks:
``helpers.attacks.adaptive``."""

from helpers.defenses.audio import quantize_waveform
from helpers.defenses.denoiser import (
    ReconstructionDetector,
    reconstruction_error,
    train_denoiser,
)
from helpers.defenses.detection import FeatureSqueezingDetector, roc, tpr_at_fpr
from helpers.defenses.filters import (
    Defended,
    bit_depth,
    gaussian_blur,
    jpeg,
    median_filter,
    random_resize_pad,
)
from helpers.defenses.smoothing import certify, noise_counts, smoothed_predict
from helpers.defenses.training import (
    adversarial_training,
    fast_training,
    noise_training,
    pgd_training,
    trades,
)

__all__ = [
    "gaussian_blur",
    "median_filter",
    "bit_depth",
    "jpeg",
    "random_resize_pad",
    "Defended",
    "FeatureSqueezingDetector",
    "roc",
    "tpr_at_fpr",
    "train_denoiser",
    "reconstruction_error",
    "ReconstructionDetector",
    "adversarial_training",
    "pgd_training",
    "fast_training",
    "noise_training",
    "trades",
    "smoothed_predict",
    "certify",
    "noise_counts",
    "quantize_waveform",
]
