"""Passive defenses (lecture 40): leave the network alone and put a filter in front of it.

Each filter maps images ``N×C×H×W`` in [0, 1] to images of the same shape, for the whole batch at once.
``Defended(model, *filters)`` is the filtered classifier. A filter removes some of the attacker's
high-frequency pattern — until the attacker knows about it (``helpers.attacks.adaptive``).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from helpers._checks import (
    check_bool,
    check_callable,
    check_generator,
    check_images,
    check_logits,
    check_model,
    check_number,
)
from helpers.imaging import gaussian_blur

Filter = Callable[[torch.Tensor], torch.Tensor]


def _symmetric_pad(x: torch.Tensor, pad: int) -> torch.Tensor:
    """Pad H and W by mirroring with the edge pixel repeated (d c b a | a b c d), SciPy's "reflect"."""
    for dim in (-1, -2):
        front = x.narrow(dim, 0, pad).flip(dim)
        back = x.narrow(dim, x.shape[dim] - pad, pad).flip(dim)
        x = torch.cat([front, x, back], dim=dim)
    return x


def median_filter(x: torch.Tensor, size: int = 3) -> torch.Tensor:
    """The median of each ``size``×``size`` neighbourhood, per channel, with SciPy's default "reflect"
    borders (``scipy.ndimage.median_filter(x, size=(1, 1, size, size))``)."""
    check_images(x)
    if isinstance(size, bool) or not isinstance(size, int) or size < 1 or size % 2 == 0:
        raise ValueError(f"size must be a positive odd int; got {size!r}")
    if size == 1:
        return x.clone()
    pad = size // 2
    if pad > min(x.shape[-2:]):
        raise ValueError(f"size {size} is too large for {tuple(x.shape[-2:])} images")
    n, c, h, w = x.shape
    patches = F.unfold(_symmetric_pad(x, pad).reshape(n * c, 1, h + 2 * pad, w + 2 * pad), size)
    return patches.median(dim=1).values.view(n, c, h, w)


def bit_depth(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Colour-depth reduction (Xu et al. 2018): rint(x · (2^bits − 1)) / (2^bits − 1)."""
    check_images(x)
    if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 8:
        raise ValueError(f"bits must be an int from 1 to 8; got {bits!r}")
    levels = 2**bits - 1
    return torch.round(x * levels) / levels


def jpeg(x: torch.Tensor, quality: int = 75) -> torch.Tensor:
    """A real JPEG round trip through Pillow's codec (libjpeg-turbo) at ``quality`` (1–100): each image is
    rounded to 8 bits, compressed with Pillow's defaults (4:2:0 chroma subsampling for colour) and decoded.
    The codec works image by image; its output equals torchvision's ``encode_jpeg`` / ``decode_jpeg``,
    which earlier versions used (tests/test_defenses.py compares them)."""
    check_images(x)
    if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100:
        raise ValueError(f"quality must be an int from 1 to 100; got {quality!r}")
    if x.shape[1] not in (1, 3):
        raise ValueError(f"jpeg needs 1 or 3 channels; got {x.shape[1]}")
    pixels = (x.detach() * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    decoded = np.stack([_jpeg_round_trip(image, quality) for image in pixels])
    return torch.from_numpy(decoded).permute(0, 3, 1, 2).to(x.device, x.dtype) / 255


def _jpeg_round_trip(image: np.ndarray, quality: int) -> np.ndarray:
    """One H×W×C uint8 image through Pillow's JPEG encoder and decoder."""
    mode = "L" if image.shape[2] == 1 else "RGB"
    buffer = io.BytesIO()
    Image.fromarray(image[..., 0] if mode == "L" else image).save(buffer, "JPEG", quality=quality)
    decoded = np.asarray(Image.open(buffer).convert(mode))
    return decoded.reshape(image.shape)


def random_resize_pad(x: torch.Tensor, *, min_scale: float = 0.8, per_image: bool = True,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """A *randomised* filter (Xie et al. 2018): shrink each image to a random size s ∈ [⌈min_scale·H⌉, H] and
    pad it back to H×W at a random offset — one draw per image, as in the paper (``per_image=False``: one
    draw for the whole batch). The defense changes from query to query — until the attacker averages over
    it (EOT, ``helpers.attacks.eot``).
    With ``generator=None`` the randomness comes from torch's global RNG."""
    from helpers.attacks.whitebox import resize_pad

    check_images(x)
    check_number(min_scale, "min_scale", low=0.0, high=1.0, low_open=True)
    check_bool(per_image, "per_image")
    check_generator(generator)
    if not per_image:
        return resize_pad(x, 1.0, generator, min_scale)
    n, _, height, width = x.shape
    where = generator.device if generator is not None else "cpu"
    size = torch.randint(math.ceil(min_scale * height), height + 1, (n,), generator=generator, device=where)
    scaled_w = (size * width / height).round().clamp_min(1)
    top = (torch.rand(n, generator=generator, device=where) * (height - size + 1)).floor()
    left = (torch.rand(n, generator=generator, device=where) * (width - scaled_w + 1)).floor()
    return _shrink_and_place(x, size.to(x.device), scaled_w.to(x.device), top.to(x.device), left.to(x.device))


def _shrink_and_place(x: torch.Tensor, size: torch.Tensor, scaled_w: torch.Tensor, top: torch.Tensor,
                      left: torch.Tensor) -> torch.Tensor:
    """Image i resized (bilinear, as ``F.interpolate``) to size_i × scaled_w_i and placed at (top_i, left_i)
    of a black H×W canvas, for the whole batch in one ``grid_sample``: output pixel r reads the input at
    (r − top + ½)·H/size − ½, the source coordinate ``F.interpolate`` uses (``align_corners=False``)."""
    height, width = x.shape[-2:]
    rows = torch.arange(height, device=x.device, dtype=x.dtype)[None] - top[:, None]    # N×H, in the window
    cols = torch.arange(width, device=x.device, dtype=x.dtype)[None] - left[:, None]    # N×W
    source_r = (rows + 0.5) * height / size[:, None] - 0.5
    source_c = (cols + 0.5) * width / scaled_w[:, None] - 0.5
    grid = torch.stack(torch.broadcast_tensors((2 * source_c[:, None, :] + 1) / width - 1,      # x first
                                               (2 * source_r[:, :, None] + 1) / height - 1), -1)
    inside = (((rows >= 0) & (rows < size[:, None]))[:, :, None]
              & ((cols >= 0) & (cols < scaled_w[:, None]))[:, None, :])
    placed = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return placed * inside[:, None].to(x.dtype)


class Defended(nn.Module):
    """A passively defended classifier: ``model(filter_k(… filter_1(x)))``."""

    def __init__(self, model: nn.Module, *filters: Filter) -> None:
        super().__init__()
        check_model(model)
        for i, f in enumerate(filters):
            check_callable(f, f"filters[{i}]")
        self.model = model
        self.filters = list(filters)
        # a wrapper is a view of the model it holds: it takes the model's mode as its own flag only,
        # never calling the recursive train(), which would change the modes of the model's submodules
        self.training = model.training

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The model's logits for the filtered images, checked: N×K, K ≥ 2, finite (``check_logits``)."""
        n = x.shape[0] if isinstance(x, torch.Tensor) and x.dim() > 0 else None
        for f in self.filters:
            x = f(x)
        return check_logits(self.model(x), n, f"Defended's model ({type(self.model).__name__})")


__all__ = ["gaussian_blur", "median_filter", "bit_depth", "jpeg", "random_resize_pad", "Defended"]
