"""Is an explanation right? Faithfulness curves, localisation scores and the randomisation sanity check."""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import torch
from scipy.sparse import coo_matrix
from scipy.sparse.linalg import spsolve
from torch import nn

from helpers._checks import (
    check_bool,
    check_callable,
    check_choice,
    check_generator,
    check_images,
    check_int,
    check_labels,
    check_model,
    check_number,
    check_positive,
    frozen,
    num_classes,
    own_generator,
    shape_or_type,
)


def _check_maps(attributions: object, x: object, name: str = "attributions") -> torch.Tensor:
    """Attribution maps N×C×H×W or N×1×H×W matching ``x``, summed over channels to N×H·W."""
    shape = tuple(x.shape) if isinstance(x, torch.Tensor) else None
    if (not isinstance(attributions, torch.Tensor) or shape is None or len(shape) != 4
            or attributions.dim() != 4 or attributions.shape[0] != shape[0]
            or attributions.shape[2:] != shape[2:] or attributions.numel() == 0):
        got = shape_or_type(attributions)
        raise ValueError(f"{name} must be N×C×H×W or N×1×H×W maps matching x {shape}; got {got}")
    if not attributions.is_floating_point() or not bool(torch.isfinite(attributions).all()):
        raise ValueError(f"{name} must be float maps without NaN or infinite values")
    return attributions.detach().to(x.device, x.dtype).sum(1).flatten(1)


def _road_imputation(x: torch.Tensor, removed: torch.Tensor, noise: float,
                     generator: torch.Generator) -> torch.Tensor:
    """ROAD's noisy linear imputation (Rong et al. 2022): each removed pixel takes the weighted mean of its
    neighbours inside the image (weight 1/6 for the 4 direct ones, 1/12 for the 4 diagonal ones), removed
    neighbours included,

        Σ_j w_ij (v_i − v_j) = 0   for every removed pixel i, the kept pixels j fixed at their values,

    one sparse linear system for all images (block-diagonal; the channels are its right-hand sides); then
    Gaussian noise of std ``noise`` is added to the imputed pixels. ``x`` N×C×H×W, ``removed`` N×H×W bool.
    An image with every pixel removed has nothing to impute from: it becomes black (plus the noise)."""
    n, c, h, w = x.shape
    values = x.detach().double().cpu().numpy().transpose(0, 2, 3, 1).reshape(-1, c)  # (N·H·W) × C
    holes = removed.cpu().numpy().copy()
    holes[holes.reshape(n, -1).all(1)] = False         # all removed: solved as black below
    empty = removed.cpu().numpy().reshape(n, -1).all(1)
    flat = holes.reshape(-1)
    unknown = np.flatnonzero(flat)
    index = np.full(flat.size, -1)
    index[unknown] = np.arange(len(unknown))
    image, rest = np.divmod(unknown, h * w)
    row, col = np.divmod(rest, w)
    diagonal, rhs = np.zeros(len(unknown)), np.zeros((len(unknown), c))
    i, j, weights = [np.arange(len(unknown))], [np.arange(len(unknown))], []
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            if di == dj == 0:
                continue
            weight = 1 / 6 if di == 0 or dj == 0 else 1 / 12
            r, q = row + di, col + dj
            eq = np.flatnonzero((r >= 0) & (r < h) & (q >= 0) & (q < w))
            neighbour = image[eq] * h * w + r[eq] * w + q[eq]
            diagonal[eq] += weight
            free = index[neighbour] >= 0
            i.append(eq[free])
            j.append(index[neighbour[free]])
            weights.append(np.full(int(free.sum()), -weight))
            np.add.at(rhs, eq[~free], weight * values[neighbour[~free]])  # kept neighbours: known values
    out = values.copy()
    if len(unknown):
        a = coo_matrix((np.concatenate([diagonal, *weights]), (np.concatenate(i), np.concatenate(j))),
                       shape=(len(unknown), len(unknown))).tocsc()
        # the natural order keeps each image's block banded (width W): fastest of SuperLU's orderings here
        out[unknown] = spsolve(a, rhs, permc_spec="NATURAL").reshape(len(unknown), c)
    imputed = torch.from_numpy(out).view(n, h, w, c).permute(0, 3, 1, 2).to(x.device, x.dtype)
    imputed[torch.from_numpy(empty).to(x.device)] = 0.0
    jitter = torch.randn(imputed.shape, generator=generator, dtype=torch.float64).to(x.device, x.dtype)
    return imputed + noise * jitter * removed[:, None].to(x.dtype)


_FILLS = ("a number (a constant: 0.0 black, or the data set's mean)", "blur", "road")


def _check_fill(fill: object, sigma: float, noise: float) -> None:
    if isinstance(fill, str):
        if fill not in ("blur", "road"):
            raise ValueError(f"fill must be {', '.join(_FILLS)}; got {fill!r}")
    elif isinstance(fill, bool) or not isinstance(fill, (int, float)):
        raise TypeError(f"fill must be {', '.join(_FILLS)}; got {type(fill).__name__}")
    else:
        check_number(fill, "fill", low=0.0, high=1.0)
    check_positive(sigma, "sigma")
    check_number(noise, "noise", low=0.0)


def _perturbation_curve(
    model: nn.Module, x: torch.Tensor, target: int | torch.Tensor, attributions: torch.Tensor, *, steps: int,
    fill: float | str, sigma: float, noise: float, generator: torch.Generator | None, insert: bool,
    batch_size: int,
) -> torch.Tensor:
    check_model(model)
    check_images(x, model=model)
    check_int(steps, "steps")
    _check_fill(fill, sigma, noise)
    check_generator(generator)
    check_int(batch_size, "batch_size")
    order = _check_maps(attributions, x).argsort(dim=1, descending=True)  # most relevant first
    n, pixels = order.shape
    ranks = torch.empty_like(order).scatter_(1, order, torch.arange(pixels, device=x.device).expand(n, -1))
    # the number of pixels changed after each step
    counts = torch.round(torch.linspace(0, pixels, steps + 1, device=x.device)).long()
    if fill == "road":  # the fill depends on which pixels are gone: impute every state up front
        g = own_generator(generator)
        later = ranks[:, None] >= counts[None, :, None]   # N × (steps + 1) × H·W: pixels not yet reached
        gone = (later if insert else ~later).view(n * (steps + 1), *x.shape[2:])
        states_x = _road_imputation(x.repeat_interleave(steps + 1, 0), gone, noise, g).view(n, steps + 1,
                                                                                            *x.shape[1:])
    elif fill == "blur":
        from helpers.defenses.filters import gaussian_blur  # here: the defences package is large
        reference = gaussian_blur(x.detach(), sigma)
    else:
        reference = torch.full_like(x, float(fill))
    with frozen(model):
        target = check_labels(target, n, "target", num_classes=num_classes(model, x)).to(x.device)
        probs = []
        with torch.no_grad():
            for index in torch.arange(n * (steps + 1), device=x.device).split(batch_size):
                image, step = index // (steps + 1), index % (steps + 1)
                if fill == "road":
                    batch = states_x[image, step]
                else:
                    start, end = (reference, x) if insert else (x, reference)
                    changed = (ranks[image] < counts[step, None]).view(-1, 1, *x.shape[2:]).to(x.dtype)
                    batch = start[image] * (1 - changed) + end[image] * changed
                probs.append(model(batch).softmax(1).gather(1, target[image, None]).squeeze(1))
    return torch.cat(probs).view(n, steps + 1)


def deletion_curve(
    model: nn.Module, x: torch.Tensor, target: int | torch.Tensor, attributions: torch.Tensor, *,
    steps: int = 20, fill: float | str = 0.0, sigma: float = 2.0, noise: float = 0.01,
    generator: torch.Generator | None = None, batch_size: int = 1024,
) -> torch.Tensor:
    """Deletion (Petsiuk et al. 2018, RISE): remove the most relevant pixels first, a fraction k/steps at
    a time, and record the target probability. Returns N×(steps + 1), column k after k/steps of the
    pixels are gone. A faithful explanation makes it fall fast (small ``auc``).

    ``fill`` is the free choice of the metric — what a "removed" pixel becomes — and it can decide which
    method wins (Tomsett et al. 2020, "Sanity checks for saliency metrics"; Rong et al. 2022):

    - a number: every removed pixel is set to that constant (the default 0.0, black, is also the
      reference of gradient × input and of IG with a black baseline; the data set's mean, e.g. 0.286 for
      Fashion-MNIST, is the usual neutral grey);
    - ``"blur"``: the pixel takes its value in a Gaussian blur of the image of std ``sigma`` pixels
      (Petsiuk et al. 2018 start insertion from a blurred image);
    - ``"road"``: ROAD's noisy linear imputation (Rong et al. 2022, "A Consistent and Efficient Evaluation
      Strategy for Attribution Methods"): each removed pixel is the weighted mean of its 8 neighbours
      (a sparse linear system over the removed pixels), plus Gaussian noise of std ``noise`` drawn from
      ``generator`` (torch's global RNG when None); it leaves no sharp boundary whose shape could itself
      inform the model. Slower: one sparse solve per image and step."""
    return _perturbation_curve(model, x, target, attributions, steps=steps, fill=fill, sigma=sigma,
                               noise=noise, generator=generator, insert=False, batch_size=batch_size)


def insertion_curve(
    model: nn.Module, x: torch.Tensor, target: int | torch.Tensor, attributions: torch.Tensor, *,
    steps: int = 20, fill: float | str = 0.0, sigma: float = 2.0, noise: float = 0.01,
    generator: torch.Generator | None = None, batch_size: int = 1024,
) -> torch.Tensor:
    """Insertion (Petsiuk et al. 2018): start from the image with every pixel removed (``fill``) and put
    back the most relevant pixels first. Returns N×(steps + 1) target probabilities; a faithful
    explanation makes it rise fast (large ``auc``). ``fill``, ``sigma``, ``noise`` and ``generator``
    as in ``deletion_curve``; with ``"road"`` the pixels not yet inserted are imputed from those that are.
    With ``generator=None`` the randomness comes from torch's global RNG.
    """
    return _perturbation_curve(model, x, target, attributions, steps=steps, fill=fill, sigma=sigma,
                               noise=noise, generator=generator, insert=True, batch_size=batch_size)


def auc(curve: torch.Tensor) -> torch.Tensor:
    """Area under curves sampled at evenly spaced fractions 0 … 1 (trapezoid rule); one value per row."""
    if not isinstance(curve, torch.Tensor) or curve.dim() not in (1, 2) or curve.shape[-1] < 2:
        got = shape_or_type(curve)
        raise ValueError(f"curve must be a tensor (N, points) or (points,) with at least 2 points; got {got}")
    if not curve.is_floating_point() or not bool(torch.isfinite(curve).all()):
        raise ValueError("curve must be a float tensor without NaN or infinite values")
    return torch.trapezoid(curve, dx=1.0 / (curve.shape[-1] - 1), dim=-1)


def _check_masks(masks: object, maps: torch.Tensor, x_shape: tuple[int, ...], name: str = "masks",
                 against: str = "attributions") -> torch.Tensor:
    """Bool masks N×1×H×W, one per image of ``against`` (shape ``x_shape``), each marking a pixel."""
    expected = (x_shape[0], 1, *x_shape[2:])
    if isinstance(masks, torch.Tensor) and masks.dim() == 4 and masks.shape[2:] != tuple(x_shape[2:]):
        raise ValueError(f"{name} and {against} must have the same height × width; got {name} "
                         f"{tuple(masks.shape)} and {against} {tuple(x_shape)}")
    if not isinstance(masks, torch.Tensor) or masks.dtype != torch.bool or masks.shape != expected:
        got = shape_or_type(masks, dtype=True)
        raise ValueError(f"{name} must be a bool tensor of shape {expected}; got {got}")
    if not masks.flatten(1).any(1).all():
        raise ValueError(f"{name} must mark at least one pixel in every image")
    return masks.to(maps.device).flatten(1)


def pointing_game(attributions: torch.Tensor, masks: torch.Tensor, *, tolerance: float = 0.0) -> float:
    """Pointing game (Zhang et al. 2018, "Top-down neural attention by excitation backprop"): the share of
    images whose most relevant pixel (the largest channel-summed value, signed) lies within ``tolerance``
    pixels (Euclidean distance between pixel centres) of the object's mask — the mask dilated by a disc.
    Zhang et al. use 15 pixels on 224-pixel ImageNet images, so that a peak on the object's rim counts; the
    default 0 demands the peak on the mask itself, and 1 also accepts the 4 pixels beside it (√2 adds the
    diagonals)."""
    tolerance = check_number(tolerance, "tolerance", low=0.0)
    maps = _check_maps(attributions, attributions)
    inside = _check_masks(masks, maps, attributions.shape)
    peak = maps.argmax(1)
    width = attributions.shape[-1]
    rows = torch.arange(maps.shape[1], device=maps.device) // width
    cols = torch.arange(maps.shape[1], device=maps.device) % width
    distance2 = (rows - (peak // width)[:, None]) ** 2 + (cols - (peak % width)[:, None]) ** 2
    nearest2 = distance2.masked_fill(~inside, torch.iinfo(distance2.dtype).max).amin(1)
    return (nearest2 <= tolerance**2).float().mean().item()


def relevance_mass(attributions: torch.Tensor, masks: torch.Tensor) -> float:
    """Relevance mass accuracy, Σ_{mask} |h| ÷ Σ |h| averaged over images, with |h| the absolute
    attribution summed over channels. (CLEVR-XAI, Arras, Osman & Samek 2022, define it on the
    relevance pooled per pixel; we take absolute values so that signed maps score their magnitude.)
    A uniform map scores the mask's area fraction."""
    maps = _check_maps(attributions, attributions).abs()
    inside = _check_masks(masks, maps, attributions.shape)
    total = maps.sum(1)
    share = (maps * inside).sum(1) / total.clamp_min(1e-30)
    return torch.where(total > 0, share, torch.zeros_like(share)).mean().item()


def roughness(attributions: torch.Tensor, *, signed: bool = False) -> torch.Tensor:
    """How speckled each map is: the mean absolute difference between neighbouring pixels (down and
    right), in units of the map's mean magnitude,

        roughness(h) = ( mean |h[i+1, j] − h[i, j]| + mean |h[i, j+1] − h[i, j]| ) ÷ mean |h|,

    with h the map summed over channels — of |a| by default (where the evidence lies: a sign flip between
    neighbours costs nothing), of a itself with ``signed=True`` (a map alternating + and − counts as rough).
    0 for a constant map; a ±1 checkerboard scores 4 signed and 0 unsigned. Returns one value per image."""
    check_bool(signed, "signed")
    if (not isinstance(attributions, torch.Tensor) or attributions.dim() != 4
            or attributions.shape[0] == 0 or min(attributions.shape[2:]) < 2):
        raise ValueError("attributions must be N×C×H×W maps with N ≥ 1 and H, W ≥ 2 (a pixel needs a "
                         f"neighbour); got {shape_or_type(attributions)}")
    _check_maps(attributions, attributions)  # float, finite
    h = attributions.detach().sum(1) if signed else attributions.detach().abs().sum(1)
    scale = h.abs().mean((1, 2))
    if not bool((scale > 0).all()):
        summed = "whose channels sum to zero everywhere" if signed else "that is zero everywhere"
        first = int((scale == 0).nonzero()[0])
        raise ValueError(f"attributions: image {first} has a map {summed}, which has no roughness")
    jumps = (h[:, 1:] - h[:, :-1]).abs().mean((1, 2)) + (h[:, :, 1:] - h[:, :, :-1]).abs().mean((1, 2))
    return jumps / scale


def _check_pair(a: object, b: object, dims: int, what: str) -> None:
    for name, t in (("a", a), ("b", b)):
        if not isinstance(t, torch.Tensor) or t.dim() != dims or t.shape[-1] < 2 or t.shape[0] == 0:
            raise ValueError(f"{name} must be a tensor {what}; got {shape_or_type(t)}")
        if not t.is_floating_point() or not bool(torch.isfinite(t).all()):
            raise ValueError(f"{name} must be a float tensor without NaN or infinite values")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape; got {tuple(a.shape)} and {tuple(b.shape)}")


def _average_ranks(t: torch.Tensor) -> torch.Tensor:
    """Ranks 0 … D−1 along each row, tied values sharing the mean of their ranks (as scipy.stats.rankdata)."""
    ordered = t.sort(1).values.contiguous()
    below = torch.searchsorted(ordered, t.contiguous(), right=False)   # values strictly smaller
    up_to = torch.searchsorted(ordered, t.contiguous(), right=True)    # values smaller or equal
    return (below + up_to - 1).to(torch.float64) / 2


def spearman(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Spearman rank correlation of each row of ``a`` with the same row of ``b`` (N×D → N): the Pearson
    correlation of their ranks, ties given their average rank (= ``scipy.stats.spearmanr``). A constant
    row has no ranking: it scores 0."""
    _check_pair(a, b, 2, "N×D with N ≥ 1 and D ≥ 2")
    ra, rb = _average_ranks(a), _average_ranks(b)
    ra, rb = ra - ra.mean(1, keepdim=True), rb - rb.mean(1, keepdim=True)
    return (ra * rb).sum(1) / (ra.norm(dim=1) * rb.norm(dim=1)).clamp_min(1e-30)


def ssim_map(a: torch.Tensor, b: torch.Tensor, *, data_range: float = 1.0, window: int = 7) -> torch.Tensor:
    """Local structural similarity (Wang et al. 2004) of each N×H×W image pair, in ``window``×``window``
    square windows with the sample covariance — scikit-image's ``structural_similarity`` defaults:

        SSIM = (2 μ_a μ_b + C1)(2 σ_ab + C2) ÷ ((μ_a² + μ_b² + C1)(σ_a² + σ_b² + C2)),
        C1 = (0.01 · data_range)², C2 = (0.03 · data_range)².

    Returns N×(H − window + 1)×(W − window + 1): one value per window fully inside the image, centred on
    the pixel (i + window//2, j + window//2); its mean is scikit-image's SSIM."""
    _check_pair(a, b, 3, "N×H×W")
    check_positive(data_range, "data_range")
    window = check_int(window, "window", minimum=3)
    if window % 2 == 0 or window > min(a.shape[1:]):
        raise ValueError(f"window must be odd and at most the image's side {min(a.shape[1:])}; got {window}")
    a, b = a.detach().double()[:, None], b.detach().double()[:, None]
    mean = lambda t: torch.nn.functional.avg_pool2d(t, window, stride=1)  # noqa: E731
    correction = window**2 / (window**2 - 1)   # sample covariance
    mu_a, mu_b = mean(a), mean(b)
    var_a = (mean(a * a) - mu_a**2) * correction
    var_b = (mean(b * b) - mu_b**2) * correction
    cov = (mean(a * b) - mu_a * mu_b) * correction
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    return ((2 * mu_a * mu_b + c1) * (2 * cov + c2) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)))[:, 0]


def _similarity(reference: torch.Tensor, maps: torch.Tensor, pixels: torch.Tensor | None, similarity: str,
                shape: tuple[int, int]) -> torch.Tensor:
    """One similarity per image between two N×(H·W) sets of maps, over the chosen pixels (all when None)."""
    if similarity == "spearman":
        if pixels is None:
            return spearman(reference, maps)
        return torch.stack([spearman(r[p][None], m[p][None])[0] for r, m, p in zip(reference, maps, pixels)])
    def unit(t: torch.Tensor) -> torch.Tensor:  # min–max to [0, 1]; a constant map becomes 0
        low, high = t.amin(1, keepdim=True), t.amax(1, keepdim=True)
        return ((t - low) / (high - low).clamp_min(1e-30)).view(-1, *shape)
    local = ssim_map(unit(reference), unit(maps))
    if pixels is None:
        return local.flatten(1).mean(1)
    border = (shape[0] - local.shape[1]) // 2
    centres = pixels.view(-1, *shape)[:, border:shape[0] - border, border:shape[1] - border]
    return torch.stack([v[c].mean() for v, c in zip(local, centres)])


def randomization_test(
    model: nn.Module,
    x: torch.Tensor,
    target: int | torch.Tensor,
    method: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor],
    *,
    order: str = "top_down",
    absolute: bool = True,
    pixels: torch.Tensor | None = None,
    similarity: str = "spearman",
    generator: torch.Generator | None = None,
) -> dict[str, float]:
    """Model-parameter randomisation (Adebayo et al. 2018, "Sanity checks for saliency maps").

    Re-initialise the model's layers with parameters one at a time, from the output down (``order=
    "top_down"``: cumulative, as in the paper's cascading test; ``"independent"``: one layer at a time),
    explain ``x`` with ``method(model_copy, x, target)`` after each step and compare with the trained
    model's explanation (of the absolute maps when ``absolute``), averaged over images. An explanation
    that still resembles the trained one once the weights are random does not explain the model.

    Two free choices of the test, as Adebayo et al. vary them:

    - ``similarity``: ``"spearman"``, the rank correlation of the maps' pixels (ties averaged); or
      ``"ssim"``, the structural similarity of the maps min–max scaled to [0, 1] (7×7 windows, see
      ``ssim_map``);
    - ``pixels``: a bool mask N×1×H×W of the pixels compared (e.g. the object, ``x.sum(1) > 0`` for a
      garment on black) — by default all. Where a method's map is zero for any model (gradient × input on
      black pixels), comparing all pixels rewards the shared zeros, not the model (Tomsett et al. 2020).
      With SSIM, the local values of the windows centred on the chosen pixels are averaged.

    The model itself is never changed (a copy is randomised); for Grad-CAM, name the layer, which names
    the same layer in every copy: ``lambda m, x, t: grad_cam(m, x, t, layer="layer4.1.bn2")``.
    Returns {"trained": 1.0, "<index>: <layer>": similarity, …}.
    With ``generator=None`` the randomness comes from torch's global RNG.
    """
    check_model(model)
    check_images(x, model=model)
    check_callable(method, "method", "(model, x, target) -> maps")
    check_choice(order, "order", ("top_down", "independent"))
    check_bool(absolute, "absolute")
    check_choice(similarity, "similarity", ("spearman", "ssim"))
    check_generator(generator)
    shape = (x.shape[-2], x.shape[-1])
    if pixels is not None:
        pixels = _check_masks(pixels, x.flatten(1), tuple(x.shape), "pixels", "x").to(x.device)
        if similarity == "spearman" and bool((pixels.sum(1) < 2).any()):
            raise ValueError("pixels must mark at least 2 pixels in every image to rank them")
        if similarity == "ssim":
            half = 3  # ssim_map's 7×7 windows: centres at least 3 pixels from the border
            core = pixels.view(-1, *shape)[:, half:shape[0] - half, half:shape[1] - half]
            if min(shape) < 7 or not bool(core.flatten(1).any(1).all()):
                raise ValueError("pixels must mark, in every image, a pixel at least 3 pixels from the "
                                 "border (the centre of a 7×7 SSIM window)")
    g = own_generator(generator)

    def explain(m: nn.Module) -> torch.Tensor:
        maps = _check_maps(method(m, x, target), x, "method(model, x, target)")
        maps = maps.detach()
        return maps.abs() if absolute else maps

    reference = explain(model)
    cuda_devices = sorted({p.device for p in model.parameters() if p.device.type == "cuda"}, key=str)
    layers = [(name, m) for name, m in model.named_modules() if hasattr(m, "reset_parameters") and any(
        True for _ in m.parameters(recurse=False))]
    results = {"trained": 1.0}
    randomized = copy.deepcopy(model)
    by_name = dict(randomized.named_modules())
    for name, layer in reversed(layers):
        if order == "independent":
            randomized = copy.deepcopy(model)
            by_name = dict(randomized.named_modules())
        with torch.random.fork_rng(devices=cuda_devices):
            torch.manual_seed(int(torch.randint(2**62, (1,), generator=g)))
            by_name[name].reset_parameters()
        score = _similarity(reference, explain(randomized), pixels, similarity, shape)
        results[f"{name}: {type(layer).__name__}"] = score.mean().item()
    return results


__all__ = [
    "deletion_curve",
    "insertion_curve",
    "auc",
    "pointing_game",
    "relevance_mass",
    "roughness",
    "spearman",
    "ssim_map",
    "randomization_test",
]
