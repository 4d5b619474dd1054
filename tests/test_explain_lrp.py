"""LRP against Zennit (float64), and the properties the lecture states."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from zennit.attribution import Gradient
from zennit.canonizers import SequentialMergeBatchNorm
from zennit.composites import EpsilonGammaBox, EpsilonPlus, LayerMapComposite
from zennit.rules import Epsilon, Gamma, Norm, Pass, ZPlus
from zennit.types import Activation, AvgPool, Convolution

from helpers.explain import conservation, epsilon_step, input_x_gradient, lrp
from helpers.models import Normalize
from tests.oracle_models import oracle_cnn, oracle_images, relative_error

TARGET = torch.tensor([0, 1, 2, 4])



def zennit_relevance(model: nn.Sequential, x: torch.Tensor, composite) -> torch.Tensor:
    """Zennit on the model after its Normalize layer, fed normalised images; output relevance one-hot × logit.

    (Relevance on normalised pixels is relevance on pixels: Normalize is an elementwise bijection.)
    """
    body, normalized = copy.deepcopy(model[1:]), model[0](x).detach()
    with Gradient(model=body, composite=composite) as attributor:
        _, relevance = attributor(normalized, lambda out: torch.eye(out.shape[1], dtype=out.dtype)[TARGET] * out)
    return relevance


def one_rule(rule) -> LayerMapComposite:
    return LayerMapComposite(
        layer_map=[(Activation, Pass()), (AvgPool, Norm()), (Convolution, rule), (nn.Linear, rule)],
        canonizers=[SequentialMergeBatchNorm()],
    )


@pytest.fixture(scope="module")
def model():
    return oracle_cnn()


@pytest.fixture(scope="module")
def x():
    return oracle_images()


@pytest.mark.parametrize(
    "options, reference",
    [
        ({"rule": "epsilon", "epsilon": 1e-6}, lambda: one_rule(Epsilon(1e-6))),
        ({"rule": "epsilon", "epsilon": 0.05}, lambda: one_rule(Epsilon(0.05))),
        ({"rule": "gamma", "gamma": 0.25}, lambda: one_rule(Gamma(0.25))),
        ({"rule": "gamma", "gamma": 1.0}, lambda: one_rule(Gamma(1.0))),
        ({"rule": "alpha1beta0"}, lambda: one_rule(ZPlus())),
        ({"composite": "epsilon_plus"}, lambda: EpsilonPlus(canonizers=[SequentialMergeBatchNorm()])),
    ],
    ids=["epsilon-1e-6", "epsilon-0.05", "gamma-0.25", "gamma-1", "zplus", "epsilon_plus"],
)
def test_rules_match_zennit(model, x, options, reference):
    # Zennit's BatchNorm merge leaves a factor 1/sqrt(1 + eps_BN) behind, hence 1e-4 and not 1e-6
    assert relative_error(lrp(model, x, TARGET, **options), zennit_relevance(model, x, reference())) <= 1e-4


def test_epsilon_gamma_box_matches_zennit(model, x):
    low, high = model[0](torch.zeros_like(x[:1])), model[0](torch.ones_like(x[:1]))  # zB bounds through Normalize
    composite = EpsilonGammaBox(low=low, high=high, canonizers=[SequentialMergeBatchNorm()])
    ours = lrp(model, x, TARGET, composite="epsilon_gamma_box")
    assert relative_error(ours, zennit_relevance(model, x, composite)) <= 1e-4


def test_lrp_zero_is_gradient_times_input_for_relu_nets(x):
    model = oracle_cnn(normalize=False, batchnorm=False)
    assert relative_error(lrp(model, x, TARGET, rule="zero"), input_x_gradient(model, x, TARGET)) <= 1e-10


def test_lrp_zero_without_biases_conserves_the_logit_exactly(x):
    model = oracle_cnn(bias=False, batchnorm=False)
    with torch.no_grad():
        logit = model(x)[range(4), TARGET]
    for name, total in conservation(model, x, TARGET, rule="zero").items():
        assert torch.allclose(total, logit, rtol=1e-10, atol=1e-14), name


def test_conservation_reports_every_layer(model, x):
    sums = conservation(model, x, TARGET, composite="epsilon_gamma_box")
    names = list(sums)
    assert names[0] == "0: pixels" and "LRP-zbox" in names[1] and "LRP-gamma" in names[4]
    assert "LRP-epsilon" in names[-1]
    with torch.no_grad():
        logit = model(x)[range(4), TARGET]
    assert torch.allclose(sums[names[-1]], logit)  # relevance starts as the target logit
    assert torch.allclose(sums[names[0]], lrp(model, x, TARGET, composite="epsilon_gamma_box").flatten(1).sum(1))


def test_batchnorm_is_folded_into_the_convolution(model, x):
    """Folding BatchNorm by hand gives the same relevance (and the same logits)."""
    folded = copy.deepcopy(model)
    conv, bn = folded[1], folded[2]
    with torch.no_grad():
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        conv.weight.mul_(scale.view(-1, 1, 1, 1))
        conv.bias.copy_((conv.bias - bn.running_mean) * scale + bn.bias)
    del folded[2]
    assert torch.allclose(folded(x), model(x))
    assert relative_error(lrp(model, x, TARGET, rule="gamma"), lrp(folded, x, TARGET, rule="gamma")) <= 1e-10


def test_lrp_on_the_zoo_model_is_finite_and_conserves_roughly():
    from helpers import zoo
    from helpers.data import fashion_mnist

    model = zoo.load("fmnist_cnn", device="cpu")
    images, labels = fashion_mnist("test")
    x, y = images[:16], labels[:16]
    for options in ({"rule": "epsilon"}, {"composite": "epsilon_gamma_box"}, {"composite": "epsilon_plus"}):
        relevance = lrp(model, x, y, **options)
        assert torch.isfinite(relevance).all() and relevance.shape == x.shape


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.Tanh(), nn.Flatten(), nn.Linear(200, 5)).double(),
         r"lrp has no rule for layer 1 \(Tanh\)"),
        (lambda: nn.Sequential(nn.Flatten(), nn.Linear(144, 5), nn.BatchNorm1d(5)).double(),
         r"lrp has no rule for layer 2 \(BatchNorm1d\)"),
        (lambda: nn.Sequential(nn.Flatten(), nn.Unflatten(1, (1, 12, 12)), nn.BatchNorm2d(1), nn.Flatten(),
                               nn.Linear(144, 5)).double(), "no rule for layer 1 \\(Unflatten\\)"),
    ],
)
def test_unsupported_layers_are_named(x, build, message):
    with pytest.raises(ValueError, match=message):
        lrp(build().eval(), x, TARGET)


def test_batchnorm_not_after_a_convolution_is_refused(x):
    model = nn.Sequential(Normalize((0.5,), (0.5,)), nn.BatchNorm2d(1), nn.Flatten(), nn.Linear(144, 5)).double().eval()
    with pytest.raises(ValueError, match="fold BatchNorm2d only right after a Conv2d"):
        lrp(model, x, TARGET)


@pytest.mark.parametrize(
    "options, message",
    [({"rule": "omega"}, "rule must be one of"), ({"composite": "best"}, "composite must be one of"),
     ({"epsilon": -1.0}, "epsilon must be ≥ 0"), ({"gamma": -0.5}, "gamma must be ≥ 0")],
)
def test_bad_options(model, x, options, message):
    with pytest.raises(ValueError, match=message):
        lrp(model, x, TARGET, **options)


def test_non_sequential_model_is_refused(x):
    class Net(nn.Module):
        def forward(self, x):
            return x.flatten(1)[:, :5]

    with pytest.raises(TypeError, match="lrp needs an nn.Sequential model"):
        lrp(Net(), x, 0)


def test_epsilon_step_is_lrp_on_a_dense_layer():
    """The lecture-notes formula for one layer agrees with lrp's backward pass on a one-layer model."""
    torch.manual_seed(0)
    layer = nn.Linear(6, 3).double()
    a = torch.rand(4, 6, dtype=torch.float64)
    model = nn.Sequential(nn.Flatten(), layer).eval()
    target = torch.tensor([0, 1, 2, 0])
    with torch.no_grad():
        relevance = torch.eye(3, dtype=torch.float64)[target] * layer(a)
    by_formula = epsilon_step(a, layer.weight.detach(), layer.bias.detach(), relevance, epsilon=0.1)
    by_lrp = lrp(model, a.view(4, 1, 1, 6), target, rule="epsilon", epsilon=0.1).view(4, 6)
    assert torch.allclose(by_formula, by_lrp, rtol=1e-12)
