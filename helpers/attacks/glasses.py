"""Adversarial eyeglasses against a face detector (lecture 39's real-world example; Sharif et al. 2016).

The attacker may repaint only an eyeglass frame (``glasses_mask``) and wants the face to go unseen by the
whole MTCNN cascade (``helpers.faces``), whatever the camera does: the frame is optimised for the expected
loss over random physical changes of the whole scene (expectation over transformation, Athalye et al. 2018)
— shifts, scales, small rotations, brightness and contrast, then 8-bit and JPEG rounding — with a smoothness
(total variation) and a printability term, as Sharif et al. did for their printed glasses.
"""

from __future__ import annotations

import io
import math

import numpy as np
import torch
import torch.nn.functional as F

from helpers import _assets, faces
from helpers._checks import (
    check_generator,
    check_images,
    check_int,
    check_number,
    check_positive,
    check_tensor,
    own_generator,
    read_sums,
    shape_or_type,
)
from helpers.faces.cascade import _cascade_loss, _checked

_LEVELS = (0.1, 0.5, 0.9)
PRINTABLE = torch.tensor([[r, g, b] for r in _LEVELS for g in _LEVELS for b in _LEVELS])
"""The colours a cheap printer reproduces faithfully, as the printability term assumes: the 27 colours of the
grid {0.1, 0.5, 0.9}³ (saturated extremes are the ones a printer misses; Sharif et al. measured theirs)."""


def glasses_mask(box: torch.Tensor | tuple[float, float, float, float], height: int, width: int, *,
                 thickness: float = 0.035) -> torch.Tensor:
    """An eyeglass frame for the face in ``box`` (x₁, y₁, x₂, y₂, e.g. from ``faces.detect``): bool H×W.

    Two elliptical rims around the eyes (centred at 30 % and 70 % of the box's width and 40 % of its height,
    semi-axes 18 % and 11 % of the box), a bridge between them and two temples to the box's sides; the lines
    are ``thickness`` × the box's width thick. Its share of the box is printed by the notebook (Sharif et
    al.'s frames cover about 6.5 % of a face image).
    """
    height, width = check_int(height, "height"), check_int(width, "width")
    thickness = check_number(thickness, "thickness", low=0.0, high=0.5, low_open=True)
    box = torch.as_tensor(box, dtype=torch.float64).flatten() if not isinstance(box, torch.Tensor) else box
    if box.numel() != 4 or not bool(torch.isfinite(box).all()) or box[2] <= box[0] or box[3] <= box[1]:
        raise ValueError(f"box must be four finite numbers x1, y1, x2, y2 with x2 > x1, y2 > y1; got {box!r}")
    x1, y1, x2, y2 = (float(v) for v in box.flatten())
    bw, bh = x2 - x1, y2 - y1
    ys, xs = torch.meshgrid(torch.arange(height, dtype=torch.float64),
                            torch.arange(width, dtype=torch.float64), indexing="ij")
    half = thickness * bw / 2
    eye_y, ax, ay = y1 + 0.40 * bh, 0.18 * bw, 0.11 * bh
    mask = torch.zeros(height, width, dtype=torch.bool)
    for cx in (x1 + 0.30 * bw, x1 + 0.70 * bw):  # the rims: a band around each ellipse
        r = torch.sqrt(((xs - cx) / ax) ** 2 + ((ys - eye_y) / ay) ** 2)
        mask |= (r - 1).abs() * min(ax, ay) <= half
    bridge = (xs >= x1 + 0.30 * bw + ax) & (xs <= x1 + 0.70 * bw - ax)
    temples = ((xs >= x1) & (xs <= x1 + 0.30 * bw - ax)) | ((xs <= x2) & (xs >= x1 + 0.70 * bw + ax))
    mask |= (bridge | temples) & ((ys - (eye_y - 0.3 * ay)).abs() <= half)
    return mask


def _check_mask(mask: object, images: torch.Tensor) -> torch.Tensor:
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or mask.shape != images.shape[2:]:
        raise ValueError(f"mask must be a bool tensor H×W {tuple(images.shape[2:])}, like the images; got "
                         f"{shape_or_type(mask, dtype=True)}")
    if not bool(mask.any()):
        raise ValueError("mask must cover at least one pixel; got an empty mask")
    return mask


def wear(images: torch.Tensor, frame: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The images with the glasses on: ``frame`` (C×H×W in [0, 1]) replaces the pixels where ``mask`` is
    on."""
    check_images(images, "images")
    _check_mask(mask, images)
    if not isinstance(frame, torch.Tensor) or frame.shape != images.shape[1:]:
        raise ValueError(f"frame must be shaped like one image {tuple(images.shape[1:])}; got "
                         f"{shape_or_type(frame)}")
    check_images(frame[None], "frame")
    return _wear(images, frame, mask)


def _wear(images: torch.Tensor, frame: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.to(images)
    return images * (1 - m) + frame.to(images) * m


def camera_changes(n: int, *, shift: float = 0.04, scale: tuple[float, float] = (0.9, 1.1),
                   rotation: float = 5.0, brightness: tuple[float, float] = (0.85, 1.15),
                   contrast: tuple[float, float] = (0.85, 1.15), jpeg: tuple[int, int] = (70, 95),
                   generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """``n`` random changes of the whole scene, each uniform in its range: a shift of up to ``shift`` of the
    image size, a scale, a rotation of up to ``rotation`` degrees, a brightness factor, a contrast factor
    (about the image's mean) and a JPEG quality (after rounding to 8 bits).
    With ``generator=None`` the randomness comes from torch's global RNG."""
    check_int(n, "n")
    check_positive(shift, "shift", allow_zero=True)
    check_positive(rotation, "rotation", allow_zero=True)
    for name, pair in (("scale", scale), ("brightness", brightness), ("contrast", contrast), ("jpeg", jpeg)):
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2) or not all(
                check_positive(v, name) for v in pair) or pair[0] > pair[1]:
            raise ValueError(f"{name} must be a pair (low, high) of positive numbers, low ≤ high; "
                             f"got {pair!r}")
    if not all(isinstance(q, int) and 1 <= q <= 100 for q in jpeg):
        raise ValueError(f"jpeg must be a pair of qualities in 1 … 100; got {jpeg!r}")
    check_generator(generator)

    def uniform(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(n, generator=generator)

    return {"shift": torch.stack([uniform(-shift, shift), uniform(-shift, shift)], dim=1),
            "angle": uniform(-rotation, rotation) * math.pi / 180, "scale": uniform(*scale),
            "brightness": uniform(*brightness), "contrast": uniform(*contrast),
            "jpeg": torch.randint(jpeg[0], jpeg[1] + 1, (n,), generator=generator)}


_CHANGES = {"shift", "angle", "scale", "brightness", "contrast", "jpeg"}


def _jpeg(image: torch.Tensor, quality: int) -> torch.Tensor:
    """One 3×H×W image in [0, 1] through JPEG at ``quality`` (8 bits in, 8 bits out)."""
    from PIL import Image  # Pillow, which matplotlib brings

    pixels = (image.detach().cpu() * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    grey = pixels.shape[2] == 1
    buffer = io.BytesIO()
    Image.fromarray(pixels[..., 0] if grey else pixels).save(buffer, format="JPEG", quality=quality)
    decoded = np.asarray(Image.open(buffer)).reshape(pixels.shape)
    return torch.from_numpy(decoded.copy()).permute(2, 0, 1).to(image).div(255)


def photograph(images: torch.Tensor, change: dict[str, torch.Tensor]) -> torch.Tensor:
    """What a camera records of each scene under its change (from ``camera_changes``): moved (bilinear,
    black outside), lit (brightness × ((x − mean)·contrast + mean)), clipped to [0, 1], rounded to 8 bits and
    JPEG-compressed. The roundings pass the gradient straight through (BPDA, Athalye et al. 2018)."""
    check_images(images, "images")
    if not isinstance(change, dict) or set(change) != _CHANGES or any(
            not isinstance(v, torch.Tensor) or len(v) != len(images)
            or not bool(torch.isfinite(v.float()).all())
            for v in change.values()):
        raise ValueError(f"change must be camera_changes({len(images)}): one finite change per image, keys "
                         f"{sorted(_CHANGES)}; got {shape_or_type(change)}")
    return _photograph(images, change)


def _photograph(images: torch.Tensor, change: dict[str, torch.Tensor]) -> torch.Tensor:
    angle, scale, shift = (change[k].to(images) for k in ("angle", "scale", "shift"))
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, sin, -(cos * shift[:, 0] + sin * shift[:, 1]) * 2], 1),
                         torch.stack([-sin, cos, -(-sin * shift[:, 0] + cos * shift[:, 1]) * 2], 1)], 1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    moved = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    mean = moved.mean(dim=(1, 2, 3), keepdim=True)
    lit = (moved - mean) * change["contrast"].to(images).view(-1, 1, 1, 1) + mean
    lit = (lit * change["brightness"].to(images).view(-1, 1, 1, 1)).clamp(0, 1)
    recorded = torch.stack([_jpeg(image, int(q)) for image, q in zip(lit, change["jpeg"])])
    return lit + (recorded - lit).detach()


def _check_frame(frame: object, mask: object) -> None:
    """A frame C×H×W in [0, 1] and its bool mask H×W."""
    check_tensor(frame, "frame", what="C×H×W", dims=3, finite=False)  # its values: check_images
    check_images(frame[None], "frame")
    _check_mask(mask, frame[None])


def total_variation(frame: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Σ of squared differences between neighbouring frame pixels (right and below), both inside the mask,
    per masked pixel: 0 for a frame of one colour."""
    _check_frame(frame, mask)
    return _total_variation(frame, mask)


def _total_variation(frame: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.to(frame)
    right = ((frame[:, :, 1:] - frame[:, :, :-1]) ** 2 * m[:, 1:] * m[:, :-1]).sum()
    below = ((frame[:, 1:] - frame[:, :-1]) ** 2 * m[1:] * m[:-1]).sum()
    return (right + below) / m.sum()


def non_printability(frame: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Sharif et al.'s non-printability score: per masked pixel, the product of its distances to the printable
    colours (``PRINTABLE``), averaged; 0 where every pixel is a printable colour."""
    _check_frame(frame, mask)
    if frame.shape[0] != 3:
        raise ValueError(f"frame must have 3 (RGB) channels; got shape {tuple(frame.shape)}")
    return _non_printability(frame, mask)


def _non_printability(frame: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    pixels = frame.permute(1, 2, 0)[mask]  # P×3
    distances = torch.cdist(pixels, PRINTABLE.to(frame))
    return distances.prod(dim=1).mean()


def adversarial_glasses(images: torch.Tensor, mask: torch.Tensor, *, steps: int = 100, samples: int = 4,
                        lr: float = 0.1, tv_weight: float = 0.5, print_weight: float = 0.05,
                        margin: float = 0.2, init: torch.Tensor | None = None,
                        generator: torch.Generator | None = None, **change_ranges) -> torch.Tensor:
    """A glasses frame that hides the face in ``images`` (1×3×H×W or a few views of it) from MTCNN.

    Adam descends, over the frame's logits (frame = σ(logit), so it stays in [0, 1]),

        E_T [ cascade_loss(T(wear(x, frame)), κ) ] + λ_TV · TV(frame) + λ_p · NPS(frame),

    T a fresh batch of ``samples`` ``camera_changes`` at every step (``change_ranges`` override their
    ranges), κ = ``margin``, λ_TV = ``tv_weight``, λ_p = ``print_weight``. ``init`` (3×H×W in [0, 1])
    continues from a frame; by default it starts grey. Returns the frame, 3×H×W in [0, 1] (only the masked
    part matters). Each step runs the whole cascade ``samples`` times, forward and backward.
    With ``generator=None`` the randomness comes from torch's global RNG.
    """
    check_images(images, "images", channels=3)
    _check_mask(mask, images)
    check_int(steps, "steps")
    check_int(samples, "samples")
    check_positive(lr, "lr")
    check_positive(tv_weight, "tv_weight", allow_zero=True)
    check_positive(print_weight, "print_weight", allow_zero=True)
    margin = check_number(margin, "margin", low=0.0, high=1.0)
    check_generator(generator)
    camera_changes(1, **change_ranges)  # checks the ranges before any work
    cascade = _checked(images, None, faces.MIN_FACE_SIZE, faces.THRESHOLDS, faces.FACTOR)  # once: cores below
    if init is not None:
        if not isinstance(init, torch.Tensor) or init.shape != images.shape[1:]:
            raise ValueError(f"init must be shaped like one image {tuple(images.shape[1:])}; got "
                             f"{shape_or_type(init)}")
        check_images(init[None], "init")
        start = torch.logit(init.to(images).clamp(1e-3, 1 - 1e-3))
    else:
        start = torch.zeros(images.shape[1:], device=images.device)
    g = own_generator(generator)
    logit = start.clone().requires_grad_(True)
    optimiser = torch.optim.Adam([logit], lr=lr)
    for _ in range(steps):
        frame = torch.sigmoid(logit)
        pick = torch.randint(0, images.shape[0], (samples,), generator=g).to(images.device)
        change = camera_changes(samples, generator=g, **change_ranges)
        scenes = _photograph(_wear(images[pick], frame, mask), change)
        loss = (_cascade_loss(scenes, margin, *cascade).mean() + tv_weight * _total_variation(frame, mask)
                + print_weight * _non_printability(frame, mask))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return torch.sigmoid(logit).detach()


def face_patch(images: torch.Tensor, top: int, left: int, *, size: int = 48, steps: int = 100,
               lr: float = 0.1, generator: torch.Generator | None = None) -> torch.Tensor:
    """The reverse attack: a ``size``×``size`` patch that makes the cascade report a face where there is none.

    Adam maximises the mean log-probability of "face" that each network gives the pasted patch, as the
    cascade would show it: PNet every window of the patch's square resized to 12 … 20 pixels (the pyramid
    scales that see it), RNet and ONet the square with 0, ±10 % of context, resized to 24 and 48 pixels
    (patch = σ(logit), starting from random logits drawn from ``generator``). Returns the images with the
    patch pasted at (``top``, ``left``); whether the cascade then reports a face there, at its own scales
    and boxes, is for the caller to check with ``faces.detect``.
    With ``generator=None`` the randomness comes from torch's global RNG.
    """
    check_images(images, "images", channels=3)
    size, steps = check_int(size, "size", minimum=12), check_int(steps, "steps")
    top, left = check_int(top, "top", minimum=0), check_int(left, "left", minimum=0)
    check_positive(lr, "lr")
    check_generator(generator)
    if top + size > images.shape[2] or left + size > images.shape[3]:
        raise ValueError(f"the patch (top {top}, left {left}, size {size}) must lie inside the images "
                         f"{tuple(images.shape[2:])}")
    nets = faces._default_networks(images.device)
    check_images(images, "images", model=nets.pnet)
    logit = torch.randn(3, size, size, generator=generator).to(images.device).requires_grad_(True)
    optimiser = torch.optim.Adam([logit], lr=lr)
    m = size // 10
    views = [(max(top - d, 0), max(left - d, 0), size + 2 * d) for d in (0, m, -m)]
    mask = torch.zeros(images.shape[2:], dtype=torch.bool, device=images.device)
    mask[top:top + size, left:left + size] = True
    for _ in range(steps):
        frame = torch.zeros_like(images[0])
        frame[:, top:top + size, left:left + size] = torch.sigmoid(logit)
        scene = wear(images.detach(), frame, mask)
        log_p = []
        for row, col, side in views:
            square = scene[:, :, row:row + side, col:col + side]
            for net, sizes in ((nets.pnet, (12, 14, 17, 20)), (nets.rnet, (24,)), (nets.onet, (48,))):
                for s in sizes:
                    logits = net(F.interpolate(square, size=(s, s), mode="area"))[0]
                    log_p.append(logits.log_softmax(1)[:, 1].mean())
        loss = -torch.stack(log_p).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    frame = torch.zeros_like(images[0])
    frame[:, top:top + size, left:left + size] = torch.sigmoid(logit).detach()
    return wear(images.detach(), frame, mask)


def astronaut_glasses() -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """The glasses ``scripts/make_glasses.py`` optimised for the astronaut (SHA-256 checked): the frame,
    float32 3×H×W in [0, 1] (8-bit values), and the crop of ``data.photo("astronaut")`` it belongs to (top,
    bottom, left, right); its mask is ``glasses_mask`` on the face ``faces.detect`` finds in that crop."""
    import hashlib

    folder = _assets.data_dir("face-glasses")
    path = folder / "astronaut_glasses.pt"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; {_assets.restore_hint(path)}")
    raw = path.read_bytes()
    if hashlib.sha256(raw).hexdigest() != read_sums(folder / "SHA256SUMS").get(path.name):
        raise ValueError(f"{path} is corrupted or was modified (SHA-256 does not match SHA256SUMS); "
                         f"{_assets.restore_hint(path)}")
    stored = torch.load(io.BytesIO(raw), weights_only=True)
    crop = tuple(int(v) for v in stored["crop"])
    return stored["frame"].float().div(255), crop  # type: ignore[return-value]
