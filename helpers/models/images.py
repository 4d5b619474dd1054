"""The course's image classifiers: ``nn.Sequential`` stacks that start with ``Normalize``, and lecture 31's
two-feature toy.

Every model maps pixel-space images in [0, 1] to logits; normalisation is the model's first
layer, so every attack budget ε is measured in pixel units. Most stacks are flat, so that the
hand-written lessons can walk their layers one by one; ``fashion_resnet`` has skip connections.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from helpers._checks import check_int

# Per-channel statistics of the training splits (measured once; see `python -m helpers.zoo`).
FASHION_MEAN, FASHION_STD = (0.2860,), (0.3530,)
SHAPES_MEAN, SHAPES_STD = (0.233, 0.233, 0.233), (0.229, 0.229, 0.229)


class Normalize(nn.Module):
    """``(x − mean) / std`` per channel: the first layer of every course model.

    Keeping the normalisation inside the model means that attacks and explanations work in
    pixel space [0, 1], where ε = 8/255 means "8 grey levels".
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        mean_t = torch.as_tensor(mean, dtype=torch.float32).reshape(1, -1, 1, 1)
        std_t = torch.as_tensor(std, dtype=torch.float32).reshape(1, -1, 1, 1)
        if mean_t.numel() != std_t.numel():
            raise ValueError(f"mean and std must have the same length; "
                             f"got {mean_t.numel()} and {std_t.numel()}")
        if (std_t <= 0).any():
            raise ValueError(f"std must be > 0 in every channel; got {tuple(std_t.flatten().tolist())}")
        self.register_buffer("mean", mean_t)
        self.register_buffer("std", std_t)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def extra_repr(self) -> str:
        def rounded(t: torch.Tensor) -> tuple[float, ...]:
            return tuple(round(v, 4) for v in t.flatten().tolist())

        return f"mean={rounded(self.mean)}, std={rounded(self.std)}"


def fashion_cnn() -> nn.Sequential:
    """The main Fashion-MNIST CNN (zoo: ``fmnist_cnn``): two conv blocks and two dense layers.

    1×28×28 → conv 32 → pool → conv 64 → pool → 128 → 10 logits; ReLU, max pooling, no BatchNorm.
    """
    return nn.Sequential(
        Normalize(FASHION_MEAN, FASHION_STD),
        nn.Conv2d(1, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 7 * 7, 128),
        nn.ReLU(),
        nn.Dropout(0.3),
        nn.Linear(128, 10),
    )


def fashion_blackbox() -> nn.Sequential:
    """The "black box" of lecture 38 (zoo: ``fmnist_blackbox``): a different, deeper network.

    Three conv blocks with BatchNorm (5×5, then 3×3 kernels), average pooling and a single
    dense layer — another depth and width than ``fashion_cnn``, trained with another seed.
    """
    return nn.Sequential(
        Normalize(FASHION_MEAN, FASHION_STD),
        nn.Conv2d(1, 24, 5, padding=2),
        nn.BatchNorm2d(24),
        nn.ReLU(),
        nn.Conv2d(24, 48, 3, padding=1),
        nn.BatchNorm2d(48),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Conv2d(48, 96, 3, padding=1),
        nn.BatchNorm2d(96),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(96 * 7 * 7, 10),
    )


def fashion_proxy() -> nn.Sequential:
    """A proxy network for the black-box attack of lecture 38 (zoo: ``fmnist_proxy``): LeNet-style, with
    5×5 convolutions without padding and a wider dense layer — unlike both ``fashion_cnn`` and the black
    box, and trained by the attacker on the same training data."""
    return nn.Sequential(
        Normalize(FASHION_MEAN, FASHION_STD),
        nn.Conv2d(1, 32, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 4 * 4, 256),
        nn.ReLU(),
        nn.Dropout(0.3),
        nn.Linear(256, 10),
    )


def shapes_cnn(num_classes: int = 4) -> nn.Sequential:
    """The CNN for the synthetic shapes (zoo: ``shapes_cnn``): three convs and global average pooling.

    3×32×32 → conv 16 → pool → conv 32 → pool → conv 64 → global average → logits. Global average
    pooling keeps a spatial map up to the last layer, which suits Grad-CAM.
    """
    check_int(num_classes, "num_classes", minimum=2)
    return nn.Sequential(
        Normalize(SHAPES_MEAN, SHAPES_STD),
        nn.Conv2d(3, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(64, num_classes),
    )


class ResidualBlock(nn.Module):
    """A ResNet basic block (He et al. 2016): ``relu(bn(conv(relu(bn(conv(x))))) + shortcut(x))``.

    The shortcut is the identity, or a strided 1×1 convolution with BatchNorm where the block changes
    the number of channels or the resolution.
    """

    def __init__(self, channels_in: int, channels_out: int, stride: int = 1) -> None:
        super().__init__()
        check_int(channels_in, "channels_in")
        check_int(channels_out, "channels_out")
        check_int(stride, "stride")
        self.conv1 = nn.Conv2d(channels_in, channels_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels_out)
        self.conv2 = nn.Conv2d(channels_out, channels_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels_out)
        self.shortcut = nn.Identity()
        if stride != 1 or channels_in != channels_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(channels_in, channels_out, 1, stride=stride, bias=False),
                nn.BatchNorm2d(channels_out),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


def fashion_resnet() -> nn.Sequential:
    """A small residual CNN for Fashion-MNIST (zoo: ``fmnist_resnet``): BatchNorm and skip connections.

    1×28×28 → conv 16 + BatchNorm → max pool (14×14) → residual block 16 → residual block 32 (stride 2,
    7×7, 1×1 shortcut) → global average → 10 logits. The blocks have their own ``forward`` with the
    addition, so LRP must follow the traced graph, not the list of layers.
    """
    return nn.Sequential(
        Normalize(FASHION_MEAN, FASHION_STD),
        nn.Conv2d(1, 16, 3, padding=1, bias=False),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.MaxPool2d(2),
        ResidualBlock(16, 16),
        ResidualBlock(16, 32, stride=2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(32, 10),
    )


class BinaryLogits(nn.Module):
    """Turn one score s into the log-probabilities (log(1 − σ(s)), log σ(s)) of a binary classifier.

    They serve as its two logits (their softmax is (1 − σ(s), σ(s))). The "yes" output log p = log σ(s)
    saturates: it tends to 0 and its gradient vanishes as s grows. The log-odds s itself, the difference
    of the two outputs, is linear and never saturates: saturation comes from the sigmoid.
    """

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        return torch.cat([F.logsigmoid(-s), F.logsigmoid(s)], dim=1)


def elephant_toy() -> nn.Sequential:
    """Lecture 31's saturation example: is it an elephant? Two features in [0, 1], given as a 1×1×2
    "image" (trunk length, ear size); s = 12·trunk + 2·ears − 4; class 1 = elephant.

    Past a trunk length of about 0.6 the elephant output log p = log σ(s) barely moves: the gradient
    says the trunk no longer matters, although it is why the model is sure.
    """
    score = nn.Linear(2, 1)
    with torch.no_grad():
        score.weight.copy_(torch.tensor([[12.0, 2.0]]))
        score.bias.fill_(-4.0)
    return nn.Sequential(nn.Flatten(), score, BinaryLogits()).eval()


__all__ = [
    "Normalize",
    "fashion_cnn",
    "fashion_blackbox",
    "fashion_proxy",
    "shapes_cnn",
    "fashion_resnet",
    "ResidualBlock",
    "elephant_toy",
    "BinaryLogits",
    "FASHION_MEAN",
    "FASHION_STD",
    "SHAPES_MEAN",
    "SHAPES_STD",
]
