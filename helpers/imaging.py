"""Image operations that more than one part of the course uses, below explain and defenses.

``gaussian_blur`` is a passive defense's filter (``helpers.defenses``) and the "blur" fill of the deletion
and insertion curves (``helpers.explain``); ``explain`` never imports ``defenses``, so it lives here.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from helpers._checks import check_images, check_positive

__all__ = ["gaussian_blur"]


def gaussian_blur(x: torch.Tensor, sigma: float, kernel_size: int | None = None) -> torch.Tensor:
    """Gaussian smoothing, separable, with reflected borders (torchvision's ``gaussian_blur``);
    the kernel spans ``kernel_size`` pixels (default: the odd number 2·⌈3σ⌉ + 1)."""
    check_images(x)
    check_positive(sigma, "sigma")
    size = 2 * math.ceil(3 * sigma) + 1 if kernel_size is None else kernel_size
    if isinstance(size, bool) or not isinstance(size, int) or size < 1 or size % 2 == 0:
        raise ValueError(f"kernel_size must be a positive odd int; got {kernel_size!r}")
    if size // 2 >= min(x.shape[-2:]):
        if kernel_size is not None:
            what = f"kernel_size {size}"
        else:
            what = f"sigma {sigma:g} (a kernel of {size} pixels)"
        raise ValueError(f"{what} is too large for {tuple(x.shape[-2:])} images: "
                         "the kernel must be narrower than twice the image")
    half = (size - 1) / 2
    t = torch.linspace(-half, half, size, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-0.5 * (t / sigma) ** 2)
    kernel = kernel / kernel.sum()
    channels, pad = x.shape[1], size // 2
    out = F.pad(x, (pad, pad, pad, pad), mode="reflect") if pad else x
    out = F.conv2d(out, kernel.view(1, 1, 1, size).expand(channels, 1, 1, size), groups=channels)
    return F.conv2d(out, kernel.view(1, 1, size, 1).expand(channels, 1, size, 1), groups=channels)
