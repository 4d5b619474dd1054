"""Grad-CAM and the layer hooks on a torchvision ResNet: against Captum; the layers they refuse, by name."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
from captum.attr import LayerGradCam
from torch import nn

from helpers.explain import activation_maximization, filter_activations, grad_cam, randomization_test
from tests.oracle_models import relative_error

warnings.filterwarnings("ignore", message="Input Tensor 0 did not already require gradients")
TARGET = torch.tensor([3, 7])


@pytest.fixture(scope="module")
def resnet():
    from torchvision.models import resnet18

    torch.manual_seed(0)
    model = resnet18(num_classes=10).double().eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5), m.running_var.uniform_(0.5, 2.0)
    return model


@pytest.fixture(scope="module")
def x():
    return torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1), dtype=torch.float64)


@pytest.mark.parametrize("layer", ["module", "name"])
def test_grad_cam_on_a_layer_whose_output_is_changed_in_place_matches_captum(resnet, x, layer):
    """``layer4[-1].bn2``'s output is then changed in place by the block (``out += identity``)."""
    chosen = resnet.layer4[-1].bn2 if layer == "module" else "layer4.1.bn2"
    captum = LayerGradCam(resnet, resnet.layer4[-1].bn2)
    reference = captum.attribute(x, target=TARGET, relu_attributions=True)
    ours = grad_cam(resnet, x, TARGET, layer=chosen, upsample=False)
    assert ours.shape == (2, 1, 2, 2) and relative_error(ours, reference) <= 1e-10


def test_grad_cam_by_dotted_name_on_a_block_matches_captum(resnet, x):
    reference = LayerGradCam(resnet, resnet.layer3).attribute(x, target=TARGET, relu_attributions=False)
    ours = grad_cam(resnet, x, TARGET, layer="layer3", relu=False, upsample=False)
    assert relative_error(ours, reference) <= 1e-10


class TupleLayer(nn.Module):
    def forward(self, x):
        return x, x


class WithTuple(nn.Module):
    def __init__(self):
        super().__init__()
        self.pair = TupleLayer()
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(3 * 64 * 64, 10))
        self.unused = nn.Conv2d(3, 3, 1)

    def forward(self, x):
        return self.head(self.pair(x)[0])


@pytest.mark.parametrize(
    "model, layer, message",
    [
        ("resnet", "layer4.1.relu", r"layer 'layer4.1.relu' \(ReLU\) runs more than once in one forward"),
        ("tuple", "unused", r"layer 'unused' \(Conv2d\) did not run in the model's forward pass"),
        ("tuple", "pair", r"layer 'pair' \(TupleLayer\) returns a tuple, not a tensor"),
        ("resnet", "layer9", r"layer 'layer9' is not a module of the model; its modules are named like "
                             r"'conv1', 'bn1', 'relu', 'maxpool', … \(e.g. 'layer4.1.conv2'\)"),
        ("resnet", 4, r"layer must be a module of the model or its dotted name \(e.g. 'layer4.1.conv2'\); "
                      r"got int"),
    ],
)
def test_layers_without_one_tensor_output_are_refused_by_name(resnet, x, model, layer, message):
    model = resnet if model == "resnet" else WithTuple().double().eval()
    for call in (lambda: grad_cam(model, x, 0, layer=layer), lambda: filter_activations(model, layer, x)):
        with pytest.raises((ValueError, TypeError), match=message):
            call()


def test_filter_activations_keep_the_layer_output_before_the_in_place_addition(resnet, x):
    block = resnet.layer4[-1]
    with torch.no_grad():
        before = resnet.layer4[0](resnet.layer3(resnet.layer2(resnet.layer1(resnet.maxpool(resnet.relu(
            resnet.bn1(resnet.conv1(x))))))))
        expected = block.bn2(block.conv2(block.relu(block.bn1(block.conv1(before)))))
    assert torch.allclose(filter_activations(resnet, "layer4.1.bn2", x), expected, rtol=1e-12, atol=1e-12)


def test_activation_maximization_on_an_in_place_modified_layer(resnet):
    model = copy.deepcopy(resnet).float()
    images = activation_maximization(model, "layer2.1.bn2", [0, 5], shape=(3, 32, 32), steps=5,
                                     generator=torch.Generator().manual_seed(0))
    assert images.shape == (2, 3, 32, 32) and torch.isfinite(images).all()


def test_randomization_test_with_grad_cam_by_layer_name(resnet, x):
    small = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10)).double().eval()
    result = randomization_test(small, x, 0, lambda m, x, t: grad_cam(m, x, t, layer="2"),
                                generator=torch.Generator().manual_seed(0))
    assert list(result) == ["trained", "6: Linear", "2: Conv2d", "0: Conv2d"]
