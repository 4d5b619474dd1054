"""Layer-wise relevance propagation (Bach et al. 2015; Montavon et al. 2019, "LRP: an overview").

Relevance starts at the output as the target logit, R = one-hot(c) · f(x), and flows back through the
model's graph. Through a linear layer (``Conv2d`` or ``Linear``, z_k = Σ_j a_j w_jk + b_k) a **rule**
sends it to the inputs in proportion to their contributions:

    LRP-0        R_j = Σ_k a_j w_jk / z_k · R_k                                   ``Zero()``
    LRP-ε        R_j = Σ_k a_j w_jk / (z_k + ε·sign(z_k)) · R_k   (sign(0) = +1)  ``Epsilon(ε)``
    LRP-γ        as LRP-0 with w → w + γw⁺ and b → b + γb⁺ where z_k > 0 (w + γw⁻, b + γb⁻
                 where z_k < 0; Zennit's generalised ``Gamma``, which splits a_j into its
                 positive and negative parts)                                       ``Gamma(γ)``
    LRP-z⁺       (α1β0) as LRP-0 with only positive contributions: a⁺w⁺ (+ b⁺) and a⁻w⁻
                                                                                    ``ZPlus()``
    zᴮ           R_j = Σ_k (a_j w_jk − l_j w⁺_jk − h_j w⁻_jk) / Σ_j (…) · R_k, pixels in [l, h]
                                                                                    ``ZBox()``
    flat         R_j = Σ_k 1 / Σ_j 1 · R_k (each output's relevance spread evenly over its
                 receptive field)                                                   ``Flat()``

A **composite** is data: a list of (layer type or module name → rule) pairs, the first match giving a
layer its rule, plus the rule of the layers that read the pixels (zᴮ and flat need the pixels' bounds)::

    Composite([(nn.Conv2d, Gamma(0.25)), (nn.Linear, Epsilon())], first=ZBox())   # = "epsilon_gamma_box"
    Composite([("classifier.*", Epsilon(0.25)), (nn.Conv2d, ZPlus())])          # by name, glob patterns

The rest of the graph needs no choice. ReLU-family activations (PReLU included: f(a) = a·s with a slope
s per channel and side of 0, so a·f'(a) = f(a)) and ``Dropout`` pass relevance on unchanged
(R_in = R_out), max pooling gives it to the winner, ``Flatten``/``view`` reshape it, concatenation hands
each input its slice. Additions (residual connections) and average pools (also
``mean``) split it in proportion to their inputs' contributions, R_i = x_i / (Σ x + ε·sign) · R, with the
composite's ``stabilizer`` (Zennit's ``Norm`` rule on its canonized ``Sum``; exactly under LRP-0).
``BatchNorm`` is folded into the ``Conv2d``/``Linear`` right before it, wherever it sits; a ``Normalize``
that the model applies to its input first is applied to x (relevance on normalised pixels is relevance
on pixels, and the bounds of zᴮ become (0 − mean)/std and (1 − mean)/std). Anything else on the way
from the input to the logits is refused before anything is computed, naming the operation and where
it is. The graph comes from ``torch.fx``, so a model with its own ``forward`` is followed as it runs.

**Implementation.** One forward pass and one backward pass, as in Zennit. Each step's output is
computed so that its *value* is the ordinary output z while its *gradient* is the rule's:

    y = z + Σ_t (z_t − [z_t]) · [m_t z / stab(z_t)]          ([·] = detached)

where z_t are the rule's modified forward passes (γ: four, z⁺: two, pass-through: the input itself)
and m_t select the outputs they serve. The relevance of every tensor a is then
a ⊙ ∂(one-hot · y_out)/∂a — the rule's redistribution written as "gradient × input", which is why
LRP-0 equals gradient × input.
"""

from __future__ import annotations

import fnmatch
import operator
import weakref
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.fx
import torch.nn.functional as F
from torch import nn

from helpers._checks import (
    check_bool,
    check_choice,
    check_images,
    check_model,
    check_number,
    check_positive,
    frozen,
    shape_or_type,
)
from helpers._contract import check_finite, checked
from helpers.explain._core import attribution
from helpers.models import Normalize

STABILIZER = 1e-6  # the stabiliser of the γ, z⁺, zᴮ and flat rules, of sums and pools (Zennit's default)
LINEAR = (nn.Conv2d, nn.Linear)


def _stabilize(z: torch.Tensor, eps: float) -> torch.Tensor:
    return z + eps * torch.where(z >= 0, 1.0, -1.0).to(z)


Terms = list[tuple[torch.Tensor, torch.Tensor | None]]


def _redistribute(z: torch.Tensor, terms: Terms, eps: float) -> torch.Tensor:
    """The straight-through trick, written once: a tensor with the value z and the gradient
    Σ_t ∂z_t/∂a · (m_t z / stab(z_t)) — see the module docstring. A zero denominator passes
    nothing."""
    out = z.detach()
    for z_t, mask in terms:
        denominator = _stabilize(z_t, eps)
        factor = z / denominator if eps > 0 else torch.where(denominator == 0, 0.0, z / denominator)
        out = out + (z_t - z_t.detach()) * (factor if mask is None else mask * factor).detach()
    return out


# ----------------------------------------------------------------------------------------------- rules

class _Affine:
    """A Conv2d or Linear layer with the BatchNorm after it folded in: z = op(a, weight) + bias."""

    def __init__(self, layer: nn.Conv2d | nn.Linear, batchnorm: nn.Module | None) -> None:
        self.layer = layer
        self.weight = layer.weight
        self.bias = layer.bias if layer.bias is not None else layer.weight.new_zeros(layer.weight.shape[0])
        if batchnorm is not None:
            scale = torch.rsqrt(batchnorm.running_var + batchnorm.eps)
            shift = batchnorm.bias if batchnorm.bias is not None else 0.0
            if batchnorm.weight is not None:
                scale = scale * batchnorm.weight
            self.weight = self.weight * scale.view(-1, *[1] * (self.weight.dim() - 1))
            self.bias = (self.bias - batchnorm.running_mean) * scale + shift

    def __call__(self, a: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None
                 ) -> torch.Tensor:
        if isinstance(self.layer, nn.Conv2d):
            out = self.layer._conv_forward(a, weight, None)
            return out if bias is None else out + bias.view(1, -1, 1, 1)
        out = F.linear(a, weight)
        return out if bias is None else out + bias  # added apart, as the flat version did: the same rounding


@dataclass(frozen=True)
class _Pixels:
    """The input of a layer that reads the pixels, and of the pixels' bounds and a tensor of ones alike."""

    low: torch.Tensor
    high: torch.Tensor
    ones: torch.Tensor


@dataclass(frozen=True)
class Zero:
    """LRP-0: R_j = Σ_k a_j w_jk / z_k · R_k (gradient × input)."""

    name = "zero"

    def __call__(self, layer: _Affine, a: torch.Tensor, pixels: _Pixels | None = None) -> torch.Tensor:
        return layer(a, layer.weight, layer.bias)


@dataclass(frozen=True)
class Epsilon:
    """LRP-ε: R_j = Σ_k a_j w_jk / (z_k + ε·sign(z_k)) · R_k; ε absorbs weak or contradictory
    evidence."""

    epsilon: float = 1e-6
    name = "epsilon"

    def __post_init__(self) -> None:
        check_positive(self.epsilon, "epsilon", allow_zero=True)

    def __call__(self, layer: _Affine, a: torch.Tensor, pixels: _Pixels | None = None) -> torch.Tensor:
        z = layer(a, layer.weight, layer.bias)
        return _redistribute(z, [(z, None)], self.epsilon)


@dataclass(frozen=True)
class Gamma:
    """LRP-γ: positive contributions boosted by γ (Zennit's generalised ``Gamma``; the module docstring)."""

    gamma: float = 0.25
    name = "gamma"

    def __post_init__(self) -> None:
        check_positive(self.gamma, "gamma", allow_zero=True)

    def __call__(self, layer: _Affine, a: torch.Tensor, pixels: _Pixels | None = None) -> torch.Tensor:
        w, b, g = layer.weight, layer.bias, self.gamma
        up_w, up_b = w + g * w.clamp(min=0), b + g * b.clamp(min=0)
        down_w, down_b = w + g * w.clamp(max=0), b + g * b.clamp(max=0)
        pos, neg = a.clamp(min=0), a.clamp(max=0)
        z = layer(a, w, b)
        z_up = layer(pos, up_w, up_b) + layer(neg, down_w)  # evidence for a positive output
        z_down = layer(pos, down_w, down_b) + layer(neg, up_w)  # evidence for a negative output
        return _redistribute(z, [(z_up, (z > 0).to(z)), (z_down, (z < 0).to(z))], STABILIZER)


@dataclass(frozen=True)
class ZPlus:
    """LRP-z⁺ (α1β0): only positive contributions a⁺w⁺ (+ b⁺) and a⁻w⁻ carry relevance."""

    name = "zplus"

    def __call__(self, layer: _Affine, a: torch.Tensor, pixels: _Pixels | None = None) -> torch.Tensor:
        w, b = layer.weight, layer.bias
        z_plus = layer(a.clamp(min=0), w.clamp(min=0), b.clamp(min=0)) + layer(a.clamp(max=0), w.clamp(max=0))
        return _redistribute(layer(a, w, b), [(z_plus, None)], STABILIZER)


@dataclass(frozen=True)
class ZBox:
    """zᴮ for a layer that reads pixels in [low, high] (in pixel units, before the model's
    ``Normalize``)."""

    low: float = 0.0
    high: float = 1.0
    name = "zbox"
    reads_pixels = True

    def __post_init__(self) -> None:
        low, high = check_number(self.low, "low"), check_number(self.high, "high")
        if not low < high:
            raise ValueError(f"low must be below high (the pixel range [low, high]); "
                             f"got low={low}, high={high}")

    def __call__(self, layer: _Affine, a: torch.Tensor, pixels: _Pixels | None = None) -> torch.Tensor:
        w, b = layer.weight, layer.bias
        z_box = layer(a, w, b) - layer(pixels.low, w.clamp(min=0), b.clamp(min=0)) - layer(
            pixels.high, w.clamp(max=0), b.clamp(max=0))
        return _redistribute(layer(a, w, b), [(z_box, None)], STABILIZER)


@dataclass(frozen=True)
class Flat:
    """Flat (Lapuschkin et al. 2019): each output's relevance spread evenly over its receptive field,
    whatever the pixels and weights (a first-layer rule: it ignores the activations)."""

    name = "flat"
    reads_pixels = True

    def __call__(self, layer: _Affine, a: torch.Tensor, pixels: _Pixels | None = None) -> torch.Tensor:
        z_flat = layer(pixels.ones, torch.ones_like(layer.weight))
        return _redistribute(layer(a, layer.weight, layer.bias), [(z_flat, None)], STABILIZER)


Rule = Zero | Epsilon | Gamma | ZPlus | ZBox | Flat
Key = type | tuple[type, ...] | str


@dataclass
class Composite:
    """LRP rules for a model's ``Conv2d`` and ``Linear`` layers, as data.

    ``rules``: (key, rule) pairs; a layer gets the rule of the first key that matches it — a layer type
    (or a tuple of types) or a module name (a glob pattern: ``"features.0"``, ``"layer4.*"``). ``first``:
    the rule of the layers that read the pixels (directly or through a reshape), e.g. ``ZBox()`` or
    ``Flat()``. ``stabilizer``: the ε with which additions and average pools split relevance in
    proportion (``None``: exactly, as LRP-0 does).
    """

    rules: list[tuple[Key, Rule]]
    first: Rule | None = None
    stabilizer: float | None = STABILIZER

    def __post_init__(self) -> None:
        if not isinstance(self.rules, (list, tuple)) or not all(
                isinstance(pair, tuple) and len(pair) == 2 for pair in self.rules):
            raise TypeError(f"rules must be a list of (layer type or name, rule) pairs; got {self.rules!r}")
        for key, rule in self.rules:
            types = isinstance(key, tuple) and all(isinstance(k, type) for k in key)
            if not (isinstance(key, (type, str)) or types):
                raise TypeError(f"a composite's key must be a layer type, a tuple of them or a module name; "
                                f"got {key!r}")
            _check_rule(rule, "a composite's rule")
            if getattr(rule, "reads_pixels", False):
                raise ValueError(f"{type(rule).__name__} needs the pixels' bounds: give it as "
                                 "Composite(first=...)")
        if self.first is not None:
            _check_rule(self.first, "first")
        if self.stabilizer is not None:
            check_positive(self.stabilizer, "stabilizer", allow_zero=True)

    def rule_for(self, name: str, layer: nn.Module, reads_pixels: bool) -> Rule:
        """The rule for the layer ``layer`` called ``name`` in the model (``first`` if it reads the
        pixels)."""
        if not isinstance(name, str):
            raise TypeError(f"name must be the layer's name in the model, a str; got {type(name).__name__}")
        check_model(layer, "layer")
        if check_bool(reads_pixels, "reads_pixels") and self.first is not None:
            return self.first
        for key, rule in self.rules:
            by_name = isinstance(key, str) and fnmatch.fnmatchcase(name, key)
            if by_name or (not isinstance(key, str) and isinstance(layer, key)):
                return rule
        raise ValueError(f"the composite has no rule for the {type(layer).__name__} '{name}'; add a pair "
                         "that matches its type or name")


def _check_rule(rule: object, name: str) -> None:
    if not isinstance(rule, (Zero, Epsilon, Gamma, ZPlus, ZBox, Flat)):
        raise TypeError(f"{name} must be an LRP rule (Zero, Epsilon, Gamma, ZPlus, ZBox, Flat); got "
                        f"{type(rule).__name__}")


def one_rule(rule: Rule) -> Composite:
    """The composite that gives every ``Conv2d`` and ``Linear`` layer ``rule``."""
    _check_rule(rule, "rule")
    if getattr(rule, "reads_pixels", False):  # zᴮ or flat on the pixels, ε elsewhere
        return Composite([(LINEAR, Epsilon())], first=rule)
    return Composite([(LINEAR, rule)], stabilizer=None if isinstance(rule, Zero) else STABILIZER)


NAMED: dict[str, Callable[[float, float], Composite]] = {  # the library's names → composites (ε, γ)
    "zero": lambda e, g: one_rule(Zero()),
    "epsilon": lambda e, g: one_rule(Epsilon(e)),
    "gamma": lambda e, g: one_rule(Gamma(g)),
    "alpha1beta0": lambda e, g: one_rule(ZPlus()),
    "zbox": lambda e, g: Composite([(LINEAR, Epsilon(e))], first=ZBox()),
    "epsilon_gamma_box": lambda e, g: Composite([(nn.Conv2d, Gamma(g)), (nn.Linear, Epsilon(e))],
                                                first=ZBox()),
    "epsilon_plus": lambda e, g: Composite([(nn.Conv2d, ZPlus()), (nn.Linear, Epsilon(e))]),
    "epsilon_plus_flat": lambda e, g: Composite([(nn.Conv2d, ZPlus()), (nn.Linear, Epsilon(e))],
                                                first=Flat()),
}
RULES = ("zero", "epsilon", "gamma", "alpha1beta0", "zbox")  # names for ``rule``: one rule everywhere
COMPOSITES = ("epsilon_gamma_box", "epsilon_plus", "epsilon_plus_flat")  # names for ``composite``


def composite_for(rule: str | Rule = "epsilon", *, epsilon: float = 1e-6, gamma: float = 0.25,
                  composite: str | Composite | None = None) -> Composite:
    """The composite that ``lrp``'s options name: ``composite`` (a name or a ``Composite``) if given, else
    ``rule`` (a name or a rule object) on every layer."""
    check_positive(epsilon, "epsilon", allow_zero=True)
    check_positive(gamma, "gamma", allow_zero=True)
    if isinstance(composite, Composite):
        return composite
    if composite is not None:
        return NAMED[check_choice(composite, "composite", COMPOSITES)](epsilon, gamma)
    if isinstance(rule, str):
        return NAMED[check_choice(rule, "rule", RULES)](epsilon, gamma)
    return one_rule(rule)


# ----------------------------------------------------------------------------------------------- the graph

_ACTIVATIONS: dict[object, Callable[..., torch.Tensor]] = {  # ReLU family: relevance passes unchanged
    nn.ReLU: lambda m: F.relu, nn.ReLU6: lambda m: F.relu6,
    nn.LeakyReLU: lambda m: lambda a: F.leaky_relu(a, m.negative_slope),
    nn.PReLU: lambda m: lambda a: F.prelu(a, m.weight.detach()),  # a learnt slope per channel (MTCNN)
}
_ACTIVATION_FUNCTIONS = {F.relu: F.relu, torch.relu: F.relu, torch.relu_: F.relu, F.relu6: F.relu6,
                         F.leaky_relu: F.leaky_relu, "relu": F.relu, "relu_": F.relu}
_PASS_MODULES = (nn.Dropout, nn.Identity, nn.Flatten, nn.MaxPool2d, nn.AdaptiveMaxPool2d)
_PASS_FUNCTIONS = {F.dropout, torch.flatten, F.max_pool2d, F.adaptive_max_pool2d, "flatten", "view",
                   "reshape", "contiguous"}
_RESHAPES = (nn.Dropout, nn.Identity, nn.Flatten, F.dropout, torch.flatten, "flatten", "view", "reshape",
             "contiguous")  # ops through which a layer still reads the pixels
_AVERAGES = (nn.AvgPool2d, nn.AdaptiveAvgPool2d, F.avg_pool2d, F.adaptive_avg_pool2d, torch.mean, "mean")
_SUMS = (operator.add, operator.iadd, torch.add)
_CONCATS = (torch.cat, torch.concat)
_META = (getattr, "size", "dim")  # shape queries: values, not relevance (indexing them is a value too)


def _is_normalize(module: nn.Module) -> bool:
    kind = type(module)
    torchvision = kind.__name__ == "Normalize" and kind.__module__.startswith("torchvision")
    return isinstance(module, Normalize) or torchvision


class _Tracer(torch.fx.Tracer):
    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return _is_normalize(m) or super().is_leaf_module(m, qualname)


@dataclass
class _Step:
    node: torch.fx.Node
    kind: str  # input normalize affine alias activation pass average sum concat value output
    module: nn.Module | None = None
    batchnorm: nn.Module | None = None  # folded into an affine step
    reads_pixels: bool = False  # an affine step whose input is the pixels, possibly reshaped
    pixel_like: bool = False  # the pixels, possibly reshaped
    label: str = ""


@dataclass
class _Plan:
    steps: list[_Step]
    cuts: list[_Step]  # the steps every path from the input to the logits passes through


def _op(node: torch.fx.Node, model: nn.Module) -> object:
    """What a node computes: its module's type, a function, or a method's name."""
    if node.op == "call_module":
        return type(model.get_submodule(node.target))
    return node.target


def _where(node: torch.fx.Node) -> str:
    if node.op == "call_module":
        return f"'{node.target}'"
    stack = node.meta.get("nn_module_stack") or {}
    inside = f" in '{list(stack.values())[-1][0]}'" if stack else ""
    return f"node '{node.name}'{inside}"


def _what(node: torch.fx.Node, model: nn.Module) -> str:
    op = _op(node, model)
    return op.__name__ if hasattr(op, "__name__") else str(op)


def _refuse(node: torch.fx.Node, model: nn.Module, why: str = "") -> ValueError:
    supported = ("Conv2d, Linear, BatchNorm after them, ReLU/ReLU6/LeakyReLU/PReLU, Dropout, Identity, "
                 "max/average/adaptive pooling, mean, Flatten/view/reshape, addition of two branches, "
                 "torch.cat")
    return ValueError(f"lrp cannot propagate relevance through {_what(node, model)} at {_where(node)}"
                      f"{why}; it supports {supported}")


def _trace(model: nn.Module) -> torch.fx.Graph:
    try:
        return _Tracer().trace(model)
    except Exception as error:  # fx raises many kinds; the user needs to know that tracing failed
        raise ValueError(
            f"lrp could not trace {type(model).__name__}.forward with torch.fx ({type(error).__name__}: "
            f"{error}); lrp follows the model's graph, so its forward must not branch on tensors' values"
        ) from error


def _plan(model: nn.Module) -> _Plan:
    """Trace ``model`` and check every operation between the input and the logits, before computing."""
    graph = _trace(model)
    steps: list[_Step] = []
    by_node: dict[torch.fx.Node, _Step] = {}
    relevant: set[torch.fx.Node] = set()  # nodes whose tensors carry relevance
    pixel_like: set[torch.fx.Node] = set()  # the pixels, possibly reshaped
    placeholders = [n for n in graph.nodes if n.op == "placeholder"]
    if len(placeholders) != 1:
        raise ValueError(f"lrp needs a model whose forward takes one tensor; {type(model).__name__}.forward "
                         f"takes {len(placeholders)}")
    normalized = False
    for node in graph.nodes:
        inputs = [n for n in node.all_input_nodes if n in relevant]
        op = _op(node, model)
        step = _Step(node, "value")
        if node.op == "placeholder":
            step.kind = "input"
        elif node.op == "output":
            if not isinstance(node.args[0], torch.fx.Node) or node.args[0] not in relevant:
                raise ValueError(f"lrp needs a model that returns one tensor of logits; "
                                 f"{type(model).__name__} returns {node.args[0]!r}")
            step.kind = "output"
        elif not inputs:
            step.kind = "value"  # constants and shape queries
        elif op in _META:
            step.kind = "value"
        elif node.op == "call_module" and _is_normalize(model.get_submodule(node.target)):
            if node.args[0] is not placeholders[0] or len(placeholders[0].users) != 1:
                raise _refuse(node, model, " (a Normalize must be the first and only thing applied to the "
                                           "input)")
            step.kind, step.module, normalized = "normalize", model.get_submodule(node.target), True
        elif op in LINEAR:
            step.kind, step.module = "affine", model.get_submodule(node.target)
            step.reads_pixels = node.args[0] in pixel_like
        elif isinstance(op, type) and issubclass(op, nn.modules.batchnorm._BatchNorm):
            source = by_node.get(node.args[0])
            follows = {nn.BatchNorm2d: nn.Conv2d, nn.BatchNorm1d: nn.Linear}.get(op)
            module = model.get_submodule(node.target)
            foldable = (follows is not None and source is not None and source.kind == "affine"
                        and isinstance(source.module, follows) and len(source.node.users) == 1
                        and source.batchnorm is None and module.running_mean is not None)
            if not foldable:
                before = _what(node.args[0], model) if isinstance(node.args[0], torch.fx.Node) else "?"
                raise ValueError(
                    f"lrp can fold BatchNorm only into a Conv2d (BatchNorm2d) or Linear (BatchNorm1d) right "
                    f"before it, whose output it alone uses, with running statistics; the {op.__name__} at "
                    f"{_where(node)} follows {before}")
            source.batchnorm, step.kind = module, "alias"
        elif op in _ACTIVATIONS or op in _ACTIVATION_FUNCTIONS:
            step.kind = "activation"
            step.module = model.get_submodule(node.target) if node.op == "call_module" else None
        elif op in _PASS_MODULES or op in _PASS_FUNCTIONS:
            step.kind = "pass"
        elif op in _AVERAGES:
            step.kind = "average"
        elif op in _SUMS:
            if len(node.args) != 2 or node.kwargs or not all(a in relevant for a in node.args):
                raise _refuse(node, model, " (an addition is supported between two branches, not with a "
                                           "constant)")
            step.kind = "sum"
        elif op in _CONCATS:
            pieces = node.args[0] if isinstance(node.args[0], (list, tuple)) else [node.args[0]]
            if not all(p in relevant for p in pieces):
                raise _refuse(node, model, " (a concatenation is supported between branches, not with a "
                                           "constant)")
            step.kind = "concat"
        else:
            raise _refuse(node, model)
        if step.kind not in ("value", "output"):
            relevant.add(node)
        if step.kind in ("input", "normalize") or (op in _RESHAPES and node.args[0] in pixel_like):
            pixel_like.add(node)
            step.pixel_like = True
        step.label = _label(step, model)
        steps.append(step)
        by_node[node] = step
    root = next(i for i, s in enumerate(steps) if s.kind == ("normalize" if normalized else "input"))
    return _Plan(steps, _cuts([s for s in steps[root:] if s.node in relevant], relevant))


def _label(step: _Step, model: nn.Module) -> str:
    if step.kind in ("input", "normalize"):
        return "pixels"
    return f"after {_what(step.node, model)}"


def _cuts(steps: list[_Step], relevant: set[torch.fx.Node]) -> list[_Step]:
    """The steps that no edge jumps over: every path from the input to the logits passes through them,
    so their relevance is the whole relevance (a branch of a residual block holds only a part)."""
    position = {s.node: i for i, s in enumerate(steps)}
    cuts, furthest = [], 0
    for i, step in enumerate(steps):
        if furthest <= i and step.kind != "alias":  # a folded BatchNorm is its layer's output
            cuts.append(step)
        furthest = max([furthest, *(position[u] for u in step.node.users if u in relevant)])
    return cuts


_PLANS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _cached_plan(model: nn.Module) -> _Plan:
    """The plan of ``model``, traced once while its modules stay the same ones."""
    signature = tuple(id(m) for m in model.modules())
    cached = _PLANS.get(model)
    if cached is None or cached[0] != signature:
        with frozen(model):  # traced in eval mode, as it runs
            cached = (signature, _plan(model))
        _PLANS[model] = cached
    return cached[1]


def _run(node: torch.fx.Node, env: dict, model: nn.Module) -> object:
    """A node's ordinary computation on the values in ``env``."""
    args = torch.fx.node.map_arg(node.args, lambda n: env[n])
    kwargs = torch.fx.node.map_arg(node.kwargs, lambda n: env[n])
    if node.op == "call_module":
        return model.get_submodule(node.target)(*args, **kwargs)
    if node.op == "call_method":
        return getattr(args[0], node.target)(*args[1:], **kwargs)
    if node.op == "get_attr":
        return operator.attrgetter(node.target)(model)
    return node.target(*args, **kwargs)


def _activation(step: _Step, a: torch.Tensor) -> torch.Tensor:
    args, kwargs = step.node.args, step.node.kwargs
    if isinstance(step.module, (nn.ReLU, nn.LeakyReLU)) or step.node.target in (F.relu, torch.relu, "relu"):
        leaky = isinstance(step.module, nn.LeakyReLU)
        return F.leaky_relu(a, step.module.negative_slope) if leaky else F.relu(a)
    if isinstance(step.module, nn.PReLU):  # f(a) = a · slope(a), so a · f'(a) = f(a): R passes unchanged
        return F.prelu(a, step.module.weight.detach())
    if step.module is not None:
        z = _ACTIVATIONS[type(step.module)](step.module)(a)
    elif _ACTIVATION_FUNCTIONS[step.node.target] is F.leaky_relu:
        z = F.leaky_relu(a, args[1] if len(args) > 1 else kwargs.get("negative_slope", 0.01))
    else:
        z = _ACTIVATION_FUNCTIONS[step.node.target](a)
    # value f(a), gradient f(a)/a: R_in = a · f(a)/a · g = R_out
    # (for ReLU, LeakyReLU and PReLU, their own gradient)
    return _redistribute(z, [(a, None)], 0.0)


def _propagate(model: nn.Module, x: torch.Tensor, target: torch.Tensor, composite: Composite,
               every_layer: bool = False) -> list[torch.Tensor]:
    """The relevance map on the pixels; with ``every_layer``, also at every cut of the graph up to the output
    (see ``_layer_names``). Only the maps asked for are formed: one forward and one backward pass."""
    plan = _cached_plan(model)
    steps = plan.steps
    rules = {s.node: composite.rule_for(s.node.target, s.module, s.reads_pixels)
             for s in steps if s.kind == "affine"}
    normalize = next((s.module for s in steps if s.kind == "normalize"), None)
    pixels_in = (lambda t: normalize(t)) if normalize is not None else (lambda t: t)
    first = composite.first
    a0 = pixels_in(x).detach().requires_grad_(True)
    leaves = [a0]
    pixels: dict[torch.fx.Node, _Pixels] = {}
    if first is not None and any(s.reads_pixels for s in steps):
        low = pixels_in(torch.full_like(x, getattr(first, "low", 0.0))).detach().requires_grad_(True)
        high = pixels_in(torch.full_like(x, getattr(first, "high", 1.0))).detach().requires_grad_(True)
        ones = torch.ones_like(a0).requires_grad_(True)
        leaves += [low, high, ones]
    env: dict[torch.fx.Node, object] = {}
    for step in steps:
        node, kind = step.node, step.kind
        if kind == "input":
            env[node] = x if normalize is not None else a0
        elif kind == "normalize":
            env[node] = a0
        elif kind == "affine":
            a = env[node.args[0]]
            layer = _Affine(step.module, step.batchnorm)
            env[node] = rules[node](layer, a, pixels.get(node.args[0]))
        elif kind == "alias":
            env[node] = env[node.args[0]]
        elif kind == "activation":
            env[node] = _activation(step, env[node.args[0]])
        elif kind in ("average", "sum"):
            z = _run(node, env, model)
            exact = composite.stabilizer is None
            env[node] = z if exact else _redistribute(z, [(z, None)], composite.stabilizer)
        elif kind == "output":
            logits = env[node.args[0]]
        else:
            env[node] = _run(node, env, model)
        if step.pixel_like and len(leaves) > 1:  # the bounds follow the pixels through reshapes
            source = None if kind in ("input", "normalize") else pixels[node.args[0]]
            bounds = [] if source is None else [source.low, source.high, source.ones]
            pixels[node] = _Pixels(*leaves[1:]) if source is None else _Pixels(
                *(_run(node, {**env, node.args[0]: t}, model) for t in bounds))
    selected = logits.gather(1, target[:, None])
    cuts = plan.cuts[1:] if every_layer else []
    tensors = [env[s.node] for s in cuts]
    grads = torch.autograd.grad(selected.sum(), [*leaves, *tensors], allow_unused=True)
    pixel_relevance = sum((t * g).detach() for t, g in zip(leaves, grads) if g is not None)
    if not isinstance(pixel_relevance, torch.Tensor):  # the logit does not depend on the pixels
        pixel_relevance = torch.zeros_like(a0)
    return [pixel_relevance] + [(t * g).detach() if g is not None else torch.zeros_like(t)
                                for t, g in zip(tensors, grads[len(leaves):])]


@attribution
def lrp(
    model: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    *,
    rule: str | Rule = "epsilon",
    epsilon: float = 1e-6,
    gamma: float = 0.25,
    composite: str | Composite | None = None,
) -> torch.Tensor:
    """LRP relevance of every pixel for the target logit (see the module docstring for the rules).

    ``rule`` applies to every ``Conv2d`` and ``Linear`` layer: a name (``"zero"``, ``"epsilon"``,
    ``"gamma"``, ``"alpha1beta0"``, ``"zbox"``: zᴮ on the layer reading the pixels, ε on the others)
    with ``epsilon`` and ``gamma``, or a rule object (``Gamma(0.5)``). ``composite`` overrides it: a
    ``Composite`` or a name — ``"epsilon_gamma_box"`` = zᴮ on the first layer, γ on the other
    convolutions, ε on linear layers (Zennit's ``EpsilonGammaBox``); ``"epsilon_plus"`` = z⁺ on
    convolutions, ε on linear layers (``EpsilonPlus``); ``"epsilon_plus_flat"`` = the same with the
    flat rule on the first layer (``EpsilonPlusFlat``). Works on any model whose graph ``torch.fx``
    can trace and whose operations the module docstring lists; refuses the others before computing.
    """
    chosen = composite_for(rule, epsilon=epsilon, gamma=gamma, composite=composite)
    return _propagate(model, x, target, chosen)[0]


def conservation(
    model: nn.Module,
    x: torch.Tensor,
    target: int | torch.Tensor,
    *,
    rule: str | Rule = "epsilon",
    epsilon: float = 1e-6,
    gamma: float = 0.25,
    composite: str | Composite | None = None,
) -> dict[str, torch.Tensor]:
    """Total relevance Σ R per image at every cut of the model's graph, from the pixels up to the output.

    A cut is a tensor that every path from the input to the logits passes through: every layer of a
    flat network; for a residual network the input and output of each block, not the tensors inside a
    branch (each holds only its part of the relevance). Keys are ``"0: pixels"``, ``"1: after Conv2d
    (LRP-epsilon)"``, …, the last being the output, where the relevance is the target logit; each value
    is a tensor of shape N. With perfect conservation every entry equals the target logit; biases, ε and
    the stabilisers let some relevance leak (or enter), which this makes visible layer by layer.
    """
    check_model(model)
    check_images(x, model=model)
    chosen = composite_for(rule, epsilon=epsilon, gamma=gamma, composite=composite)
    with checked(model, x, target, "target") as target:  # checks target and the model's output first
        relevances = _propagate(model, x.detach(), target, chosen, every_layer=True)
        sums = torch.stack([r.flatten(1).sum(1) for r in relevances], dim=1).detach()
    check_finite(sums, "layer_sums")
    return dict(zip(_layer_names(model, chosen), sums.unbind(1)))


def _layer_names(model: nn.Module, composite: Composite) -> list[str]:
    names = []
    for i, step in enumerate(_cached_plan(model).cuts):
        name = step.label
        if step.kind == "affine":
            rule = composite.rule_for(step.node.target, step.module, step.reads_pixels)
            name += f" (LRP-{rule.name})"
        names.append(f"{i}: {name}")
    return names


def epsilon_step(
    a: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, relevance: torch.Tensor, epsilon: float = 1e-6
) -> torch.Tensor:
    """One LRP-ε step through a dense layer z = a Wᵀ + b, written out as in the lecture notes:

        R_j = Σ_k a_j w_kj / (z_k + ε·sign(z_k)) · R_k        (sign(0) = +1)

    ``a``: inputs N×J, ``weight``: K×J (``nn.Linear`` layout), ``bias``: K, ``relevance``: N×K.
    Returns the input relevance N×J. ``lrp`` computes the same by one backward pass.
    """
    for name, value, dims in (("a", a, 2), ("weight", weight, 2), ("bias", bias, 1),
                              ("relevance", relevance, 2)):
        if not isinstance(value, torch.Tensor) or value.dim() != dims:
            got = shape_or_type(value)
            raise ValueError(f"{name} must be a {dims}-dimensional tensor; got {got}")
    n, j, k = a.shape[0], a.shape[1], weight.shape[0]
    for name, value, shape in (("weight", weight, (k, j)), ("bias", bias, (k,)),
                               ("relevance", relevance, (n, k))):
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


__all__ = ["lrp", "conservation", "epsilon_step", "Composite", "one_rule", "composite_for", "Zero", "Epsilon",
           "Gamma", "ZPlus", "ZBox", "Flat", "NAMED", "RULES", "COMPOSITES"]
