"""Sanity checks (Adebayo et al. 2018): does the explanation change when the model's weights are
randomised? The randomisation test, with its two similarities: Spearman's rank correlation and SSIM."""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

from helpers._checks import (
    check_bool,
    check_callable,
    check_choice,
    check_generator,
    check_images,
    check_int,
    check_model,
    check_positive,
    check_tensor,
    own_generator,
)
from helpers.explain.metrics._maps import check_maps, check_masks


def _check_pair(a: object, b: object, dims: int, what: str) -> None:
    for name, t in (("a", a), ("b", b)):
        check_tensor(t, name, what=what, dims=dims)
        if t.shape[-1] < 2 or t.shape[0] == 0:
            raise ValueError(f"{name} must be a tensor {what}; got {tuple(t.shape)}")
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


def _check_pixels(pixels: object, x: torch.Tensor, similarity: str) -> torch.Tensor:
    """The pixels compared, N×H·W on ``x``'s device: at least 2 an image to rank, or for SSIM the centre of
    a window inside the image."""
    pixels = check_masks(pixels, x.flatten(1), tuple(x.shape), "pixels", "x").to(x.device)
    if similarity == "spearman" and bool((pixels.sum(1) < 2).any()):
        raise ValueError("pixels must mark at least 2 pixels in every image to rank them")
    if similarity == "ssim":
        shape, half = x.shape[-2:], 3  # ssim_map's 7×7 windows: centres at least 3 pixels from the border
        core = pixels.view(-1, *shape)[:, half:shape[0] - half, half:shape[1] - half]
        if min(shape) < 7 or not bool(core.flatten(1).any(1).all()):
            raise ValueError("pixels must mark, in every image, a pixel at least 3 pixels from the "
                             "border (the centre of a 7×7 SSIM window)")
    return pixels


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
    pixels = None if pixels is None else _check_pixels(pixels, x, similarity)
    g = own_generator(generator)

    def explain(m: nn.Module) -> torch.Tensor:
        maps = check_maps(method(m, x, target), x, "method(model, x, target)")
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
