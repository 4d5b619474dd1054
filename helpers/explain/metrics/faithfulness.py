"""Faithfulness: does removing the pixels an explanation ranks first change the model's answer first?
Deletion and insertion curves (Petsiuk et al. 2018) with a choice of fill — a constant, a blur, or ROAD's
noisy linear imputation (Rong et al. 2022) — and the area under them."""

from __future__ import annotations

import numpy as np
import torch
from scipy.sparse import coo_matrix
from scipy.sparse.linalg import spsolve
from torch import nn

from helpers._checks import (
    batched,
    check_generator,
    check_images,
    check_int,
    check_labels,
    check_model,
    check_number,
    check_positive,
    check_tensor,
    frozen,
    num_classes,
    own_generator,
)
from helpers.explain.metrics._maps import check_maps
from helpers.imaging import gaussian_blur


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
    order = check_maps(attributions, x).argsort(dim=1, descending=True)  # most relevant first
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
        reference = gaussian_blur(x.detach(), sigma)
    else:
        reference = torch.full_like(x, float(fill))
    with frozen(model):
        target = check_labels(target, n, "target", num_classes=num_classes(model, x)).to(x.device)

        def probability(index: torch.Tensor) -> torch.Tensor:  # of the images index // (steps + 1)
            image, step = index // (steps + 1), index % (steps + 1)
            if fill == "road":
                batch = states_x[image, step]
            else:
                start, end = (reference, x) if insert else (x, reference)
                changed = (ranks[image] < counts[step, None]).view(-1, 1, *x.shape[2:]).to(x.dtype)
                batch = start[image] * (1 - changed) + end[image] * changed
            return model(batch).softmax(1).gather(1, target[image, None]).squeeze(1)

        with torch.no_grad():
            index = torch.arange(n * (steps + 1), device=x.device)
            probs = batched(probability, index, batch_size=batch_size)
    return probs.view(n, steps + 1)


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
    check_tensor(curve, "curve", what="(N, points) or (points,)", dims=(1, 2))
    if curve.shape[-1] < 2:
        raise ValueError(f"curve must have at least 2 points; got shape {tuple(curve.shape)}")
    return torch.trapezoid(curve, dx=1.0 / (curve.shape[-1] - 1), dim=-1)
