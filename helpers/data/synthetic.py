"""A synthetic "shapes" data set whose class is decided by one object, generated from a seed with the
object's exact mask (nothing is stored)."""

from __future__ import annotations

import torch

from helpers._checks import check_choice, check_int

SHAPE_CLASSES: tuple[str, ...] = ("square", "circle", "triangle", "cross")

def _segment_distance(px: torch.Tensor, py: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
    """Distance from pixel centres (px, py) to segments ``ends`` = N×4 (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = (ends[:, i, None, None] for i in range(4))
    dx, dy = x1 - x0, y1 - y0
    t = (((px - x0) * dx + (py - y0) * dy) / (dx * dx + dy * dy).clamp_min(1e-6)).clamp(0, 1)
    return torch.hypot(px - (x0 + t * dx), py - (y0 + t * dy))


def shapes(
    n: int, *, size: int = 32, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A synthetic colour data set whose class is decided by one object, with its exact mask.

    Each image has a dark, noisy background, two thin line segments as distractors (they appear in
    every class, so they carry no class information) and, drawn last, one filled object: a square,
    circle, triangle or cross (``SHAPE_CLASSES``) of random position, size and bright colour.

    Returns ``(images, labels, masks)``: float32 ``N×3×size×size`` in [0, 1], int64 ``N`` and bool
    ``N×1×size×size`` marking exactly the class object's pixels. The same ``seed`` gives the same
    tensors; it exists so the course can *measure* whether an explanation points at the right pixels.
    """
    check_int(n, "n", minimum=1)
    check_int(size, "size", minimum=16)
    check_int(seed, "seed", minimum=0)
    g = torch.Generator().manual_seed(seed)

    def uniform(*shape: int, low: float = 0.0, high: float = 1.0) -> torch.Tensor:
        return low + (high - low) * torch.rand(*shape, generator=g)

    labels = torch.randint(len(SHAPE_CLASSES), (n,), generator=g)
    radius = uniform(n, low=0.14, high=0.24) * size  # half the object's extent, in pixels
    centre = uniform(n, 2) * (size - 2 * radius[:, None] - 2) + radius[:, None] + 1
    background = uniform(n, 3, 1, 1, high=0.3)
    object_colour = uniform(n, 3, 1, 1, low=0.55, high=1.0)
    line_colour = uniform(n, 2, 3, 1, 1, low=0.3, high=1.0)
    line_ends = uniform(n, 2, 4) * (size - 1)
    noise = uniform(n, 3, size, size, low=-0.05, high=0.05)

    coords = torch.arange(size, dtype=torch.float32)
    py, px = coords[:, None], coords[None, :]
    dx = px - centre[:, 0, None, None]
    dy = py - centre[:, 1, None, None]
    r = radius[:, None, None]
    bar = r / 3
    candidates = torch.stack(
        [
            (dx.abs() <= r) & (dy.abs() <= r),  # square
            dx**2 + dy**2 <= r**2,  # circle
            (dy.abs() <= r) & (dx.abs() <= (dy + r) / 2),  # triangle, apex up
            ((dx.abs() <= r) & (dy.abs() <= bar)) | ((dx.abs() <= bar) & (dy.abs() <= r)),  # cross
        ],
        dim=1,
    )
    masks = candidates[torch.arange(n), labels].unsqueeze(1)

    images = background + noise
    for k in range(2):  # two distractor lines per image (a loop over 2 lines, not over images)
        on_line = (_segment_distance(px, py, line_ends[:, k]) <= 0.6).unsqueeze(1)
        images = torch.where(on_line, line_colour[:, k], images)
    images = torch.where(masks, object_colour, images).clamp(0.0, 1.0)
    return images.contiguous(), labels, masks.contiguous()


def shapes_split(split: str, n: int | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The course's fixed shapes splits: ``"train"`` (seed 0, 20 000 images) and ``"test"``
    (seed 1, 2 000 images) — disjoint seeds, so the test images are never seen in training."""
    check_choice(split, "split", ("train", "test"))
    default, seed = (20_000, 0) if split == "train" else (2_000, 1)
    return shapes(default if n is None else n, seed=seed)
