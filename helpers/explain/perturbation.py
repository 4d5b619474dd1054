"""Perturbation attribution: hide parts of the image and watch the score — occlusion and LIME.

These need no gradient, only the model's answers, so they also explain a black box.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from helpers._checks import (
    batched,
    check_choice,
    check_generator,
    check_images,
    check_int,
    check_positive,
    shape_or_type,
)
from helpers.explain._core import attribution, baseline_image


def _pair(value: int | tuple[int, int], name: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not (isinstance(pair, tuple) and len(pair) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in pair)):
        raise ValueError(f"{name} must be a positive int or a pair (height, width) of them; got {value!r}")
    return pair


def _scores(
    model: nn.Module,
    make: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
    count: int,
    batch_size: int,
    probability: bool,
    device: torch.device,
) -> torch.Tensor:
    """The target score of ``count`` perturbed images, built ``batch_size`` at a time by
    ``make(indices) -> (images, targets)`` so that they never all sit in memory together."""

    def score(index: torch.Tensor) -> torch.Tensor:
        images, target = make(index)
        logits = model(images)
        scores = logits.softmax(1) if probability else logits
        return scores.gather(1, target[:, None]).squeeze(1)

    with torch.no_grad():
        return batched(score, torch.arange(count, device=device), batch_size=batch_size)


def window_masks(height: int, width: int, window: tuple[int, int], stride: tuple[int, int],
                 device: torch.device | None = None) -> torch.Tensor:
    """Bool masks P×H×W of the sliding windows: positions 0, s, 2s, … with the last one clipped at
    the border, ceil((H − h)/s) + 1 per axis (Captum's ``Occlusion`` layout)."""
    check_int(height, "height")
    check_int(width, "width")
    window, stride = _pair(window, "window"), _pair(stride, "stride")
    if window[0] > height or window[1] > width:
        raise ValueError(f"window {window} must fit in the image ({height}×{width})")
    masks = []
    rows = [i * stride[0] for i in range(math.ceil((height - window[0]) / stride[0]) + 1)]
    cols = [j * stride[1] for j in range(math.ceil((width - window[1]) / stride[1]) + 1)]
    grid_r = torch.arange(height, device=device)[:, None]
    grid_c = torch.arange(width, device=device)[None, :]
    for r in rows:
        for c in cols:
            masks.append((grid_r >= r) & (grid_r < r + window[0]) & (grid_c >= c) & (grid_c < c + window[1]))
    return torch.stack(masks)


@attribution
def occlusion(
    model: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    *,
    window: int | tuple[int, int],
    stride: int | tuple[int, int],
    baseline: float | torch.Tensor = 0.0,
    batch_size: int = 512,
) -> torch.Tensor:
    """Occlusion (Zeiler & Fergus 2014): slide a ``window`` (all channels) over the image with ``stride``,
    replace it by ``baseline`` and record the drop of the target logit, f_c(x) − f_c(x with the window
    hidden). Each pixel gets the mean drop of the windows that cover it — Captum's ``Occlusion`` with
    ``sliding_window_shapes=(C, h, w)``. All N × windows occluded images go through the model in
    batches of ``batch_size``.
    """
    height, width = x.shape[-2:]
    window, stride = _pair(window, "window"), _pair(stride, "stride")
    if window[0] > height or window[1] > width:
        raise ValueError(f"window {window} must fit in the image ({height}×{width})")
    for axis, size in enumerate((height, width)):
        if window[axis] < size and stride[axis] > window[axis]:
            raise ValueError(f"stride {stride} must not exceed the window {window}, "
                             "or pixels would be skipped")
    check_int(batch_size, "batch_size")
    masks = window_masks(height, width, window, stride, device=x.device).to(x.dtype)  # P×H×W
    fill = baseline_image(x, baseline)
    n, p = x.shape[0], masks.shape[0]

    def occluded(index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        image, hidden = index // p, masks[index % p, None]  # hidden: B×1×H×W
        return x[image] * (1 - hidden) + fill[image] * hidden, target[image]

    clean = _scores(model, lambda i: (x[i], target[i]), n, batch_size, False, x.device)
    drops = clean[:, None] - _scores(model, occluded, n * p, batch_size, False, x.device).view(n, p)
    per_pixel = (drops @ masks.flatten(1)) / masks.flatten(1).sum(0)  # N×(H·W)
    return per_pixel.view(n, 1, height, width).expand_as(x).clone()


def grid_segments(height: int, width: int, cell: int | tuple[int, int]) -> torch.Tensor:
    """A segmentation into square cells: an int64 H×W map of segment ids 0 … S−1, row by row."""
    check_int(height, "height")
    check_int(width, "width")
    cell_h, cell_w = _pair(cell, "cell")
    rows = torch.arange(height)[:, None] // cell_h
    cols = torch.arange(width)[None, :] // cell_w
    return rows * math.ceil(width / cell_w) + cols


def superpixels(images: torch.Tensor, *, n_segments: int = 50, compactness: float = 10.0) -> torch.Tensor:
    """SLIC superpixels (Achanta et al. 2012; scikit-image's ``slic``, the segmentation the ``lime`` package
    uses for photos) of each image: an int64 N×H×W map of ids 0 … S−1 per image, for ``lime(segments=…)``.

    SLIC clusters the pixels by k-means in (colour, position), colour in CIELAB for RGB images;
    ``n_segments`` is the number of clusters it aims at, ``compactness`` the weight of position against
    colour (higher: squarer superpixels).
    """
    check_images(images, "images")
    check_int(n_segments, "n_segments")
    check_positive(compactness, "compactness")
    from skimage.segmentation import slic  # imported here: scikit-image is slow to import

    maps = [slic(image.detach().permute(1, 2, 0).cpu().double().numpy(), n_segments=n_segments,
                 compactness=compactness, channel_axis=-1, start_label=0) for image in images]
    segments = torch.stack([torch.from_numpy(m).long() for m in maps])
    return torch.stack([torch.unique(m, return_inverse=True)[1] for m in segments]).to(images.device)


@attribution
def lime(
    model: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    *,
    segments: torch.Tensor,
    n_samples: int = 1000,
    kernel_width: float = 0.25,
    ridge: float = 1.0,
    score: str = "probability",
    baseline: float | torch.Tensor = 0.0,
    generator: torch.Generator | None = None,
    batch_size: int = 512,
) -> torch.Tensor:
    """LIME (Ribeiro, Singh & Guestrin 2016) on image segments, for every image at once.

    Draw ``n_samples`` random on/off patterns z ∈ {0, 1}^S over the S segments (the first one all on),
    show the model each image with the "off" segments replaced by ``baseline``, and fit a weighted
    ridge regression  g(z) = β₀ + Σ_s β_s z_s  to the target's ``score`` (``"probability"``, as in
    the paper, or ``"logit"``), weighting each pattern by π(z) = exp(−d(z)²/w²), d the cosine distance
    between z and the all-on pattern and w = ``kernel_width`` (the ``lime`` package's defaults). The
    intercept is not penalised. Returns each segment's weight β_s on all of its pixels.

    ``segments`` is an int64 map H×W (one segmentation for all images) or N×H×W with ids 0 … S−1,
    e.g. from ``grid_segments``.
    With ``generator=None`` the randomness comes from torch's global RNG.
    """
    check_int(n_samples, "n_samples", minimum=2)
    check_positive(kernel_width, "kernel_width")
    check_positive(ridge, "ridge", allow_zero=True)
    check_choice(score, "score", ("probability", "logit"))
    check_generator(generator)
    check_int(batch_size, "batch_size")
    n, height, width = x.shape[0], x.shape[-2], x.shape[-1]
    if (not isinstance(segments, torch.Tensor) or segments.dtype != torch.int64
            or segments.shape[-2:] != (height, width) or segments.dim() not in (2, 3)
            or (segments.dim() == 3 and segments.shape[0] != n)):
        got = shape_or_type(segments, dtype=True)
        raise ValueError(f"segments must be an int64 map ({height}, {width}) or ({n}, {height}, {width}); "
                         f"got {got}")
    segments = segments.to(x.device).expand(n, height, width)
    count = int(segments.max()) + 1
    if int(segments.min()) < 0:
        raise ValueError("segments must hold ids 0 … S−1; got a negative id")

    where = generator.device if generator is not None else x.device
    z = torch.randint(0, 2, (n_samples, count), generator=generator, device=where).to(x.device, x.dtype)
    z[0] = 1.0
    fill = baseline_image(x, baseline)

    def shown(index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        image, pattern = index // n_samples, index % n_samples
        keep = z[pattern].gather(1, segments[image].flatten(1)).view(-1, 1, height, width)  # 1 where on
        return x[image] * keep + fill[image] * (1 - keep), target[image]

    probability = score == "probability"
    y = _scores(model, shown, n * n_samples, batch_size, probability, x.device).view(n, n_samples)

    distance = 1 - z.sum(1) / (z.norm(dim=1) * math.sqrt(count)).clamp_min(1e-12)  # cosine distance to all-on
    weight = torch.exp(-(distance**2) / kernel_width**2)  # K
    w = weight / weight.sum()
    z_centred = z - w @ z  # weighted centring fits the intercept without penalising it
    y_centred = y - (y @ w)[:, None]
    eye = torch.eye(count, dtype=x.dtype, device=x.device)
    gram = z_centred.T @ (w[:, None] * z_centred) + (ridge / weight.sum()) * eye
    beta = torch.linalg.solve(gram, (z_centred.T * w) @ y_centred.T).T  # N×S
    return beta.gather(1, segments.flatten(1)).view(n, 1, height, width).expand_as(x).clone()


__all__ = ["occlusion", "lime", "grid_segments", "window_masks"]
