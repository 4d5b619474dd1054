"""The forward pass of each kind of node, computed so that its gradient carries the relevance.

Each handler takes a planned step and the pass's state and returns the node's value: the ordinary value,
with the rule's gradient where relevance is redistributed (``rules.redistribute``). ``graph.KINDS`` pairs
every kind of node with its handler here and its check at planning.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
import torch.fx
import torch.nn.functional as F
from torch import nn

from helpers.explain.relevance.composites import Composite
from helpers.explain.relevance.rules import Affine, Pixels, Rule, redistribute

if TYPE_CHECKING:
    from helpers.explain.relevance.graph import _Step

ACTIVATIONS: dict[object, Callable[..., torch.Tensor]] = {  # ReLU family: relevance passes unchanged
    nn.ReLU: lambda m: F.relu, nn.ReLU6: lambda m: F.relu6,
    nn.LeakyReLU: lambda m: lambda a: F.leaky_relu(a, m.negative_slope),
    nn.PReLU: lambda m: lambda a: F.prelu(a, m.weight.detach()),  # a learnt slope per channel (MTCNN)
}
ACTIVATION_FUNCTIONS = {F.relu: F.relu, torch.relu: F.relu, torch.relu_: F.relu, F.relu6: F.relu6,
                        F.leaky_relu: F.leaky_relu, "relu": F.relu, "relu_": F.relu}


@dataclass
class _Pass:
    """The state of one forward pass: the values so far, each affine node's rule, the pixels."""

    model: nn.Module
    composite: Composite
    rules: dict[torch.fx.Node, Rule]
    x: torch.Tensor  # the images
    a0: torch.Tensor  # the pixels the relevance ends on (normalised, if the model normalises)
    normalized: bool
    env: dict[torch.fx.Node, object] = field(default_factory=dict)
    pixels: dict[torch.fx.Node, Pixels] = field(default_factory=dict)  # bounds of pixel-like nodes


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


def _input(step: _Step, p: _Pass) -> object:
    return p.x if p.normalized else p.a0  # with a Normalize, the relevance ends on its output


def _normalize(step: _Step, p: _Pass) -> object:
    return p.a0


def _affine(step: _Step, p: _Pass) -> object:
    source = step.node.args[0]
    return p.rules[step.node](Affine(step.module, step.batchnorm), p.env[source], p.pixels.get(source))


def _alias(step: _Step, p: _Pass) -> object:  # a folded BatchNorm, the logits at the output
    return p.env[step.node.args[0]]


def _activation(step: _Step, p: _Pass) -> object:
    a, args, kwargs = p.env[step.node.args[0]], step.node.args, step.node.kwargs
    if isinstance(step.module, (nn.ReLU, nn.LeakyReLU)) or step.node.target in (F.relu, torch.relu, "relu"):
        leaky = isinstance(step.module, nn.LeakyReLU)
        return F.leaky_relu(a, step.module.negative_slope) if leaky else F.relu(a)
    if isinstance(step.module, nn.PReLU):  # f(a) = a · slope(a), so a · f'(a) = f(a): R passes unchanged
        return F.prelu(a, step.module.weight.detach())
    if step.module is not None:
        z = ACTIVATIONS[type(step.module)](step.module)(a)
    elif ACTIVATION_FUNCTIONS[step.node.target] is F.leaky_relu:
        z = F.leaky_relu(a, args[1] if len(args) > 1 else kwargs.get("negative_slope", 0.01))
    else:
        z = ACTIVATION_FUNCTIONS[step.node.target](a)
    # value f(a), gradient f(a)/a: R_in = a · f(a)/a · g = R_out
    # (for ReLU, LeakyReLU and PReLU, their own gradient)
    return redistribute(z, [(a, None)], 0.0)


def _proportional(step: _Step, p: _Pass) -> object:
    """A sum or an average: R_i = x_i / (Σ x + ε·sign) · R, with the composite's stabiliser ε."""
    z = _run(step.node, p.env, p.model)
    return z if p.composite.stabilizer is None else redistribute(z, [(z, None)], p.composite.stabilizer)


def _ordinary(step: _Step, p: _Pass) -> object:  # reshapes, max pools, concatenations, values
    return _run(step.node, p.env, p.model)
