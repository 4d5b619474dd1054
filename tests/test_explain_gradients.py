"""Gradient attributions against Captum (float64), and their properties."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from captum.attr import GradientShap, InputXGradient, IntegratedGradients, NoiseTunnel, Saliency

from helpers.explain import (
    completeness_gap,
    gradient_shap,
    input_x_gradient,
    integrated_gradients,
    saliency,
    smoothgrad,
)
from helpers.explain.gradients import QUADRATURES, quadrature_nodes
from tests.oracle_models import relative_error

pytestmark = pytest.mark.filterwarnings("ignore:Input Tensor 0 did not already require gradients")
TARGET = torch.tensor([0, 1, 2, 4])



@pytest.mark.parametrize("abs_", [True, False])
def test_saliency_matches_captum(model, x, abs_):
    reference = Saliency(model).attribute(x.clone(), target=TARGET, abs=abs_)
    assert relative_error(saliency(model, x, TARGET, abs=abs_), reference) <= 1e-5


def test_input_x_gradient_matches_captum(model, x):
    reference = InputXGradient(model).attribute(x.clone(), target=TARGET)
    assert relative_error(input_x_gradient(model, x, TARGET), reference) <= 1e-5


@pytest.mark.parametrize("quadrature", QUADRATURES)
@pytest.mark.parametrize("batch_size", [None, 7])
def test_integrated_gradients_matches_captum(model, x, quadrature, batch_size):
    steps = 16
    baseline = torch.full_like(x, 0.25)
    reference = IntegratedGradients(model).attribute(x.clone(), baselines=baseline, target=TARGET,
                                                     n_steps=steps, method=quadrature)
    if quadrature == "riemann_trapezoid":  # Captum's trapezoid uses h = 1/n; the true rule h = 1/(n − 1)
        reference = reference * steps / (steps - 1)
    ours = integrated_gradients(model, x, TARGET, baseline=baseline, steps=steps, quadrature=quadrature,
                                batch_size=batch_size)
    assert relative_error(ours, reference) <= 1e-5


def test_trapezoid_weights_sum_to_one_and_integrate_exactly():
    for quadrature in QUADRATURES:
        alphas, weights = quadrature_nodes(9, quadrature)
        assert float(weights.sum()) == pytest.approx(1.0, abs=1e-12), quadrature
    alphas, weights = quadrature_nodes(9, "riemann_trapezoid")
    assert float((weights * alphas).sum()) == pytest.approx(0.5, abs=1e-12)  # exact for linear integrands
    alphas, weights = quadrature_nodes(5, "gausslegendre")
    assert float((weights * alphas**9).sum()) == pytest.approx(0.1, abs=1e-12)  # exact up to degree 2n − 1


def test_completeness_gap_shrinks_with_steps(model, x):
    gaps = []
    for steps in (4, 32, 256):
        attributions = integrated_gradients(model, x, TARGET, steps=steps, quadrature="riemann_right")
        gaps.append(completeness_gap(model, x, TARGET, attributions).abs().mean().item())
    assert gaps[0] > gaps[1] > gaps[2]
    assert gaps[2] < gaps[0] / 20  # a first-order rule on a piecewise-linear net: gap ~ 1/steps


def test_completeness_gap_is_the_formula(model, x):
    attributions = torch.rand_like(x)
    with torch.no_grad():
        change = model(x)[range(4), TARGET] - model(torch.zeros_like(x))[range(4), TARGET]
    expected = attributions.flatten(1).sum(1) - change
    assert torch.allclose(completeness_gap(model, x, TARGET, attributions), expected)


def test_smoothgrad_without_noise_is_the_method_exactly(model, x):
    for method, captum_method in ((saliency, Saliency), (input_x_gradient, InputXGradient)):
        plain = method(model, x, TARGET)
        assert torch.equal(smoothgrad(model, x, TARGET, noise_level=0.0, method=method), plain)
        tunnel = NoiseTunnel(captum_method(model))
        reference = tunnel.attribute(x.clone(), nt_type="smoothgrad", nt_samples=4, stdevs=0.0, target=TARGET)
        assert relative_error(plain, reference) <= 1e-5


@pytest.mark.parametrize("kind, nt_type", [("smoothgrad", "smoothgrad"), ("smoothgrad_sq", "smoothgrad_sq"),
                                           ("vargrad", "vargrad")])
def test_smoothgrad_agrees_with_captum_statistically(model, x, kind, nt_type):
    """Both are Monte-Carlo estimates of the same expectation; they must agree within their standard error.

    The images' value range is exactly [0, 1], so our noise_level equals Captum's absolute stdevs.
    """
    n, level = 1500, 0.2
    torch.manual_seed(0)
    reference = NoiseTunnel(Saliency(model)).attribute(x.clone(), nt_type=nt_type, nt_samples=n, stdevs=level,
                                                        target=TARGET, abs=False)
    g = torch.Generator().manual_seed(1)
    ours = smoothgrad(model, x, TARGET, n=n, noise_level=level, kind=kind, method_kwargs={"abs": False},
                      generator=g, batch_size=2000)
    assert relative_error(ours, reference) < 0.1
    if kind == "smoothgrad":  # elementwise: within 5 standard errors for almost every pixel
        spread = smoothgrad(model, x, TARGET, n=n, noise_level=level, kind="vargrad",
                            method_kwargs={"abs": False}, generator=torch.Generator().manual_seed(1))
        stderr = (2 * spread / n).sqrt() + 1e-12
        assert float(((ours - reference).abs() <= 5 * stderr).double().mean()) > 0.99


def test_gradient_shap_agrees_with_captum_statistically(model, x):
    """Both are Monte-Carlo estimates of one expectation (Captum draws from numpy's RNG, we from torch's)."""
    n = 4000
    baselines = torch.rand(3, *x.shape[1:], generator=torch.Generator().manual_seed(2), dtype=x.dtype)
    np.random.seed(0)
    torch.manual_seed(0)
    reference = GradientShap(model).attribute(x.clone(), baselines=baselines, n_samples=n, stdevs=0.1,
                                              target=TARGET)
    ours = gradient_shap(model, x, TARGET, baselines=baselines, n=n, sigma=0.1,
                         generator=torch.Generator().manual_seed(1))
    assert relative_error(ours, reference) < 0.1


def test_gradient_shap_is_its_equation(model, x):
    baselines, g = torch.rand(2, *x.shape[1:], dtype=x.dtype), torch.Generator().manual_seed(5)
    expected = torch.zeros_like(x)
    for _ in range(3):
        b = baselines[torch.randint(2, (len(x),), generator=g)]
        alpha = torch.rand(len(x), generator=g, dtype=x.dtype).view(-1, 1, 1, 1)
        step = x + 0.2 * torch.randn(x.shape, generator=g, dtype=x.dtype) - b
        point = (b + alpha * step).requires_grad_(True)
        (grad,) = torch.autograd.grad(model(point).gather(1, TARGET[:, None]).sum(), point)
        expected += step * grad / 3
    ours = gradient_shap(model, x, TARGET, baselines=baselines, n=3, sigma=0.2,
                         generator=torch.Generator().manual_seed(5))
    assert relative_error(ours, expected) <= 1e-10


def test_smoothgrad_is_reproducible_and_batched(model, x):
    a = smoothgrad(model, x, TARGET, n=10, generator=torch.Generator().manual_seed(3))
    b = smoothgrad(model, x, TARGET, n=10, generator=torch.Generator().manual_seed(3), batch_size=7)
    c = smoothgrad(model, x, TARGET, n=10, generator=torch.Generator().manual_seed(4))
    assert torch.allclose(a, b, rtol=1e-12, atol=1e-15) and not torch.allclose(a, c)


def test_smoothgrad_is_an_average_of_noisy_gradients(model, x):
    """An independent computation: the same noise drawn by hand, one sample at a time."""
    n, level = 6, 0.3
    ours = smoothgrad(model, x, TARGET, n=n, noise_level=level, method_kwargs={"abs": False},
                      generator=torch.Generator().manual_seed(5))
    noise = torch.randn((n, *x.shape), generator=torch.Generator().manual_seed(5), dtype=x.dtype) * level
    by_hand = []
    for k in range(n):
        xk = (x + noise[k]).requires_grad_(True)
        (g,) = torch.autograd.grad(model(xk)[range(4), TARGET].sum(), xk)
        by_hand.append(g)
    assert torch.allclose(ours, torch.stack(by_hand).mean(0), rtol=1e-10, atol=1e-12)


def test_smoothgrad_with_integrated_gradients(model, x):
    out = smoothgrad(model, x, TARGET, n=3, method=integrated_gradients, method_kwargs={"steps": 8},
                     generator=torch.Generator().manual_seed(0))
    assert out.shape == x.shape and torch.isfinite(out).all()


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda m, x: saliency(m, x, 5), ValueError,
         r"target must hold classes in 0…4; got values from 5 to 5"),
        (lambda m, x: saliency(m, x, torch.tensor([0, 1])), ValueError, r"target must have shape \(4,\)"),
        (lambda m, x: saliency(m, x, torch.tensor([0, 1, 2, 3.0])), TypeError,
         "target must have dtype torch.int64"),
        (lambda m, x: saliency(m, x[0], 1), ValueError, "x must have 4 dimensions"),
        (lambda m, x: saliency(m, x * 2, 1), ValueError, r"x must lie in \[0, 1\]"),
        (lambda m, x: smoothgrad(m, x, 1, noise_level=-0.1), ValueError, "noise_level must be ≥ 0"),
        (lambda m, x: smoothgrad(m, x, 1, kind="meangrad"), ValueError, "kind must be one of"),
        (lambda m, x: smoothgrad(m, x, 1, n=0), ValueError, "n must be ≥ 1"),
        (lambda m, x: smoothgrad(m, x, 1, method=print), TypeError, "method must be a gradient attribution"),
        (lambda m, x: integrated_gradients(m, x, 1, quadrature="simpson"), ValueError,
         "quadrature must be one of"),
        (lambda m, x: integrated_gradients(m, x, 1, steps=0), ValueError, "steps must be ≥ 1"),
        (lambda m, x: integrated_gradients(m, x, 1, baseline=torch.zeros(3, 3)), ValueError,
         "baseline must broadcast"),
        (lambda m, x: completeness_gap(m, x, 1, torch.zeros(2)), ValueError,
         "attributions must be a tensor shaped like x"),
    ],
)
def test_bad_input(model, x, call, error, message):
    with pytest.raises(error, match=message):
        call(model, x)
