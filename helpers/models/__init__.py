"""The course's architectures: image classifiers (``images``), classifiers of waveforms and words
(``sequences``) and the learned denoiser (``denoisers``).

Every classifier maps its raw input (pixels in [0, 1], waveforms, character indices) to logits and computes
its own features — normalisation, log-mel, one-hot — inside itself, so every attack budget is in the input's
own units.
"""

from torch import nn

from helpers._checks import check_model
from helpers.models.denoisers import ResidualDenoiser, fashion_denoiser
from helpers.models.images import (
    FASHION_MEAN,
    FASHION_STD,
    SHAPES_MEAN,
    SHAPES_STD,
    BinaryLogits,
    Normalize,
    ResidualBlock,
    elephant_toy,
    fashion_blackbox,
    fashion_cnn,
    fashion_proxy,
    fashion_resnet,
    shapes_cnn,
)
from helpers.models.sequences import char_cnn, keyword_cnn


def count_parameters(model: nn.Module) -> int:
    """Number of trainable numbers in ``model``."""
    check_model(model)
    return sum(p.numel() for p in model.parameters())


__all__ = [
    "Normalize",
    "fashion_cnn",
    "fashion_blackbox",
    "fashion_proxy",
    "shapes_cnn",
    "fashion_resnet",
    "ResidualBlock",
    "elephant_toy",
    "keyword_cnn",
    "char_cnn",
    "fashion_denoiser",
    "ResidualDenoiser",
    "BinaryLogits",
    "count_parameters",
    "FASHION_MEAN",
    "FASHION_STD",
    "SHAPES_MEAN",
    "SHAPES_STD",
]
