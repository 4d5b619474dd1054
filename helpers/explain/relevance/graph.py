"""The model's graph: traced with ``torch.fx``, every operation between the input and the logits given a
kind and checked before anything is computed.

``KINDS`` is the one table of the kinds of node: which operations each covers, what planning checks, and
which handler of ``forward`` computes it during propagation. A node outside the table is refused, naming
the operation and where it is.
"""

from __future__ import annotations

import operator
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.fx
import torch.nn.functional as F
from torch import nn

from helpers._checks import frozen
from helpers.explain.relevance import forward
from helpers.explain.relevance.composites import LINEAR
from helpers.models import Normalize

_PASS_MODULES = (nn.Dropout, nn.Identity, nn.Flatten, nn.MaxPool2d, nn.AdaptiveMaxPool2d)
_PASS_FUNCTIONS = {F.dropout, torch.flatten, F.max_pool2d, F.adaptive_max_pool2d, "flatten", "view",
                   "reshape", "contiguous"}
_RESHAPES = (nn.Dropout, nn.Identity, nn.Flatten, F.dropout, torch.flatten, "flatten", "view", "reshape",
             "contiguous")  # ops through which a layer still reads the pixels
_AVERAGES = (nn.AvgPool2d, nn.AdaptiveAvgPool2d, F.avg_pool2d, F.adaptive_avg_pool2d, torch.mean, "mean")
_SUMS = (operator.add, operator.iadd, torch.add)
_CONCATS = (torch.cat, torch.concat)
_META = (getattr, "size", "dim")  # shape queries: values, not relevance (indexing them is a value too)
_SUPPORTED = ("Conv2d, Linear, BatchNorm after them, ReLU/ReLU6/LeakyReLU/PReLU, Dropout, Identity, "
              "max/average/adaptive pooling, mean, Flatten/view/reshape, addition of two branches, torch.cat")


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
    kind: str  # a key of KINDS
    module: nn.Module | None = None  # the node's module, if it calls one
    batchnorm: nn.Module | None = None  # folded into an affine step
    reads_pixels: bool = False  # an affine step whose input is the pixels, possibly reshaped
    pixel_like: bool = False  # the pixels, possibly reshaped
    label: str = ""


@dataclass
class _Plan:
    steps: list[_Step]
    cuts: list[_Step]  # the steps every path from the input to the logits passes through


@dataclass
class _Planning:
    """What planning knows so far: the steps by node, the nodes that carry relevance, the pixels."""

    model: nn.Module
    placeholder: torch.fx.Node
    by_node: dict[torch.fx.Node, _Step] = field(default_factory=dict)
    relevant: set[torch.fx.Node] = field(default_factory=set)  # nodes whose tensors carry relevance
    pixel_like: set[torch.fx.Node] = field(default_factory=set)  # the pixels, possibly reshaped


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
    return ValueError(f"lrp cannot propagate relevance through {_what(node, model)} at {_where(node)}"
                      f"{why}; it supports {_SUPPORTED}")


# --------------------------------------------------------------------------- what planning checks, per kind

def _check_output(step: _Step, s: _Planning) -> None:
    if not isinstance(step.node.args[0], torch.fx.Node) or step.node.args[0] not in s.relevant:
        raise ValueError(f"lrp needs a model that returns one tensor of logits; "
                         f"{type(s.model).__name__} returns {step.node.args[0]!r}")


def _check_normalize(step: _Step, s: _Planning) -> None:
    if step.node.args[0] is not s.placeholder or len(s.placeholder.users) != 1:
        raise _refuse(step.node, s.model, " (a Normalize must be the first and only thing applied to the "
                                          "input)")


def _check_affine(step: _Step, s: _Planning) -> None:
    step.reads_pixels = step.node.args[0] in s.pixel_like


def _check_batchnorm(step: _Step, s: _Planning) -> None:
    """A BatchNorm is folded into the Conv2d or Linear right before it: it becomes an alias of its output."""
    node, module = step.node, step.module
    source = s.by_node.get(node.args[0])
    follows = {nn.BatchNorm2d: nn.Conv2d, nn.BatchNorm1d: nn.Linear}.get(type(module))
    foldable = (follows is not None and source is not None and source.kind == "affine"
                and isinstance(source.module, follows) and len(source.node.users) == 1
                and source.batchnorm is None and module.running_mean is not None)
    if not foldable:
        before = _what(node.args[0], s.model) if isinstance(node.args[0], torch.fx.Node) else "?"
        raise ValueError(
            f"lrp can fold BatchNorm only into a Conv2d (BatchNorm2d) or Linear (BatchNorm1d) right "
            f"before it, whose output it alone uses, with running statistics; the {type(module).__name__} at "
            f"{_where(node)} follows {before}")
    source.batchnorm = module


def _check_sum(step: _Step, s: _Planning) -> None:
    node = step.node
    if len(node.args) != 2 or node.kwargs or not all(a in s.relevant for a in node.args):
        raise _refuse(node, s.model, " (an addition is supported between two branches, not with a constant)")


def _check_concat(step: _Step, s: _Planning) -> None:
    pieces = step.node.args[0] if isinstance(step.node.args[0], (list, tuple)) else [step.node.args[0]]
    if not all(p in s.relevant for p in pieces):
        raise _refuse(step.node, s.model, " (a concatenation is supported between branches, not with a "
                                          "constant)")


# ------------------------------------------------------------------------------------ the table of kinds

@dataclass(frozen=True)
class _Kind:
    """A kind of node: which nodes it covers (``matches(node, op, planning)``, tried in the table's order),
    planning's check, the handler that computes it in the forward pass, whether its output carries
    relevance."""

    matches: Callable[[torch.fx.Node, object, _Planning], bool]
    forward: Callable[[_Step, forward._Pass], object]
    check: Callable[[_Step, _Planning], None] = lambda step, s: None
    relevant: bool = True


def _is_batchnorm(op: object) -> bool:
    return isinstance(op, type) and issubclass(op, nn.modules.batchnorm._BatchNorm)


KINDS: dict[str, _Kind] = {
    "input": _Kind(lambda n, op, s: n.op == "placeholder", forward._input),
    "output": _Kind(lambda n, op, s: n.op == "output", forward._alias, _check_output, relevant=False),
    "value": _Kind(lambda n, op, s: op in _META or not any(i in s.relevant for i in n.all_input_nodes),
                   forward._ordinary, relevant=False),  # constants and shape queries
    "normalize": _Kind(lambda n, op, s: isinstance(op, type) and n.op == "call_module"
                       and _is_normalize(s.model.get_submodule(n.target)), forward._normalize,
                       _check_normalize),
    "affine": _Kind(lambda n, op, s: op in LINEAR, forward._affine, _check_affine),
    "alias": _Kind(lambda n, op, s: _is_batchnorm(op), forward._alias, _check_batchnorm),
    "activation": _Kind(lambda n, op, s: op in forward.ACTIVATIONS or op in forward.ACTIVATION_FUNCTIONS,
                        forward._activation),
    "pass": _Kind(lambda n, op, s: op in _PASS_MODULES or op in _PASS_FUNCTIONS, forward._ordinary),
    "average": _Kind(lambda n, op, s: op in _AVERAGES, forward._proportional),
    "sum": _Kind(lambda n, op, s: op in _SUMS, forward._proportional, _check_sum),
    "concat": _Kind(lambda n, op, s: op in _CONCATS, forward._ordinary, _check_concat),
}


def _trace(model: nn.Module) -> torch.fx.Graph:
    try:
        return _Tracer().trace(model)
    except Exception as error:  # fx raises many kinds; the user needs to know that tracing failed
        raise ValueError(
            f"lrp could not trace {type(model).__name__}.forward with torch.fx ({type(error).__name__}: "
            f"{error}); lrp follows the model's graph, so its forward must not branch on tensors' values"
        ) from error


def _step(node: torch.fx.Node, s: _Planning) -> _Step:
    """The node's step: the first kind that matches it, checked; refused if none does."""
    op = _op(node, s.model)
    kind = next((name for name, k in KINDS.items() if k.matches(node, op, s)), None)
    if kind is None:
        raise _refuse(node, s.model)
    step = _Step(node, kind, s.model.get_submodule(node.target) if node.op == "call_module" else None)
    KINDS[kind].check(step, s)
    if KINDS[kind].relevant:
        s.relevant.add(node)
    if kind in ("input", "normalize") or (op in _RESHAPES and node.args[0] in s.pixel_like):
        s.pixel_like.add(node)
        step.pixel_like = True
    step.label = "pixels" if kind in ("input", "normalize") else f"after {_what(node, s.model)}"
    s.by_node[node] = step
    return step


def _plan(model: nn.Module) -> _Plan:
    """Trace ``model`` and check every operation between the input and the logits, before computing."""
    graph = _trace(model)
    placeholders = [n for n in graph.nodes if n.op == "placeholder"]
    if len(placeholders) != 1:
        raise ValueError(f"lrp needs a model whose forward takes one tensor; {type(model).__name__}.forward "
                         f"takes {len(placeholders)}")
    planning = _Planning(model, placeholders[0])
    steps = [_step(node, planning) for node in graph.nodes]
    normalized = any(s.kind == "normalize" for s in steps)
    root = next(i for i, s in enumerate(steps) if s.kind == ("normalize" if normalized else "input"))
    return _Plan(steps, _cuts([s for s in steps[root:] if s.node in planning.relevant], planning.relevant))


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
