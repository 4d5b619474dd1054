"""LRP against Zennit (float64), and the properties the lecture states."""

from __future__ import annotations

import copy
import importlib
import inspect
import pkgutil
from dataclasses import dataclass

import pytest
import torch
from torch import nn
from zennit import rules as zr
from zennit.attribution import Gradient
from zennit.canonizers import SequentialMergeBatchNorm
from zennit.composites import (
    EpsilonGammaBox,
    EpsilonPlus,
    EpsilonPlusFlat,
    LayerMapComposite,
    SpecialFirstLayerMapComposite,
    layer_map_base,
)
from zennit.torchvision import ResNetCanonizer, VGGCanonizer
from zennit.types import Activation, AvgPool, Convolution

import helpers.explain
from helpers.explain import conservation, epsilon_step, input_x_gradient, lrp, saliency
from helpers.explain.relevance import (
    COMPOSITES,
    NAMED,
    RULES,
    AlphaBeta,
    Composite,
    Epsilon,
    Gamma,
    Rule,
    ZBox,
    ZPlus,
    redistribute,
)
from helpers.models import Normalize
from tests.oracle_models import oracle_cnn, relative_error

TARGET = torch.tensor([0, 1, 2, 4])


def zennit_relevance(model: nn.Sequential, x: torch.Tensor, composite) -> torch.Tensor:
    """Zennit on the model after its Normalize layer, fed normalised images; output relevance
    one-hot × logit.

    (Relevance on normalised pixels is relevance on pixels: Normalize is an elementwise bijection.)
    """
    body, normalized = copy.deepcopy(model[1:]), model[0](x).detach()
    with Gradient(model=body, composite=composite) as attributor:
        _, relevance = attributor(normalized,
                                  lambda out: torch.eye(out.shape[1], dtype=out.dtype)[TARGET] * out)
    return relevance


def one_rule(rule) -> LayerMapComposite:
    return LayerMapComposite(
        layer_map=[(Activation, zr.Pass()), (AvgPool, zr.Norm()), (Convolution, rule), (nn.Linear, rule)],
        canonizers=[SequentialMergeBatchNorm()],
    )


@pytest.mark.parametrize(
    "options, reference",
    [
        ({"rule": "epsilon", "epsilon": 1e-6}, lambda: one_rule(zr.Epsilon(1e-6))),
        ({"rule": "epsilon", "epsilon": 0.05}, lambda: one_rule(zr.Epsilon(0.05))),
        ({"rule": "gamma", "gamma": 0.25}, lambda: one_rule(zr.Gamma(0.25))),
        ({"rule": "gamma", "gamma": 1.0}, lambda: one_rule(zr.Gamma(1.0))),
        ({"rule": "alpha1beta0"}, lambda: one_rule(zr.ZPlus())),
        ({"rule": "alpha2beta1"}, lambda: one_rule(zr.AlphaBeta(2.0, 1.0))),
        ({"rule": AlphaBeta(3.0, 2.0)}, lambda: one_rule(zr.AlphaBeta(3.0, 2.0))),
        ({"composite": "epsilon_plus"}, lambda: EpsilonPlus(canonizers=[SequentialMergeBatchNorm()])),
    ],
    ids=["epsilon-1e-6", "epsilon-0.05", "gamma-0.25", "gamma-1", "zplus", "alpha2beta1", "alpha3beta2",
         "epsilon_plus"],
)
def test_rules_match_zennit(model, x, options, reference):
    # Zennit's BatchNorm merge leaves a factor 1/sqrt(1 + eps_BN) behind, hence 1e-4 and not 1e-6
    assert relative_error(lrp(model, x, TARGET, **options), zennit_relevance(model, x, reference())) <= 1e-4


def test_alpha_beta_checks_its_parameters_and_alpha1beta0_is_zplus(model, x):
    """αβ conserves relevance only with α − β = 1 (Bach et al. 2015); α = 1, β = 0 is z⁺."""
    for alpha, beta in ((2.0, 0.5), (1.5, 1.0), (0.5, -0.5)):
        with pytest.raises(ValueError, match=r"alpha − beta must be 1|alpha must be|beta must be"):
            AlphaBeta(alpha, beta)
    ours = lrp(model, x, TARGET, rule=AlphaBeta(1.0, 0.0))
    assert relative_error(ours, lrp(model, x, TARGET, rule=ZPlus())) <= 1e-12
    assert NAMED["alpha2beta1"].build() == Composite([((nn.Conv2d, nn.Linear), AlphaBeta(2.0, 1.0))])
    plain = oracle_cnn(batchnorm=False)  # without Zennit's BatchNorm merge: equal up to rounding (9e-16)
    reference = zennit_relevance(plain, x, one_rule(zr.AlphaBeta(2.0, 1.0)))
    assert relative_error(lrp(plain, x, TARGET, rule="alpha2beta1"), reference) <= 1e-10


def test_epsilon_gamma_box_matches_zennit(model, x):
    # zB bounds through Normalize
    low, high = model[0](torch.zeros_like(x[:1])), model[0](torch.ones_like(x[:1]))
    composite = EpsilonGammaBox(low=low, high=high, canonizers=[SequentialMergeBatchNorm()])
    ours = lrp(model, x, TARGET, composite="epsilon_gamma_box")
    assert relative_error(ours, zennit_relevance(model, x, composite)) <= 1e-4


def test_lrp_zero_is_gradient_times_input_for_relu_nets(x):
    model = oracle_cnn(normalize=False, batchnorm=False)
    assert relative_error(lrp(model, x, TARGET, rule="zero"), input_x_gradient(model, x, TARGET)) <= 1e-10


def test_lrp_zero_after_normalize_is_gradient_times_centred_input(x):
    # LRP-0 starts from the normalised input a = (x − μ)/σ: a ⊙ ∂f/∂a = (x − μ) ⊙ ∂f/∂x, biases included
    model = oracle_cnn(batchnorm=False)
    centred = (x - model[0].mean) * saliency(model, x, TARGET, abs=False)
    assert relative_error(lrp(model, x, TARGET, rule="zero"), centred) <= 1e-10


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
    relevance = lrp(model, x, TARGET, composite="epsilon_gamma_box")
    assert torch.allclose(sums[names[0]], relevance.flatten(1).sum(1))


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
    with torch.no_grad():
        logit = model(x).gather(1, y[:, None]).squeeze(1)
    # measured Σ R(pixels) / logit on these 16 images: ε 0.62–1.72 (biases leak), the composites
    # 0.96–1.05
    bounds = {"epsilon": (0.5, 2.0), "epsilon_gamma_box": (0.9, 1.1), "epsilon_plus": (0.9, 1.1)}
    for options in ({"rule": "epsilon"}, {"composite": "epsilon_gamma_box"}, {"composite": "epsilon_plus"}):
        low, high = bounds[next(iter(options.values()))]
        relevance = lrp(model, x, y, **options)
        assert torch.isfinite(relevance).all() and relevance.shape == x.shape
        sums = list(conservation(model, x, y, **options).values())
        assert torch.allclose(sums[-1], logit, rtol=1e-5)  # the output cut holds the target logit
        assert torch.allclose(relevance.flatten(1).sum(1), sums[0], rtol=1e-4, atol=1e-4)
        ratio = relevance.flatten(1).sum(1) / logit
        assert bool(((ratio > low) & (ratio < high)).all()), (options, ratio.min().item(), ratio.max().item())


class NoRule(nn.Module):
    def forward(self, x):
        return x.flatten(1)[:, :5]


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.Tanh(), nn.Flatten(), nn.Linear(200, 5)),
         r"cannot propagate relevance through Tanh at '1'"),
        (lambda: nn.Sequential(nn.Flatten(), nn.Unflatten(1, (1, 12, 12)), nn.BatchNorm2d(1), nn.Flatten(),
                               nn.Linear(144, 5)), r"through Unflatten at '1'"),
        (NoRule, r"through getitem at node 'getitem'"),
        (lambda: nn.Sequential(nn.Conv2d(1, 1, 3), Normalize((0.5,), (0.5,)), nn.Flatten(),
                               nn.Linear(100, 5)),
         r"through Normalize at '1' \(a Normalize must be the first"),
    ],
    ids=["tanh", "unflatten", "slicing", "normalize-later"],
)
def test_unsupported_operations_are_named_before_computing(x, build, message):
    with pytest.raises(ValueError, match=message):
        lrp(build().double().eval(), x, TARGET)


def test_batchnorm_not_after_a_convolution_is_refused(x):
    model = nn.Sequential(Normalize((0.5,), (0.5,)), nn.BatchNorm2d(1), nn.Flatten(), nn.Linear(144, 5))
    model = model.double().eval()
    with pytest.raises(ValueError, match=r"fold BatchNorm only into a Conv2d .* at '1' follows Normalize"):
        lrp(model, x, TARGET)


def test_batchnorm1d_after_a_linear_layer_is_folded(x):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(144, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 5))
    model = model.double().eval()
    with torch.no_grad():
        model[2].running_mean.uniform_(-0.5, 0.5), model[2].running_var.uniform_(0.5, 2.0)
        scale = model[2].weight / torch.sqrt(model[2].running_var + model[2].eps)
        folded = nn.Sequential(nn.Flatten(), nn.Linear(144, 8), nn.ReLU(), nn.Linear(8, 5)).double().eval()
        folded[1].weight.copy_(model[1].weight * scale[:, None])
        folded[1].bias.copy_((model[1].bias - model[2].running_mean) * scale + model[2].bias)
        folded[3].load_state_dict(model[4].state_dict())
    assert torch.allclose(folded(x), model(x))
    assert relative_error(lrp(model, x, TARGET, rule="gamma"), lrp(folded, x, TARGET, rule="gamma")) <= 1e-10


@pytest.mark.parametrize(
    "options, message",
    [({"rule": "omega"}, "rule must be one of"), ({"composite": "best"}, "composite must be one of"),
     ({"epsilon": -1.0}, "epsilon must be ≥ 0"), ({"gamma": -0.5}, "gamma must be ≥ 0"),
     ({"rule": 3}, "rule must be an LRP rule"),
     ({"composite": Composite([(nn.Conv2d, Epsilon())])}, "the composite has no rule for the Linear '11'")],
)
def test_bad_options(model, x, options, message):
    with pytest.raises((TypeError, ValueError), match=message):
        lrp(model, x, TARGET, **options)


def test_composites_are_data_checked_when_built():
    with pytest.raises(ValueError, match=r"ZBox needs the pixels' bounds: give it as Composite\(first=...\)"):
        Composite([(nn.Conv2d, ZBox())])
    with pytest.raises(TypeError, match="a composite's key must be a layer type"):
        Composite([(3, Epsilon())])
    with pytest.raises(TypeError, match="a composite's rule must be an LRP rule"):
        Composite([(nn.Conv2d, "gamma")])
    with pytest.raises(ValueError, match="gamma must be ≥ 0"):
        Gamma(-1.0)


def test_a_composite_written_by_the_user_equals_the_named_one(model, x):
    """The names are shorthands for composites: the same list written out gives the same relevance; a rule
    given by module name (glob pattern) overrides the types after it."""
    mine = Composite([(nn.Conv2d, Gamma(0.25)), (nn.Linear, Epsilon(1e-6))], first=ZBox())
    named = lrp(model, x, TARGET, composite="epsilon_gamma_box")
    assert torch.equal(lrp(model, x, TARGET, composite=mine), named)
    assert torch.equal(lrp(model, x, TARGET, rule=Gamma(0.5)), lrp(model, x, TARGET, rule="gamma", gamma=0.5))
    by_name = Composite([("1[14]", Epsilon(0.5)), ((nn.Conv2d, nn.Linear), Epsilon(1e-6))])
    by_type = Composite([(nn.Linear, Epsilon(0.5)), (nn.Conv2d, Epsilon(1e-6))])
    assert torch.equal(lrp(model, x, TARGET, composite=by_name), lrp(model, x, TARGET, composite=by_type))
    assert not torch.equal(lrp(model, x, TARGET, composite=by_name), lrp(model, x, TARGET))


def test_a_model_fx_cannot_trace_is_refused_with_the_reason(x):
    class Branching(nn.Module):
        def forward(self, x):
            return x.flatten(1)[:, :5] if x.sum() > 0 else x.flatten(1)[:, 5:10]

    with pytest.raises(ValueError, match=r"lrp could not trace Branching.forward with torch.fx"):
        lrp(Branching(), x, 0)


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


# --- models with a graph: torchvision's ResNet and VGG against Zennit's canonizers, skips, concatenation ---


def randomized_batchnorm(model: nn.Module, seed: int = 0) -> nn.Module:
    """``model`` in float64 and eval mode, its BatchNorm statistics and affine parameters drawn at random;
    BatchNorm's eps made tiny, as Zennit's merge leaves a factor 1/√(1 + eps) per BatchNorm behind (20 of
    them in a ResNet-18)."""
    torch.manual_seed(seed)
    model = model.double().eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5), m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5), m.bias.uniform_(-0.2, 0.2)
                m.eps = 1e-12
    return model


@pytest.fixture(scope="module")
def resnet():
    from torchvision.models import resnet18

    torch.manual_seed(0)
    return randomized_batchnorm(resnet18(num_classes=10))


@pytest.fixture(scope="module")
def vgg():
    """torchvision's ``vgg11_bn`` with its convolutional trunk as it is and a smaller classifier (the
    4096-wide layers would take 800 MB in float64 for nothing the test needs): built on the meta device, then
    initialised."""
    from torchvision.models import vgg11_bn

    with torch.device("meta"):
        model = vgg11_bn(num_classes=10)
    model.classifier = nn.Sequential(nn.Linear(512 * 7 * 7, 32, device="meta"), nn.ReLU(True), nn.Dropout(),
                                     nn.Linear(32, 10, device="meta"))
    model = model.to_empty(device="cpu")
    torch.manual_seed(1)
    for m in model.modules():
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()
    for m in model.modules():  # reset_parameters leaves the running statistics of the meta device alone
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
    return randomized_batchnorm(model, seed=1)


@pytest.fixture(scope="module")
def images32():
    g = torch.Generator().manual_seed(2)
    return torch.rand(2, 3, 32, 32, generator=g, dtype=torch.float64)


def zennit_on(model: nn.Module, x: torch.Tensor, target: torch.Tensor, composite) -> torch.Tensor:
    with Gradient(model=copy.deepcopy(model), composite=composite) as attributor:
        _, relevance = attributor(x, lambda out: torch.eye(out.shape[1], dtype=out.dtype)[target] * out)
    return relevance


def zennit_composite(name: str, x: torch.Tensor, canonizer):
    """Zennit's composite for one of our names (pixels in [0, 1], the models without Normalize)."""
    if name == "epsilon":
        layer_map = layer_map_base() + [(Convolution, zr.Epsilon(1e-6)), (nn.Linear, zr.Epsilon(1e-6))]
        return LayerMapComposite(layer_map=layer_map, canonizers=[canonizer])
    if name == "epsilon_plus_flat":
        return EpsilonPlusFlat(canonizers=[canonizer])
    return EpsilonGammaBox(low=torch.zeros_like(x), high=torch.ones_like(x), canonizers=[canonizer])


CANONIZED = [  # (the fixture with the model, Zennit's canonizer for it, the targets, the rule or composite)
    ("resnet", ResNetCanonizer, [3, 7], "epsilon"),
    ("resnet", ResNetCanonizer, [3, 7], "epsilon_plus_flat"),
    ("resnet", ResNetCanonizer, [3, 7], "epsilon_gamma_box"),
    ("vgg", VGGCanonizer, [1, 8], "epsilon"),
    ("vgg", VGGCanonizer, [1, 8], "epsilon_gamma_box"),
]


@pytest.mark.parametrize(
    ("architecture", "canonizer", "target", "name"), CANONIZED, ids=[f"{a}-{n}" for a, _, _, n in CANONIZED]
)
def test_torchvision_model_matches_zennit_with_its_canonizer(request, images32, architecture, canonizer,
                                                              target, name):
    model = request.getfixturevalue(architecture)  # resnet18 or vgg11_bn
    target = torch.tensor(target)
    options = {"rule": name} if name == "epsilon" else {"composite": name}
    ours = lrp(model, images32, target, **options)
    reference = zennit_on(model, images32, target, zennit_composite(name, images32, canonizer()))
    assert relative_error(ours, reference) <= 1e-4


def test_torchvision_normalize_as_first_layer_is_the_model_normalize(resnet, images32):
    from torchvision.transforms import Normalize as TorchvisionNormalize

    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    theirs = nn.Sequential(TorchvisionNormalize(mean, std), resnet).eval()
    ours = nn.Sequential(Normalize(mean, std), resnet).double().eval()
    ours[0].mean, ours[0].std = (torch.tensor(v, dtype=torch.float64).view(1, 3, 1, 1) for v in (mean, std))
    for options in ({"composite": "epsilon_gamma_box"}, {"rule": "epsilon"}):
        expected = lrp(ours, images32, 3, **options)
        assert torch.allclose(lrp(theirs, images32, 3, **options), expected, rtol=1e-10)


class SkipSequential(nn.Sequential):
    """An ``nn.Sequential`` whose own ``forward`` adds a skip connection around its layers."""

    def forward(self, x):
        return torch.relu(super().forward(x) + x)


def skip_net(bias: bool = True) -> nn.Sequential:
    torch.manual_seed(3)
    return nn.Sequential(
        Normalize((0.3,), (0.4,)), nn.Conv2d(1, 4, 3, padding=1, bias=bias), nn.ReLU(),
        SkipSequential(nn.Conv2d(4, 4, 3, padding=1, bias=bias), nn.ReLU(),
                       nn.Conv2d(4, 4, 3, padding=1, bias=bias)),
        nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(16, 5, bias=bias),
    ).double().eval()


def test_a_sequential_subclass_with_a_skip_follows_its_forward(x):
    """Walking its children would ignore the skip (the issue's silent error); the traced graph has it: LRP-0
    equals gradient × input (without Normalize), and without biases every cut sums to the logit."""
    model = skip_net()[1:]
    assert relative_error(lrp(model, x, TARGET, rule="zero"), input_x_gradient(model, x, TARGET)) <= 1e-10
    walked = nn.Sequential(*model[:2], *model[2], *model[3:])  # the children one after the other
    assert relative_error(lrp(model, x, TARGET, rule="zero"), input_x_gradient(walked, x, TARGET)) > 0.1
    unbiased = skip_net(bias=False)
    with torch.no_grad():
        logit = unbiased(x)[range(4), TARGET]
    sums = conservation(unbiased, x, TARGET, rule="zero")
    assert "after add" in " ".join(sums) and "after Conv2d" not in list(sums)[3]  # the branch is not a cut
    for name, total in sums.items():
        assert torch.allclose(total, logit, rtol=1e-10, atol=1e-14), name


class DenseBlock(nn.Module):
    """A DenseNet-style block: each convolution sees the concatenation of everything before it."""

    def __init__(self, channels: int, growth: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, growth, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(channels + growth, growth, 3, padding=1, bias=False)

    def forward(self, x):
        x = torch.cat([x, torch.relu(self.conv1(x))], dim=1)
        return torch.cat([x, torch.relu(self.conv2(x))], dim=1)


def test_conservation_without_biases_on_a_residual_and_a_concatenating_net(x):
    from helpers.models import ResidualBlock

    torch.manual_seed(4)
    residual = nn.Sequential(Normalize((0.3,), (0.4,)), nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.ReLU(),
                             ResidualBlock(4, 4), ResidualBlock(4, 8, stride=2), nn.AdaptiveAvgPool2d(1),
                             nn.Flatten(), nn.Linear(8, 5, bias=False))
    for m in residual.modules():  # BatchNorm without a shift folds into convolutions without biases
        if isinstance(m, nn.BatchNorm2d):
            nn.init.uniform_(m.weight, 0.5, 1.5)
            m.running_var.uniform_(0.5, 2.0)
    dense = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.ReLU(), DenseBlock(4, 3),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(10 * 6 * 6, 5, bias=False))
    for model in (residual.double().eval(), dense.double().eval()):
        with torch.no_grad():
            logit = model(x)[range(4), TARGET]
        sums = conservation(model, x, TARGET, rule="zero")
        assert len(sums) >= 6
        for name, total in sums.items():
            assert torch.allclose(total, logit, rtol=1e-10, atol=1e-14), name
    plain = dense.double().eval()  # without Normalize, LRP-0 is gradient × input
    assert relative_error(lrp(plain, x, TARGET, rule="zero"), input_x_gradient(plain, x, TARGET)) <= 1e-10


def test_mobilenet_v2_is_explained_and_its_relevance_starts_as_the_logit(images32):
    """ReLU6, depthwise convolutions, BatchNorm after each, inverted residuals, functional pooling."""
    from torchvision.models import mobilenet_v2

    torch.manual_seed(5)
    model = randomized_batchnorm(mobilenet_v2(num_classes=10, width_mult=0.25), seed=5)
    sums = conservation(model, images32, TARGET[:2], composite="epsilon_gamma_box")
    with torch.no_grad():
        logit = model(images32)[range(2), TARGET[:2]]
    residual = sum(getattr(m, "use_res_connect", False) for m in model.modules())
    assert torch.allclose(list(sums.values())[-1], logit)
    assert sum("after add" in name for name in sums) == residual
    relevance = lrp(model, images32, TARGET[:2], composite="epsilon_gamma_box")
    assert relevance.shape == images32.shape and torch.isfinite(relevance).all()
    assert torch.allclose(relevance.flatten(1).sum(1), list(sums.values())[0])


# ------------------------------------------------------------------------- rules written outside helpers


@dataclass(frozen=True)
class WSquare(Rule):
    """The w² rule (Montavon et al. 2017), for a first layer whose inputs are unbounded: R_j =
    Σ_k w²_jk / Σ_j w²_jk · R_k — not a rule of the library: written here as a user would (Zennit squares
    the bias too, so it is done here as well)."""

    reads_pixels = True

    def __call__(self, layer, a, pixels=None):
        z_square = layer(pixels.ones, layer.weight**2, layer.bias**2)
        return redistribute(layer(a, layer.weight, layer.bias), [(z_square, None)], 1e-6)


@dataclass(frozen=True)
class MyEpsilon(Rule):
    """LRP-ε written by a user with the library's straight-through helper."""

    epsilon: float = 0.1

    def __call__(self, layer, a, pixels=None):
        z = layer(a, layer.weight, layer.bias)
        return redistribute(z, [(z, None)], self.epsilon)


def test_a_users_rule_works_in_lrp_and_in_composites(model, x):
    """Rules are an open set (as Zennit's): a subclass of ``Rule`` defined outside ``helpers`` is
    accepted by ``lrp``, ``conservation`` and ``Composite`` — here checked against Zennit's ``WSquare``."""
    mine = Composite([((nn.Conv2d, nn.Linear), Epsilon(1e-6))], first=WSquare())
    reference = SpecialFirstLayerMapComposite(
        layer_map=[(Activation, zr.Pass()), (AvgPool, zr.Norm()), (Convolution, zr.Epsilon(1e-6)),
                   (nn.Linear, zr.Epsilon(1e-6))],
        first_map=[(Convolution, zr.WSquare())], canonizers=[SequentialMergeBatchNorm()])
    ours = lrp(model, x, TARGET, composite=mine)
    assert relative_error(ours, zennit_relevance(model, x, reference)) <= 1e-4
    assert torch.equal(lrp(model, x, TARGET, rule=MyEpsilon(0.1)), lrp(model, x, TARGET, rule=Epsilon(0.1)))
    by_type = Composite([(nn.Conv2d, MyEpsilon(0.1)), (nn.Linear, Epsilon(0.1))])
    same = lrp(model, x, TARGET, rule="epsilon", epsilon=0.1)
    assert torch.equal(lrp(model, x, TARGET, composite=by_type), same)
    names = list(conservation(model, x, TARGET, composite=by_type))
    assert "LRP-MyEpsilon" in names[1] and "LRP-epsilon" in names[-1]
    with pytest.raises(ValueError, match=r"WSquare needs the pixels' bounds: give it as Composite\(first="):
        Composite([(nn.Conv2d, WSquare())])


@dataclass(frozen=True)
class BiasFreeEpsilon(Rule):
    """LRP-ε with the bias left out of the redistribution, R_j = Σ_k a_j w_jk / (z'_k + ε·sign(z'_k)) · R_k
    with z'_k = Σ_j a_j w_jk, so that a layer passes on all the relevance it receives — Zennit's
    ``Epsilon(zero_params="bias")``, not a rule of the library: written here as a user would."""

    epsilon: float = 1e-6
    name = "epsilon-nobias"

    def __post_init__(self):
        if not self.epsilon >= 0:
            raise ValueError(f"epsilon must be ≥ 0; got {self.epsilon}")

    def __call__(self, layer, a, pixels=None):
        z = layer(a, layer.weight, layer.bias)  # the value: the layer's true output
        return redistribute(z, [(layer(a, layer.weight), None)], self.epsilon)  # the gradient: without bias


def test_a_users_bias_free_rule_matches_zennit_in_lrp_and_in_a_composite(model, x):
    ours = lrp(model, x, TARGET, rule=BiasFreeEpsilon(0.1))
    reference = zennit_relevance(model, x, one_rule(zr.Epsilon(0.1, zero_params="bias")))
    assert relative_error(ours, reference) <= 1e-4
    mine = Composite([(nn.Conv2d, Gamma(0.25)), (nn.Linear, BiasFreeEpsilon(0.1))], first=ZBox())
    low, high = model[0](torch.zeros_like(x[:1])), model[0](torch.ones_like(x[:1]))
    theirs = SpecialFirstLayerMapComposite(
        layer_map=[(Activation, zr.Pass()), (AvgPool, zr.Norm()), (Convolution, zr.Gamma(0.25)),
                   (nn.Linear, zr.Epsilon(0.1, zero_params="bias"))],
        first_map=[(Convolution, zr.ZBox(low, high))], canonizers=[SequentialMergeBatchNorm()])
    assert relative_error(lrp(model, x, TARGET, composite=mine), zennit_relevance(model, x, theirs)) <= 1e-4
    every_layer = Composite([((nn.Conv2d, nn.Linear), BiasFreeEpsilon(0.0))])
    sums = conservation(model, x, TARGET, composite=every_layer)
    assert "LRP-epsilon-nobias" in list(sums)[1]
    with pytest.raises(ValueError, match="epsilon must be ≥ 0"):
        BiasFreeEpsilon(-1.0)


@pytest.mark.parametrize(
    "options, message",
    [({"rule": "zero", "composite": "epsilon_plus"}, r"rule would be ignored with composite='epsilon_plus'"),
     ({"composite": Composite([((nn.Conv2d, nn.Linear), Epsilon())]), "epsilon": 0.1, "gamma": 0.5},
      r"epsilon and gamma would be ignored with composite=Composite"),
     ({"composite": "epsilon_plus", "gamma": 0.5}, r"gamma would be ignored with composite='epsilon_plus'"),
     ({"rule": Gamma(0.5), "gamma": 0.5}, r"gamma would be ignored with rule=Gamma"),
     ({"rule": "zero", "epsilon": 0.1}, r"epsilon would be ignored with rule='zero'"),
     ({"gamma": 0.5}, r"gamma would be ignored with rule='epsilon'")],
    ids=["rule-with-composite", "numbers-with-a-Composite", "gamma-with-epsilon_plus", "gamma-with-a-rule",
         "epsilon-with-zero", "gamma-with-the-default-rule"],
)
def test_options_that_the_choice_would_ignore_are_refused(model, x, options, message):
    for function in (lrp, conservation):
        with pytest.raises(ValueError, match=message):
            function(model, x, TARGET, **options)


def test_a_named_composite_reads_its_epsilon_and_gamma(model, x):
    written = Composite([(nn.Conv2d, Gamma(0.5)), (nn.Linear, Epsilon(0.1))], first=ZBox())
    named = lrp(model, x, TARGET, composite="epsilon_gamma_box", epsilon=0.1, gamma=0.5)
    assert torch.equal(named, lrp(model, x, TARGET, composite=written))


def test_one_table_of_names():
    assert set(RULES) | set(COMPOSITES) == set(NAMED) and not set(RULES) & set(COMPOSITES)
    assert "alpha2beta1" in RULES


def test_no_function_of_helpers_explain_hides_a_module():
    """``import helpers.explain.X as m`` binds attribute X of the package: a function named like a module
    would hide it (as ``lrp`` and ``spray`` once did). The LRP package is ``helpers.explain.relevance``."""
    for info in pkgutil.iter_modules(helpers.explain.__path__):
        if hasattr(helpers.explain, info.name):
            assert inspect.ismodule(getattr(helpers.explain, info.name)), info.name
    import helpers.explain.relevance as package
    import helpers.explain.spectral as spectral

    assert inspect.ismodule(package) and inspect.ismodule(spectral)
    assert helpers.explain.lrp is package.lrp and inspect.isfunction(helpers.explain.spray)
    assert importlib.util.find_spec("helpers.explain.lrp") is None
