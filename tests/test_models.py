import pytest
import torch
from torch import nn

from helpers.models import Normalize, count_parameters, fashion_blackbox, fashion_cnn, shapes_cnn


def test_normalize_formula():
    layer = Normalize((0.5, 0.25), (0.5, 2.0))
    x = torch.rand(3, 2, 4, 4)
    expected = torch.stack([(x[:, 0] - 0.5) / 0.5, (x[:, 1] - 0.25) / 2.0], dim=1)
    assert torch.allclose(layer(x), expected)
    assert "mean=(0.5, 0.25)" in repr(layer)


def test_normalize_moves_with_the_model_and_is_saved():
    layer = Normalize((0.1,), (0.2,))
    assert set(layer.state_dict()) == {"mean", "std"}
    assert layer.double().mean.dtype == torch.float64


@pytest.mark.parametrize(
    "mean, std, message", [((0.1, 0.2), (1.0,), "same length"), ((0.1,), (0.0,), "std must be > 0")]
)
def test_normalize_bad_input(mean, std, message):
    with pytest.raises(ValueError, match=message):
        Normalize(mean, std)


@pytest.mark.parametrize(
    "build, shape, classes",
    [
        (fashion_cnn, (2, 1, 28, 28), 10),
        (fashion_blackbox, (2, 1, 28, 28), 10),
        (shapes_cnn, (2, 3, 32, 32), 4),
    ],
)
def test_architectures(build, shape, classes):
    model = build()
    assert isinstance(model, nn.Sequential) and isinstance(model[0], Normalize)
    assert model(torch.rand(shape)).shape == (2, classes)
    assert count_parameters(model) > 1000


def test_blackbox_is_a_different_architecture():
    plain, black = fashion_cnn(), fashion_blackbox()
    assert [type(m) for m in plain] != [type(m) for m in black]
    assert any(isinstance(m, nn.BatchNorm2d) for m in black)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in plain)


def test_elephant_toy_saturates():
    from helpers.explain import completeness_gap, integrated_gradients, saliency
    from helpers.models import elephant_toy

    model = elephant_toy()
    x = torch.tensor([[[[0.3, 0.5]]], [[[0.9, 0.5]]]])
    probs = model(x).softmax(1)[:, 1]
    assert probs[1] > 0.999 and 0.4 < probs[0] < 0.7
    grads = saliency(model, x, 1)
    assert grads[1, 0, 0, 0] < 0.01 * grads[0, 0, 0, 0]  # the long trunk's gradient has all but vanished
    ig = integrated_gradients(model, x, 1, steps=200)
    assert ig[1, 0, 0, 0] > 3.0  # ... yet integrated gradients credit it with most of the score
    assert completeness_gap(model, x, 1, ig).abs().max() < 1e-3
