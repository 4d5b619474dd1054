"""Layer-wise relevance propagation (Bach et al. 2015; Montavon et al. 2019, "LRP: an overview").

Relevance starts at the output as the target logit, R = one-hot(c) · f(x), and flows back layer by
layer. Through a linear layer (``Conv2d`` or ``Linear``, z_k = Σ_j a_j w_jk + b_k) a rule sends it to
the inputs in proportion to their contributions:

    LRP-0        R_j = Σ_k a_j w_jk / z_k · R_k
    LRP-ε        R_j = Σ_k a_j w_jk / (z_k + ε·sign(z_k)) · R_k          (sign(0) = +1)
    LRP-γ        as LRP-0 with w → w + γw⁺ and b → b + γb⁺ where z_k > 0 (w + γw⁻, b + γb⁻ where z_k < 0;
                 Zennit's generalised ``Gamma``, which splits a_j into its positive and negative parts)
    LRP-z⁺       (α1β0) as LRP-0 with only positive contributions: a⁺w⁺ (+ b⁺) and a⁻w⁻ (Zennit's ``ZPlus``)
    zᴮ (first)   R_j = Σ_k (a_j w_jk − l_j w⁺_jk − h_j w⁻_jk) / Σ_j (…) · R_k   for pixels in [l, h]

ReLU, ``Flatten`` and ``Dropout`` (eval) pass relevance on unchanged, max pooling gives it to the
winner, average pooling shares it in proportion (with a 1e-6 stabiliser, as Zennit's ``Norm``,
except under pure LRP-0, where it is exact).
``BatchNorm2d`` after a convolution is folded into it, and the model's ``Normalize`` layer is applied
to the input first: relevance on normalised pixels is relevance on pixels, and the zᴮ bounds 0 and 1
become (0 − mean)/std and (1 − mean)/std.

**Implementation.** One forward pass and one backward pass, as in Zennit. Each linear layer's output
is computed so that its *value* is the ordinary output z while its *gradient* is the rule's:

    y = z + Σ_t (z_t − [z_t]) · [m_t z / stab(z_t)]          ([·] = detached)

where z_t are the rule's modified forward passes (γ: four, z⁺: two) and m_t select the outputs
they serve. The relevance of every layer's input is then a ⊙ ∂(one-hot · y_out)/∂a — the rule's
redistribution written as "gradient × input", which is why LRP-0 equals gradient × input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from helpers._checks import check_choice, check_images, check_model, check_positive
from helpers.explain._core import attribution
from helpers.models import Normalize

RULES = ("zero", "epsilon", "gamma", "alpha1beta0", "zbox")
COMPOSITES = ("epsilon_gamma_box", "epsilon_plus")
STABILIZER = 1e-6  # the stabiliser of the γ, z⁺, zᴮ and pooling rules (Zennit's default)

_PASS_THROUGH = (nn.ReLU, nn.MaxPool2d, nn.Flatten, nn.Dropout)
_POOLS = (nn.AvgPool2d, nn.AdaptiveAvgPool2d)


@dataclass
class _Linear:
    """A Conv2d or Linear layer with BatchNorm folded in: y = op(a, weight) + bias."""

    layer: nn.Conv2d | nn.Linear
    weight: torch.Tensor
    bias: torch.Tensor

    def __call__(self, a: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | float = 0.0) -> torch.Tensor:
        if isinstance(self.layer, nn.Conv2d):
            out = self.layer._conv_forward(a, weight, None)
            return out + (bias.view(1, -1, 1, 1) if isinstance(bias, torch.Tensor) else bias)
        return F.linear(a, weight) + bias


def _stabilize(z: torch.Tensor, eps: float) -> torch.Tensor:
    return z + eps * torch.where(z >= 0, 1.0, -1.0).to(z)


def _canonize(model: nn.Module) -> tuple[Normalize | None, list[tuple[str, nn.Module | _Linear]]]:
    """The model as a flat list of steps, with BatchNorm folded into the convolution before it."""
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"lrp needs an nn.Sequential model whose layers it can walk; got {type(model).__name__}")

    def leaves(module: nn.Module):
        for child in module.children():
            yield from leaves(child) if isinstance(child, nn.Sequential) else [child]

    layers = list(leaves(model))
    normalize = layers.pop(0) if layers and isinstance(layers[0], Normalize) else None
    steps: list[tuple[str, nn.Module | _Linear]] = []
    for index, layer in enumerate(layers):
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            bias = layer.bias if layer.bias is not None else layer.weight.new_zeros(layer.weight.shape[0])
            steps.append(("linear", _Linear(layer, layer.weight, bias)))
        elif isinstance(layer, nn.BatchNorm2d):
            if not steps or steps[-1][0] != "linear" or not isinstance(steps[-1][1].layer, nn.Conv2d):
                raise ValueError(f"lrp can fold BatchNorm2d only right after a Conv2d; layer {index} follows another layer")
            conv = steps[-1][1]
            scale = layer.weight / torch.sqrt(layer.running_var + layer.eps)
            steps[-1] = ("linear", _Linear(conv.layer, conv.weight * scale.view(-1, 1, 1, 1),
                                           (conv.bias - layer.running_mean) * scale + layer.bias))
        elif isinstance(layer, _PASS_THROUGH):
            steps.append(("pass", layer))
        elif isinstance(layer, _POOLS):
            steps.append(("pool", layer))
        else:
            raise ValueError(
                f"lrp has no rule for layer {index + (normalize is not None)} ({type(layer).__name__}); supported: "
                "Normalize (first), Conv2d, Linear, BatchNorm2d after Conv2d, ReLU, MaxPool2d, AvgPool2d, "
                "AdaptiveAvgPool2d, Flatten, Dropout"
            )
    return normalize, steps


def _redistribute(z: torch.Tensor, terms: list[tuple[torch.Tensor, torch.Tensor | None]]) -> torch.Tensor:
    """Output with the value z and the gradient Σ_t ∂z_t/∂a · (m_t z / stab(z_t)) — see the module docstring."""
    out = z.detach()
    for z_t, mask in terms:
        factor = z / _stabilize(z_t, STABILIZER) if mask is None else mask * z / _stabilize(z_t, STABILIZER)
        out = out + (z_t - z_t.detach()) * factor.detach()
    return out


def _epsilon(lin: _Linear, a: torch.Tensor, epsilon: float) -> torch.Tensor:
    z = lin(a, lin.weight, lin.bias)
    return z.detach() + (z - z.detach()) * (z / _stabilize(z, epsilon)).detach()


def _gamma(lin: _Linear, a: torch.Tensor, gamma: float) -> torch.Tensor:
    w, b = lin.weight, lin.bias
    up_w, up_b = w + gamma * w.clamp(min=0), b + gamma * b.clamp(min=0)
    down_w, down_b = w + gamma * w.clamp(max=0), b + gamma * b.clamp(max=0)
    pos, neg = a.clamp(min=0), a.clamp(max=0)
    z = lin(a, w, b)
    z_up = lin(pos, up_w, up_b) + lin(neg, down_w)  # evidence for a positive output
    z_down = lin(pos, down_w, down_b) + lin(neg, up_w)  # evidence for a negative output
    return _redistribute(z, [(z_up, (z > 0).to(z)), (z_down, (z < 0).to(z))])


def _zplus(lin: _Linear, a: torch.Tensor) -> torch.Tensor:
    w, b = lin.weight, lin.bias
    z_plus = lin(a.clamp(min=0), w.clamp(min=0), b.clamp(min=0)) + lin(a.clamp(max=0), w.clamp(max=0))
    return _redistribute(lin(a, w, b), [(z_plus, None)])


def _zbox(lin: _Linear, a: torch.Tensor, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    w, b = lin.weight, lin.bias
    z_box = lin(a, w, b) - lin(low, w.clamp(min=0), b.clamp(min=0)) - lin(high, w.clamp(max=0), b.clamp(max=0))
    return _redistribute(lin(a, w, b), [(z_box, None)])


def _layer_rules(steps: list, rule: str, composite: str | None) -> list[str]:
    """The rule of each linear step, from ``rule`` or from ``composite``."""
    linear = [i for i, (kind, _) in enumerate(steps) if kind == "linear"]
    rules = {}
    for position, i in enumerate(linear):
        is_conv = isinstance(steps[i][1].layer, nn.Conv2d)
        if composite == "epsilon_gamma_box":
            rules[i] = "zbox" if position == 0 else ("gamma" if is_conv else "epsilon")
        elif composite == "epsilon_plus":
            rules[i] = "alpha1beta0" if is_conv else "epsilon"
        else:
            rules[i] = rule if rule != "zbox" or position == 0 else "epsilon"
    return [rules.get(i, kind) for i, (kind, _) in enumerate(steps)]


def _propagate(
    model: nn.Module, x: torch.Tensor, target: torch.Tensor, *, rule: str, epsilon: float, gamma: float,
    composite: str | None, every_layer: bool = False,
) -> list[torch.Tensor]:
    """The relevance map on the pixels; with ``every_layer``, also after every layer up to the output (see
    ``_layer_names``). Only the maps asked for are formed: ``lrp`` pays for one forward and one backward pass."""
    check_choice(rule, "rule", RULES)
    if composite is not None:
        check_choice(composite, "composite", COMPOSITES)
    check_positive(epsilon, "epsilon", allow_zero=True)
    check_positive(gamma, "gamma", allow_zero=True)
    normalize, steps = _canonize(model)
    rules = _layer_rules(steps, rule, composite)

    a0 = (normalize(x) if normalize is not None else x).detach().requires_grad_(True)
    box = "zbox" in rules  # zᴮ differentiates through the pixel bounds too
    low = (normalize(torch.zeros_like(x)) if normalize is not None else torch.zeros_like(x)).requires_grad_(box)
    high = (normalize(torch.ones_like(x)) if normalize is not None else torch.ones_like(x)).requires_grad_(box)
    inputs, a = [a0], a0
    exact = rule == "zero" and composite is None
    forward: dict[str, Callable[[_Linear, torch.Tensor], torch.Tensor]] = {
        "zero": lambda lin, a: lin(a, lin.weight, lin.bias),
        "epsilon": lambda lin, a: _epsilon(lin, a, epsilon),
        "gamma": lambda lin, a: _gamma(lin, a, gamma),
        "alpha1beta0": _zplus,
        "zbox": lambda lin, a: _zbox(lin, a, low, high),
    }
    for (kind, step), step_rule in zip(steps, rules):
        if kind == "linear":
            a = forward[step_rule](step, a)
        elif kind == "pool" and exact:  # LRP-0: proportional sharing is exactly the gradient
            a = step(a)
        elif kind == "pool":
            z = step(a)
            a = z.detach() + (z - z.detach()) * (z / _stabilize(z, STABILIZER)).detach()
        else:
            a = step(a)
        if every_layer:
            inputs.append(a)
    selected = a.gather(1, target[:, None])
    grads = torch.autograd.grad(selected.sum(), [*inputs, *((low, high) if box else ())])
    relevances = [(t * g).detach() for t, g in zip(inputs, grads)]
    if box:  # zᴮ: the bounds' share belongs to the pixels
        relevances[0] = relevances[0] + (low * grads[-2] + high * grads[-1]).detach()
    return relevances


@attribution
def lrp(
    model: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    *,
    rule: str = "epsilon",
    epsilon: float = 1e-6,
    gamma: float = 0.25,
    composite: str | None = None,
) -> torch.Tensor:
    """LRP relevance of every pixel for the target logit (see the module docstring for the rules).

    ``rule`` applies to every ``Conv2d`` and ``Linear`` layer (``"zbox"``: zᴮ on the first layer,
    ε on the others). ``composite`` overrides it: ``"epsilon_gamma_box"`` = zᴮ on the first layer,
    γ on the other convolutions, ε on linear layers (Zennit's ``EpsilonGammaBox``);
    ``"epsilon_plus"`` = z⁺ on convolutions, ε on linear layers (Zennit's ``EpsilonPlus``).
    """
    return _propagate(model, x, target, rule=rule, epsilon=epsilon, gamma=gamma, composite=composite)[0]


def conservation(
    model: nn.Module,
    x: torch.Tensor,
    target: int | torch.Tensor,
    *,
    rule: str = "epsilon",
    epsilon: float = 1e-6,
    gamma: float = 0.25,
    composite: str | None = None,
) -> dict[str, torch.Tensor]:
    """Total relevance Σ R per image after every layer, from the pixels up to the output.

    Keys are ``"0: pixels"``, ``"1: after Conv2d (LRP-epsilon)"``, …, the last being the output,
    where the relevance is the target logit; each value is a tensor of shape N. With perfect
    conservation every entry equals the target logit; biases, ε and the stabilisers let some
    relevance leak (or enter), which this makes visible layer by layer.
    """
    check_model(model)
    check_images(x, model=model)
    names = _layer_names(model, rule, composite)
    sums = _layer_sums(model, x, target, rule=rule, epsilon=epsilon, gamma=gamma, composite=composite)
    return dict(zip(names, sums.unbind(1)))


def _layer_names(model: nn.Module, rule: str, composite: str | None) -> list[str]:
    _, steps = _canonize(model)
    rules = _layer_rules(steps, rule, composite)
    names = ["pixels"] + [
        f"after {type(step.layer).__name__} (LRP-{r})" if kind == "linear" else f"after {type(step).__name__}"
        for (kind, step), r in zip(steps, rules)
    ]
    return [f"{i}: {name}" for i, name in enumerate(names)]


@attribution
def _layer_sums(model: nn.Module, x: torch.Tensor, target: torch.Tensor, **options) -> torch.Tensor:
    return torch.stack([r.flatten(1).sum(1) for r in _propagate(model, x, target, every_layer=True, **options)], dim=1)


__all__ = ["lrp", "conservation", "epsilon_step", "RULES", "COMPOSITES"]


def epsilon_step(
    a: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, relevance: torch.Tensor, epsilon: float = 1e-6
) -> torch.Tensor:
    """One LRP-ε step through a dense layer z = a Wᵀ + b, written out as in the lecture notes:

        R_j = Σ_k a_j w_kj / (z_k + ε·sign(z_k)) · R_k        (sign(0) = +1)

    ``a``: inputs N×J, ``weight``: K×J (``nn.Linear`` layout), ``bias``: K, ``relevance``: N×K.
    Returns the input relevance N×J. ``lrp`` computes the same by one backward pass.
    """
    for name, value, dims in (("a", a, 2), ("weight", weight, 2), ("bias", bias, 1), ("relevance", relevance, 2)):
        if not isinstance(value, torch.Tensor) or value.dim() != dims:
            got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise ValueError(f"{name} must be a {dims}-dimensional tensor; got {got}")
    n, j, k = a.shape[0], a.shape[1], weight.shape[0]
    for name, value, shape in (("weight", weight, (k, j)), ("bias", bias, (k,)), ("relevance", relevance, (n, k))):
        if tuple(value.shape) != shape:
            raise ValueError(f"{name} must have shape {shape} to match a {tuple(a.shape)}; got "
                             f"{tuple(value.shape)}")
    for name, value in (("a", a), ("weight", weight), ("bias", bias), ("relevance", relevance)):
        if not value.is_floating_point() or value.dtype != a.dtype or not bool(torch.isfinite(value).all()):
            raise ValueError(f"{name} must be a finite float tensor of a's dtype {a.dtype}")
    check_positive(epsilon, "epsilon", allow_zero=True)
    z = a @ weight.T + bias  # N×K
    s = relevance / _stabilize(z, epsilon)  # N×K
    return a * (s @ weight)  # N×J: a_j Σ_k w_kj s_k
