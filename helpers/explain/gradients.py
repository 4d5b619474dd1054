"""Gradient attribution: saliency, gradient × input, integrated gradients, SmoothGrad and GradientSHAP.

Every function takes ``(model, x, target)`` — images ``N×C×H×W`` in [0, 1], a target class (an int
or an int64 tensor of shape N) — and returns a detached map shaped like ``x``. The explained score
is the target **logit** f_c(x), as in Captum.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from helpers._checks import (
    batched,
    check_choice,
    check_generator,
    check_int,
    check_positive,
    check_tensor,
    noisy_inputs,
)
from helpers._contract import check_finite, checked
from helpers.explain._core import Attribution, attribution, baseline_image, target_gradient, target_logit

QUADRATURES = ("riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid", "gausslegendre")
SMOOTHGRAD_KINDS = ("smoothgrad", "smoothgrad_sq", "vargrad")


@attribution
def saliency(model: nn.Module, x: torch.Tensor, target: torch.Tensor, *, abs: bool = True) -> torch.Tensor:
    """Gradient saliency: S(x) = ∂f_c(x)/∂x, its absolute value when ``abs`` (Captum's ``Saliency``).

    Simonyan, Vedaldi & Zisserman (2014), "Deep inside convolutional networks".
    """
    grad = target_gradient(model, x, target)
    return grad.abs() if abs else grad


@attribution
def input_x_gradient(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Gradient × input: A(x) = x ⊙ ∂f_c(x)/∂x (Shrikumar et al. 2016; Captum's ``InputXGradient``).

    For a ReLU network it equals LRP-0, with biases or without: LRP-0 hands each layer's input a the share
    a ⊙ ∂f_c/∂a (biases break its conservation, not this equality). It starts from the input of the first
    weighted layer, so after a ``Normalize`` layer LRP-0 is (x − μ) ⊙ ∂f_c/∂x in pixels (see notebook 03).
    """
    return x * target_gradient(model, x, target)


def quadrature_nodes(steps: int, quadrature: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Nodes α_k ∈ [0, 1] and weights w_k with ∫₀¹ g(α) dα ≈ Σ_k w_k g(α_k), in float64, for the rule
    ``quadrature`` (one of ``QUADRATURES``; Captum's ``method``).

    The Riemann rules use h = 1/steps and ``gausslegendre`` the Gauss–Legendre nodes, as in Captum.
    ``riemann_trapezoid`` is the true trapezoid rule: nodes 0, h, …, 1 with h = 1/(steps − 1) and the
    end weights halved, so the weights sum to 1. (Captum uses h = 1/steps there, so its trapezoid
    weights sum to (steps − 1)/steps and its result is ours × (steps − 1)/steps.)
    """
    check_choice(quadrature, "quadrature", QUADRATURES)
    check_int(steps, "steps", minimum=2 if quadrature == "riemann_trapezoid" else 1)
    k = torch.arange(steps, dtype=torch.float64)
    weights = torch.full((steps,), 1.0 / steps, dtype=torch.float64)
    if quadrature == "riemann_left":
        alphas = k / steps
    elif quadrature == "riemann_right":
        alphas = (k + 1) / steps
    elif quadrature == "riemann_middle":
        alphas = (k + 0.5) / steps
    elif quadrature == "riemann_trapezoid":
        alphas = k / (steps - 1)
        weights = torch.full((steps,), 1.0 / (steps - 1), dtype=torch.float64)
        weights[[0, -1]] /= 2
    else:
        nodes, gauss_weights = np.polynomial.legendre.leggauss(steps)
        alphas, weights = torch.from_numpy((nodes + 1) / 2), torch.from_numpy(gauss_weights / 2)
    return alphas, weights


@attribution
def integrated_gradients(
    model: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    *,
    baseline: torch.Tensor | float | None = None,
    steps: int = 50,
    quadrature: str = "gausslegendre",
    batch_size: int | None = None,
) -> torch.Tensor:
    """Integrated gradients (Sundararajan, Taly & Yan 2017):

        IG(x) = (x − x′) ⊙ ∫₀¹ ∂f_c(x′ + α(x − x′))/∂x dα  ≈  (x − x′) ⊙ Σ_k w_k ∂f_c(x′ + α_k(x − x′))/∂x

    with the baseline x′ (``None``: black, all zeros) and the nodes α_k and weights w_k of the rule
    ``quadrature`` (``quadrature_nodes``; Captum calls this option ``method``). By completeness
    Σ IG(x) ≈ f_c(x) − f_c(x′); see ``completeness_gap``. The steps × N points are evaluated in chunks of
    ``batch_size`` points (all at once when ``None``), each chunk built only when it is needed, which
    bounds the memory.
    """
    alphas, weights = quadrature_nodes(steps, quadrature)
    alphas, weights = alphas.to(x), weights.to(x)
    start = baseline_image(x, baseline)
    diff = x - start
    n = x.shape[0]
    chunk = check_int(batch_size, "batch_size") if batch_size is not None else steps * n
    total = torch.zeros_like(x)
    for index in torch.arange(steps * n, device=x.device).split(chunk):
        step, image = index // n, index % n
        scale = alphas[step].view(-1, *([1] * (x.dim() - 1)))
        grads = target_gradient(model, start[image] + scale * diff[image], target[image])
        total.index_add_(0, image, grads * weights[step].view_as(scale))
    return diff * total


def completeness_gap(
    model: nn.Module,
    x: torch.Tensor,
    target: int | torch.Tensor,
    attributions: torch.Tensor,
    baseline: torch.Tensor | float | None = None,
) -> torch.Tensor:
    """Σ_i A_i(x) − (f_c(x) − f_c(x′)) per image: 0 for a method that is complete (IG, exactly in the limit).

    Returns a tensor of shape N on ``x``'s device.
    """
    if not isinstance(attributions, torch.Tensor) or attributions.shape != getattr(x, "shape", None):
        got = (tuple(attributions.shape) if isinstance(attributions, torch.Tensor)
               else type(attributions).__name__)
        raise ValueError(f"attributions must be a tensor shaped like x {tuple(getattr(x, 'shape', ()))}; "
                         f"got {got}")
    check_tensor(attributions, "attributions")
    with checked(model, x, target, "target") as target:
        x = x.detach()
        change = target_logit(model, x, target) - target_logit(model, baseline_image(x, baseline), target)
        return check_finite(attributions.detach().to(x).flatten(1).sum(1) - change, "completeness_gap")


@attribution
def smoothgrad(
    model: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    *,
    n: int = 50,
    noise_level: float = 0.15,
    kind: str = "smoothgrad",
    method: Attribution = saliency,
    method_kwargs: dict | None = None,
    generator: torch.Generator | None = None,
    batch_size: int | None = None,
) -> torch.Tensor:
    """SmoothGrad (Smilkov et al. 2017): average an attribution over noisy copies of the image,

        ŝ(x) = 1/n Σ_k A(x + ε_k),   ε_k ~ N(0, σ²),   σ = noise_level · (max_i x_i − min_i x_i)

    (σ per image, as a fraction of its value range; Captum's ``NoiseTunnel`` takes the absolute
    ``stdevs`` = σ instead). ``kind`` ``"smoothgrad_sq"`` averages A(x + ε_k)², ``"vargrad"`` takes
    the population variance of A(x + ε_k) (Adebayo et al. 2018). ``method`` is any gradient
    attribution of this module (``saliency``, ``input_x_gradient``, ``integrated_gradients``), with
    ``method_kwargs``; the noisy images are not clipped to [0, 1], as in the paper. All n × N noisy
    images go through the model together, in chunks of ``batch_size`` images. ``noise_level=0``
    returns ``method`` exactly.
    With ``generator=None`` the randomness comes from torch's global RNG.
    """
    check_int(n, "n")
    check_positive(noise_level, "noise_level", allow_zero=True)
    check_choice(kind, "kind", SMOOTHGRAD_KINDS)
    if method_kwargs is not None and not isinstance(method_kwargs, dict):
        raise TypeError(f"method_kwargs must be a dict or None; got {type(method_kwargs).__name__}")
    check_generator(generator)
    raw = getattr(method, "raw", None)
    if raw is None:
        raise TypeError(
            "method must be a gradient attribution of helpers.explain (saliency, input_x_gradient, "
            f"integrated_gradients); got {getattr(method, '__name__', type(method).__name__)}"
        )
    options = dict(method_kwargs or {})
    if noise_level == 0:
        samples = raw(model, x, target, **options).unsqueeze(0)
    else:
        sigma = noise_level * (x.flatten(1).amax(1) - x.flatten(1).amin(1))
        where = generator.device if generator is not None else x.device
        noise = torch.randn((n, *x.shape), generator=generator, device=where, dtype=x.dtype).to(x.device)
        noisy = (x + noise * sigma.view(1, -1, *([1] * (x.dim() - 1)))).flatten(0, 1)
        targets = target.repeat(n)
        chunk = check_int(batch_size, "batch_size") if batch_size is not None else len(noisy)
        with noisy_inputs():  # the noise is ours: a filter in front of the model must not refuse it
            samples = batched(lambda xs, ts: raw(model, xs, ts, **options), noisy, targets,
                              batch_size=chunk).view(n, *x.shape)
    if kind == "smoothgrad":
        return samples.mean(0)
    if kind == "smoothgrad_sq":
        return (samples**2).mean(0)
    return samples.var(0, unbiased=False)


@attribution
def gradient_shap(
    model: nn.Module, x: torch.Tensor, target: torch.Tensor, *, baselines: torch.Tensor, n: int = 5,
    sigma: float = 0.0, generator: torch.Generator | None = None,
) -> torch.Tensor:
    """GradientSHAP, or expected gradients (Lundberg & Lee 2017; Erion et al. 2021; Captum's
    ``GradientShap``): integrated gradients averaged over a distribution of baselines instead of one,

        A(x) = E_{b, α, ε} [ (x̃ − b) ⊙ ∂f_c/∂x (b + α (x̃ − b)) ],    x̃ = x + ε,  ε ~ N(0, σ²I),

    with b drawn from the rows of ``baselines`` (B×C×H×W, pixel values), α ~ U(0, 1), estimated by ``n``
    draws per image (Captum's ``n_samples`` and ``stdevs``). Its expectation over α is IG's path integral,
    so on average the map sums to f_c(x) − E_b f_c(b).
    With ``generator=None`` the randomness comes from torch's global RNG.
    """
    check_int(n, "n")
    check_positive(sigma, "sigma", allow_zero=True)
    check_tensor(baselines, "baselines", what="of baseline images B×C×H×W", dims=4, low=0.0, high=1.0)
    if baselines.shape[1:] != x.shape[1:]:
        raise ValueError(f"baselines must be images shaped like x's, B×{'×'.join(map(str, x.shape[1:]))}; "
                         f"got {'×'.join(map(str, baselines.shape))}")
    check_generator(generator)
    where = generator.device if generator is not None else x.device
    baselines = baselines.detach().to(x)
    total = torch.zeros_like(x)
    for _ in range(n):
        pick = torch.randint(len(baselines), (len(x),), generator=generator, device=where).to(x.device)
        alpha = torch.rand(len(x), generator=generator, device=where, dtype=x.dtype).to(x.device)
        noise = torch.randn(x.shape, generator=generator, device=where, dtype=x.dtype).to(x.device)
        step = x + sigma * noise - baselines[pick]
        with noisy_inputs():  # the path's points are ours: a filter before the model must not refuse them
            total += step * target_gradient(model, baselines[pick] + alpha.view(-1, 1, 1, 1) * step, target)
    return total / n


__all__ = [
    "saliency",
    "input_x_gradient",
    "integrated_gradients",
    "completeness_gap",
    "smoothgrad",
    "gradient_shap",
    "quadrature_nodes",
    "QUADRATURES",
    "SMOOTHGRAD_KINDS",
]
