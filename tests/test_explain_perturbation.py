"""Grad-CAM and occlusion against Captum (float64); LIME and filter visualisation by their definitions."""

from __future__ import annotations

import warnings

import pytest
import torch
from captum.attr import LayerAttribution, LayerGradCam, Occlusion
from torch import nn

from helpers.explain import (
    activation_maximization,
    filter_activations,
    grad_cam,
    grid_segments,
    lime,
    occlusion,
)
from tests.oracle_models import relative_error

warnings.filterwarnings("ignore", message="Input Tensor 0 did not already require gradients")
TARGET = torch.tensor([0, 1, 2, 4])



@pytest.mark.parametrize("index", [6, 7, 9])
def test_grad_cam_matches_captum(model, x, index):
    layer = model[index]
    reference = LayerGradCam(model, layer).attribute(x, target=TARGET, relu_attributions=True)
    upsampled = LayerAttribution.interpolate(reference, (12, 12), interpolate_mode="bilinear")
    assert relative_error(grad_cam(model, x, TARGET, layer=layer), upsampled) <= 1e-5
    raw = LayerGradCam(model, layer).attribute(x, target=TARGET)
    assert relative_error(grad_cam(model, x, TARGET, layer=layer, relu=False, upsample=False), raw) <= 1e-5


def test_grad_cam_shape(model, x):
    assert grad_cam(model, x, TARGET, layer=model[7]).shape == (4, 1, 12, 12)
    assert grad_cam(model, x, TARGET, layer=model[7], upsample=False).shape == (4, 1, 3, 3)


@pytest.mark.parametrize(
    "window, stride, baseline", [(3, 1, 0.0), (4, 3, 0.3), ((2, 5), (2, 4), 0.5), (12, 1, 0.0)]
)
def test_occlusion_matches_captum(model, x, window, stride, baseline):
    pair = window if isinstance(window, tuple) else (window, window)
    steps = stride if isinstance(stride, tuple) else (stride, stride)
    reference = Occlusion(model).attribute(x, target=TARGET, sliding_window_shapes=(1, *pair),
                                           strides=(1, *steps), baselines=baseline)
    ours = occlusion(model, x, TARGET, window=window, stride=stride, baseline=baseline, batch_size=37)
    assert relative_error(ours, reference) <= 1e-5


def test_grid_segments():
    seg = grid_segments(5, 7, 3)
    assert seg.shape == (5, 7) and seg.dtype == torch.int64
    assert seg.unique().tolist() == list(range(6))
    assert seg[0, 0] == 0 and seg[4, 6] == 5 and seg[0, 3] == 1 and seg[3, 0] == 3


def test_lime_recovers_a_linear_model_exactly():
    """For a score that is linear in the segments' presence, LIME's regression must find the coefficients."""
    torch.manual_seed(0)
    seg = grid_segments(6, 6, 3)  # 4 segments
    coefficients = torch.tensor([[1.5, -2.0, 0.5, 3.0], [0.0, 1.0, -1.0, 2.0]], dtype=torch.float64)
    per_pixel = coefficients[:, seg.flatten()] / 9  # each segment's pixels share its coefficient
    model = nn.Sequential(nn.Flatten(), nn.Linear(36, 2, bias=True)).double().eval()
    with torch.no_grad():
        model[1].weight.copy_(per_pixel)
        model[1].bias.copy_(torch.tensor([0.25, -0.5]))
    x = torch.ones(3, 1, 6, 6, dtype=torch.float64)
    weights = lime(model, x, 0, segments=seg, n_samples=200, ridge=0.0, score="logit",
                   generator=torch.Generator().manual_seed(1))
    assert torch.allclose(weights[:, 0], coefficients[0][seg].expand(3, 6, 6), atol=1e-9)


def test_lime_shares_one_weight_per_segment_and_is_reproducible(model, x):
    seg = grid_segments(12, 12, 4)
    a = lime(model, x, TARGET, segments=seg, n_samples=100, generator=torch.Generator().manual_seed(0))
    b = lime(model, x, TARGET, segments=seg, n_samples=100, generator=torch.Generator().manual_seed(0),
             batch_size=33)
    assert torch.allclose(a, b)
    for s in range(9):
        values = a[:, 0][:, seg == s]
        assert torch.allclose(values, values[:, :1].expand_as(values))


def test_lime_finds_the_segment_that_matters():
    """A model that only looks at the top-left segment: LIME must rank that segment first."""
    seg = grid_segments(12, 12, 6)
    model = nn.Sequential(nn.Flatten(), nn.Linear(144, 2)).double().eval()
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].weight[1] = (seg.flatten() == 0).double() * 0.2
        model[1].bias.zero_()
    x = torch.full((2, 1, 12, 12), 0.8, dtype=torch.float64)
    weights = lime(model, x, 1, segments=seg, n_samples=300, generator=torch.Generator().manual_seed(2))
    per_segment = torch.stack([weights[:, 0][:, seg == s][:, 0] for s in range(4)], dim=1)
    assert (per_segment.argmax(1) == 0).all()


def test_filter_activations_are_the_layer_output(model, x):
    acts = filter_activations(model, model[5], x)
    with torch.no_grad():
        expected = model[:6](x)
    assert torch.allclose(acts, expected)


def test_activation_maximization_excites_its_filter(model):
    layer = model[6]  # ReLU after the second convolution
    images = activation_maximization(model, layer, [0, 3], shape=(1, 12, 12), steps=60, lr=0.1,
                                     generator=torch.Generator().manual_seed(0))
    assert images.shape == (2, 1, 12, 12) and images.min() >= 0 and images.max() <= 1
    grey = torch.full_like(images[:1], 0.5).double()
    acts = filter_activations(model, layer, images.double())
    base = filter_activations(model, layer, grey)
    for k, channel in enumerate([0, 3]):
        assert acts[k, channel].mean() > base[0, channel].mean()


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m, x: grad_cam(m, x, 0, layer=nn.Conv2d(1, 1, 3)), "layer must be a module of the model"),
        (lambda m, x: grad_cam(m, x, 0, layer="conv"), r"layer 'conv' is not a module of the model; its "
         r"modules are named like '0', '1', '2', '3', … \(e.g. '8'\)"),
        (lambda m, x: occlusion(m, x, 0, window=13, stride=1), "window .* must fit in the image"),
        (lambda m, x: occlusion(m, x, 0, window=3, stride=4), "stride .* must not exceed the window"),
        (lambda m, x: occlusion(m, x, 0, window=0, stride=1), "window must be a positive int"),
        (lambda m, x: lime(m, x, 0, segments=torch.zeros(5, 5, dtype=torch.int64)),
         "segments must be an int64 map"),
        (lambda m, x: lime(m, x, 0, segments=grid_segments(12, 12, 4), score="odds"), "score must be one of"),
        (lambda m, x: filter_activations(m, nn.ReLU(), x), "layer must be a module of the model"),
        (lambda m, x: activation_maximization(m, m[1], 99, shape=(1, 12, 12), steps=1),
         "channel must be below"),
        (lambda m, x: activation_maximization(m, m[1], 0, shape=(12, 12), steps=1),
         r"shape must be \(C, H, W\)"),
    ],
)
def test_bad_input(model, x, call, message):
    with pytest.raises(ValueError, match=message):
        call(model, x)
