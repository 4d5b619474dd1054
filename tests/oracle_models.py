"""Float64 models with every layer the oracles must agree on: Normalize, BatchNorm, MaxPool, AvgPool,
biases."""

from __future__ import annotations

import torch
from torch import nn

from helpers.models import Normalize


def oracle_cnn(seed: int = 0, *, normalize: bool = True, batchnorm: bool = True,
               bias: bool = True) -> nn.Sequential:
    """1×12×12 → 5 logits, in float64 and eval mode, BatchNorm with non-trivial running statistics."""
    torch.manual_seed(seed)
    layers: list[nn.Module] = [Normalize((0.3,), (0.4,))] if normalize else []
    layers += [nn.Conv2d(1, 6, 3, padding=1, bias=bias)]
    layers += [nn.BatchNorm2d(6)] if batchnorm else []
    layers += [
        nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 8, 3, padding=1, bias=bias), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(8, 8, 3, padding=1, bias=bias), nn.ReLU(),
        nn.Flatten(), nn.Linear(8 * 3 * 3, 16, bias=bias), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(16, 5, bias=bias),
    ]
    model = nn.Sequential(*layers).double().eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
            if isinstance(m, (nn.Conv2d, nn.Linear)) and m.bias is not None:
                m.bias.uniform_(-0.1, 0.1)
    return model


def oracle_images(n: int = 4, seed: int = 1) -> torch.Tensor:
    """Images whose value range is exactly [0, 1] (so a noise level equals an absolute σ)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 12, 12, generator=g, dtype=torch.float64)
    x[:, :, 0, 0], x[:, :, -1, -1] = 0.0, 1.0
    return x


def relative_error(ours: torch.Tensor, reference: torch.Tensor) -> float:
    """‖ours − reference‖ / ‖reference‖ (the reference detached: Captum may hand back tensors with grad)."""
    reference = reference.detach()
    return float((ours - reference).norm() / reference.norm())
