"""Attribution speed against Captum and Zennit on the zoo CNN, a batch of 64 Fashion-MNIST images (LRP also on
the residual ``fmnist_resnet``, whose blocks Zennit explains through canonizers written here as its own
``ResNetCanonizer`` does for torchvision's blocks).

    python -m benchmarks.bench_explain [--device cpu|cuda]

Same model, same inputs, same settings; outputs are checked equal before anything is timed. SmoothGrad's
noise level: ours is a fraction of each image's value range, Captum's ``stdevs`` the absolute σ; these test
images span [0, 1] (to within one grey level), so 0.15 means the same σ to both.
"""

from __future__ import annotations

import copy
import warnings

import torch
from captum.attr import IntegratedGradients, NoiseTunnel, Saliency
from zennit.attribution import Gradient
from zennit.canonizers import AttributeCanonizer, SequentialMergeBatchNorm
from zennit.composites import EpsilonGammaBox, LayerMapComposite, layer_map_base
from zennit.layer import Sum
from zennit.rules import Epsilon, Norm, Pass
from zennit.types import Activation, AvgPool, Convolution

from benchmarks.harness import check_close, cli, compare
from helpers import zoo
from helpers.data import fashion_mnist
from helpers.explain import integrated_gradients, lrp, saliency, smoothgrad
from helpers.models import ResidualBlock

warnings.filterwarnings("ignore", message="Input Tensor 0 did not already require gradients")


def zennit_lrp(model, x, target, composite):
    body, normalized = copy.deepcopy(model[1:]), model[0](x)
    with Gradient(model=body, composite=composite) as attributor:
        one_hot = torch.eye(10, device=normalized.device, dtype=normalized.dtype)[target]
        _, relevance = attributor(normalized, lambda out: one_hot * out)
    return relevance


class ResidualBlockCanonizer(AttributeCanonizer):
    """``ResidualBlock`` as Zennit's ``ResNetCanonizer`` treats torchvision's ``BasicBlock``: the addition
    becomes a ``Sum`` module, so that Zennit's composites give it their ``Norm`` rule."""

    def __init__(self) -> None:
        def attributes(name, module):
            if isinstance(module, ResidualBlock):
                return {"forward": self.forward.__get__(module), "canonizer_sum": Sum()}
            return None

        super().__init__(attributes)

    @staticmethod
    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(self.canonizer_sum(torch.stack([self.shortcut(x), out], dim=-1)))


def resnet_canonizers() -> list:
    """BatchNorm merged into the convolution registered before it (in the blocks too), sums made explicit."""
    return [SequentialMergeBatchNorm(), ResidualBlockCanonizer()]


def run(device: torch.device) -> list:
    model = zoo.load("fmnist_cnn", device=device)
    images, labels = fashion_mnist("test")
    x, y = images[:64].to(device), labels[:64].to(device)
    low, high = model[0](torch.zeros_like(x[:1])), model[0](torch.ones_like(x[:1]))
    epsilon_only = LayerMapComposite([(Activation, Pass()), (AvgPool, Norm()), (Convolution, Epsilon(1e-6)),
                                      (torch.nn.Linear, Epsilon(1e-6))])
    egb = EpsilonGammaBox(low=low, high=high, canonizers=[SequentialMergeBatchNorm()])
    g = torch.Generator(device=device)
    cases = [
        ("saliency", lambda: saliency(model, x, y), lambda: Saliency(model).attribute(x, target=y), 1e-5),
        ("integrated_gradients, 50 steps", lambda: integrated_gradients(model, x, y, steps=50),
         lambda: IntegratedGradients(model).attribute(x, target=y, n_steps=50), 1e-4),
        # the noise differs between the two, so the outputs are compared at σ = 0 (below), not timed there:
        # at σ = 0 ours computes one gradient instead of 50 identical ones, which would flatter it
        ("smoothgrad, 50 samples, σ = 0.15",
         lambda: smoothgrad(model, x, y, n=50, generator=g.manual_seed(0)),
         lambda: NoiseTunnel(Saliency(model)).attribute(x, target=y, nt_samples=50, stdevs=0.15), None),
        ("lrp ε",
         lambda: lrp(model, x, y, rule="epsilon"), lambda: zennit_lrp(model, x, y, epsilon_only), 1e-4),
        ("lrp ε-γ-box", lambda: lrp(model, x, y, composite="epsilon_gamma_box"),
         lambda: zennit_lrp(model, x, y, egb), 1e-4),
    ]
    resnet = zoo.load("fmnist_resnet", device=device)
    for m in resnet.modules():  # Zennit's BatchNorm merge leaves a factor 1/√(1 + eps) behind: make it 1
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eps = 1e-12
    resnet_epsilon = LayerMapComposite(
        layer_map_base() + [(Convolution, Epsilon(1e-6)), (torch.nn.Linear, Epsilon(1e-6))],
        canonizers=resnet_canonizers())
    resnet_egb = EpsilonGammaBox(low=low, high=high, canonizers=resnet_canonizers())
    cases += [
        ("lrp ε, fmnist_resnet", lambda: lrp(resnet, x, y, rule="epsilon"),
         lambda: zennit_lrp(resnet, x, y, resnet_epsilon), 1e-4),
        ("lrp ε-γ-box, fmnist_resnet", lambda: lrp(resnet, x, y, composite="epsilon_gamma_box"),
         lambda: zennit_lrp(resnet, x, y, resnet_egb), 1e-4),
    ]
    check_close("smoothgrad at σ = 0", smoothgrad(model, x, y, n=50, noise_level=0.0),
                NoiseTunnel(Saliency(model)).attribute(x, target=y, nt_samples=50, stdevs=0.0), 1e-5)
    timings = []
    for name, ours, theirs, rtol in cases:
        if rtol is not None:
            check_close(name, ours(), theirs(), rtol)
        timings.append(compare(name, ours, theirs, device=device))
    return timings


if __name__ == "__main__":
    cli(run, __doc__, "Captum / Zennit")
