"""Relevance through the planned graph — one forward pass with the rules' gradients, one backward pass —
and the conservation report, layer by layer."""

from __future__ import annotations

import torch
from torch import nn

from helpers._checks import check_images, check_model, check_positive, check_tensor
from helpers._contract import check_finite, checked
from helpers.explain._core import attribution
from helpers.explain.relevance.composites import Composite, composite_for
from helpers.explain.relevance.forward import _Pass, _run
from helpers.explain.relevance.graph import KINDS, _cached_plan, _Plan
from helpers.explain.relevance.rules import Pixels, Rule, _stabilize


def _pixel_leaves(plan: _Plan, p: _Pass) -> list[torch.Tensor]:
    """The tensors the relevance ends on: the pixels and, for a rule that reads them (zᴮ, flat), the
    pixels' bounds and a tensor of ones, each normalised as the pixels are."""
    first = p.composite.first
    if first is None or not any(s.reads_pixels for s in plan.steps):
        return [p.a0]
    normalize = next((s.module for s in plan.steps if s.kind == "normalize"), None)
    pixels_in = normalize if normalize is not None else (lambda t: t)
    low = pixels_in(torch.full_like(p.x, getattr(first, "low", 0.0))).detach().requires_grad_(True)
    high = pixels_in(torch.full_like(p.x, getattr(first, "high", 1.0))).detach().requires_grad_(True)
    return [p.a0, low, high, torch.ones_like(p.a0).requires_grad_(True)]


def _forward(plan: _Plan, p: _Pass, leaves: list[torch.Tensor]) -> torch.Tensor:
    """Every node's value with the rules' gradients; the bounds follow the pixels through reshapes.
    Returns the logits."""
    for step in plan.steps:
        node = step.node
        p.env[node] = KINDS[step.kind].forward(step, p)
        if step.pixel_like and len(leaves) > 1:
            if step.kind in ("input", "normalize"):
                p.pixels[node] = Pixels(*leaves[1:])
            else:
                source = p.pixels[node.args[0]]
                p.pixels[node] = Pixels(*(_run(node, {**p.env, node.args[0]: t}, p.model)
                                           for t in (source.low, source.high, source.ones)))
    return p.env[plan.steps[-1].node]


def _propagate(model: nn.Module, x: torch.Tensor, target: torch.Tensor, composite: Composite,
               every_layer: bool = False) -> list[torch.Tensor]:
    """The relevance map on the pixels; with ``every_layer``, also at every cut of the graph up to the output
    (see ``_layer_names``). Only the maps asked for are formed: one forward and one backward pass."""
    plan = _cached_plan(model)
    rules = {s.node: composite.rule_for(s.node.target, s.module, s.reads_pixels)
             for s in plan.steps if s.kind == "affine"}
    normalize = next((s.module for s in plan.steps if s.kind == "normalize"), None)
    a0 = (normalize(x) if normalize is not None else x).detach().requires_grad_(True)
    p = _Pass(model, composite, rules, x, a0, normalized=normalize is not None)
    leaves = _pixel_leaves(plan, p)
    logits = _forward(plan, p, leaves)
    selected = logits.gather(1, target[:, None])
    tensors = [p.env[s.node] for s in (plan.cuts[1:] if every_layer else [])]
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
    rule: str | Rule | None = None,
    epsilon: float | None = None,
    gamma: float | None = None,
    composite: str | Composite | None = None,
) -> torch.Tensor:
    """LRP relevance of every pixel for the target logit (see ``helpers.explain.relevance`` for the rules).

    ``rule`` applies to every ``Conv2d`` and ``Linear`` layer: a name (``"zero"``, ``"epsilon"`` — the
    default —, ``"gamma"``, ``"alpha1beta0"``, ``"alpha2beta1"``, ``"zbox"``: zᴮ on the layer reading the
    pixels, ε on the others) with ``epsilon`` (default 10⁻⁶) and ``gamma`` (default 0.25), or a rule object
    (``Gamma(0.5)``, or your own subclass of ``Rule``). ``composite`` replaces it: a ``Composite`` or a
    name — ``"epsilon_gamma_box"`` = zᴮ on the first layer, γ on the other convolutions, ε on linear layers
    (Zennit's ``EpsilonGammaBox``); ``"epsilon_plus"`` = z⁺ on convolutions, ε on linear layers
    (``EpsilonPlus``); ``"epsilon_plus_flat"`` = the same with the flat rule on the first layer
    (``EpsilonPlusFlat``). An option that the choice would ignore (``rule`` beside ``composite``, ``gamma``
    beside ``rule="epsilon"``, …) is refused. Works on any model whose graph ``torch.fx`` can trace and whose
    operations the package docstring lists; refuses the others before computing.
    """
    chosen = composite_for(rule, epsilon=epsilon, gamma=gamma, composite=composite)
    return _propagate(model, x, target, chosen)[0]


def conservation(
    model: nn.Module,
    x: torch.Tensor,
    target: int | torch.Tensor,
    *,
    rule: str | Rule | None = None,
    epsilon: float | None = None,
    gamma: float | None = None,
    composite: str | Composite | None = None,
) -> dict[str, torch.Tensor]:
    """Total relevance Σ R per image at every cut of the model's graph, from the pixels up to the output
    (the options as in ``lrp``).

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
            name += f" (LRP-{rule.name or type(rule).__name__})"
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
    check_tensor(a, "a", what="N×J", dims=2)
    matching = f"to match a {tuple(a.shape)}, of its dtype"
    check_tensor(weight, "weight", what=matching, dtype=a.dtype, shape=(None, a.shape[1]))
    n, k = a.shape[0], weight.shape[0]
    check_tensor(bias, "bias", what=matching, dtype=a.dtype, shape=(k,))
    check_tensor(relevance, "relevance", what=matching, dtype=a.dtype, shape=(n, k))
    check_positive(epsilon, "epsilon", allow_zero=True)
    z = a @ weight.T + bias  # N×K
    s = relevance / _stabilize(z, epsilon)  # N×K
    return a * (s @ weight)  # N×J: a_j Σ_k w_kj s_k


__all__ = ["lrp", "conservation", "epsilon_step"]
