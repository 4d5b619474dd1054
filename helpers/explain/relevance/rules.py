"""LRP rules: how one ``Conv2d`` or ``Linear`` layer sends its output's relevance to its input.

A rule is an object of a subclass of ``Rule`` (as in Zennit): ``rule(layer, a, pixels)`` returns the
layer's output z computed so that its *value* is z and its *gradient* is the rule's (the straight-through
trick of ``redistribute``). A user's subclass works in ``lrp`` and in composites like the built-in ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from helpers._checks import check_number, check_positive

STABILIZER = 1e-6  # the stabiliser of the γ, z⁺, αβ, zᴮ and flat rules, of sums and pools (Zennit's default)

Terms = list[tuple[torch.Tensor, torch.Tensor | float | None]]


def _stabilize(z: torch.Tensor, eps: float) -> torch.Tensor:
    return z + eps * torch.where(z >= 0, 1.0, -1.0).to(z)


def redistribute(z: torch.Tensor, terms: Terms, stabilizer: float) -> torch.Tensor:
    """The straight-through trick, written once: a tensor with the value z and the gradient

        Σ_t ∂z_t/∂a · (m_t z / stab(z_t)),        stab(z) = z + ε·sign(z)  (sign(0) = +1, ε = stabilizer)

    for ``terms`` = [(z_t, m_t), …]: modified forward passes z_t of the layer and the weights (masks or
    numbers; ``None`` = 1) with which they pass the output's relevance R = z·∂/∂z on. The relevance of the
    input a is then a ⊙ ∂/∂a = Σ_t a ⊙ ∂z_t/∂a · m_t R / stab(z_t). With ε = 0 a zero denominator passes
    nothing."""
    check_positive(stabilizer, "stabilizer", allow_zero=True)
    out = z.detach()
    for z_t, mask in terms:
        denominator = _stabilize(z_t, stabilizer)
        factor = (z / denominator if stabilizer > 0
                  else torch.where(denominator == 0, 0.0, z / denominator))
        out = out + (z_t - z_t.detach()) * (factor if mask is None else mask * factor).detach()
    return out


class Affine:
    """A Conv2d or Linear layer with the BatchNorm after it folded in: z = op(a, weight) + bias. What a
    rule receives as ``layer``: its ``weight`` and ``bias`` (folded), and ``layer(a, weight, bias=None)``
    to run the layer with other parameters (without a bias unless given one)."""

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
class Pixels:
    """What a rule with ``reads_pixels = True`` receives as ``pixels``: the pixels' bounds ``low`` and
    ``high`` and a tensor of ``ones``, each shaped like the layer's input."""

    low: torch.Tensor
    high: torch.Tensor
    ones: torch.Tensor


class Rule:
    """The base of every LRP rule. A subclass (usually a frozen dataclass holding the rule's
    parameters) defines

        __call__(layer, a, pixels=None) -> z

    where ``layer.weight`` and ``layer.bias`` are the layer's parameters (BatchNorm folded in),
    ``layer(a, weight, bias=None)`` computes the layer with other parameters, and ``a`` is its input;
    it returns the output z with the rule's gradient, usually ``redistribute(layer(a, w, b), terms, ε)``.
    ``name`` labels the rule in ``conservation``'s report (the class name if empty); a rule with
    ``reads_pixels = True`` (zᴮ, flat) is for the layers that read the pixels and receives ``pixels``:
    the pixels' bounds ``low`` and ``high`` and a tensor of ``ones``, shaped like ``a``.
    """

    name: ClassVar[str] = ""
    reads_pixels: ClassVar[bool] = False

    def __call__(self, layer: Affine, a: torch.Tensor, pixels: Pixels | None = None) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must define __call__(layer, a, pixels=None), "
                                  "returning the layer's output with the rule's gradient")


@dataclass(frozen=True)
class Zero(Rule):
    """LRP-0: R_j = Σ_k a_j w_jk / z_k · R_k (gradient × input)."""

    name = "zero"

    def __call__(self, layer: Affine, a: torch.Tensor, pixels: Pixels | None = None) -> torch.Tensor:
        return layer(a, layer.weight, layer.bias)


@dataclass(frozen=True)
class Epsilon(Rule):
    """LRP-ε: R_j = Σ_k a_j w_jk / (z_k + ε·sign(z_k)) · R_k; ε absorbs weak or contradictory
    evidence."""

    epsilon: float = 1e-6
    name = "epsilon"

    def __post_init__(self) -> None:
        check_positive(self.epsilon, "epsilon", allow_zero=True)

    def __call__(self, layer: Affine, a: torch.Tensor, pixels: Pixels | None = None) -> torch.Tensor:
        z = layer(a, layer.weight, layer.bias)
        return redistribute(z, [(z, None)], self.epsilon)


@dataclass(frozen=True)
class Gamma(Rule):
    """LRP-γ: positive contributions boosted by γ (Zennit's generalised ``Gamma``; the package docstring)."""

    gamma: float = 0.25
    name = "gamma"

    def __post_init__(self) -> None:
        check_positive(self.gamma, "gamma", allow_zero=True)

    def __call__(self, layer: Affine, a: torch.Tensor, pixels: Pixels | None = None) -> torch.Tensor:
        w, b, g = layer.weight, layer.bias, self.gamma
        up_w, up_b = w + g * w.clamp(min=0), b + g * b.clamp(min=0)
        down_w, down_b = w + g * w.clamp(max=0), b + g * b.clamp(max=0)
        pos, neg = a.clamp(min=0), a.clamp(max=0)
        z = layer(a, w, b)
        z_up = layer(pos, up_w, up_b) + layer(neg, down_w)  # evidence for a positive output
        z_down = layer(pos, down_w, down_b) + layer(neg, up_w)  # evidence for a negative output
        return redistribute(z, [(z_up, (z > 0).to(z)), (z_down, (z < 0).to(z))], STABILIZER)


def _positive_part(layer: Affine, a: torch.Tensor) -> torch.Tensor:
    """z⁺ = Σ_j (a_j w_jk)⁺ + b⁺: the contributions that push the output up."""
    w, b = layer.weight, layer.bias
    return layer(a.clamp(min=0), w.clamp(min=0), b.clamp(min=0)) + layer(a.clamp(max=0), w.clamp(max=0))


def _negative_part(layer: Affine, a: torch.Tensor) -> torch.Tensor:
    """z⁻ = Σ_j (a_j w_jk)⁻ + b⁻: the contributions that push the output down."""
    w, b = layer.weight, layer.bias
    return layer(a.clamp(min=0), w.clamp(max=0), b.clamp(max=0)) + layer(a.clamp(max=0), w.clamp(min=0))


@dataclass(frozen=True)
class ZPlus(Rule):
    """LRP-z⁺ (α1β0): only positive contributions a⁺w⁺ (+ b⁺) and a⁻w⁻ carry relevance."""

    name = "zplus"

    def __call__(self, layer: Affine, a: torch.Tensor, pixels: Pixels | None = None) -> torch.Tensor:
        z = layer(a, layer.weight, layer.bias)
        return redistribute(z, [(_positive_part(layer, a), None)], STABILIZER)


@dataclass(frozen=True)
class AlphaBeta(Rule):
    """LRP-αβ (Bach et al. 2015, "On pixel-wise explanations…", eq. 60): positive and negative
    contributions are redistributed apart, weighted α and −β,

        R_j = Σ_k (α (a_j w_jk)⁺ / z⁺_k − β (a_j w_jk)⁻ / z⁻_k) · R_k,        α − β = 1,

    with z⁺_k = Σ_j (a_j w_jk)⁺ + b⁺_k and z⁻_k = Σ_j (a_j w_jk)⁻ + b⁻_k (each stabilised by ε = 10⁻⁶
    with its sign). α = 2, β = 1 is the classic choice; α = 1, β = 0 is ``ZPlus``. Zennit's ``AlphaBeta``.
    """

    alpha: float = 2.0
    beta: float = 1.0
    name = "alphabeta"

    def __post_init__(self) -> None:
        alpha = check_number(self.alpha, "alpha", low=1.0)
        beta = check_positive(self.beta, "beta", allow_zero=True)
        if not math.isclose(alpha - beta, 1.0, rel_tol=0.0, abs_tol=1e-12):
            raise ValueError(f"alpha − beta must be 1 (relevance is conserved only then); "
                             f"got alpha={alpha}, beta={beta}")

    def __call__(self, layer: Affine, a: torch.Tensor, pixels: Pixels | None = None) -> torch.Tensor:
        terms = [(_positive_part(layer, a), self.alpha), (_negative_part(layer, a), -self.beta)]
        return redistribute(layer(a, layer.weight, layer.bias), terms, STABILIZER)


@dataclass(frozen=True)
class ZBox(Rule):
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

    def __call__(self, layer: Affine, a: torch.Tensor, pixels: Pixels | None = None) -> torch.Tensor:
        w, b = layer.weight, layer.bias
        z_box = layer(a, w, b) - layer(pixels.low, w.clamp(min=0), b.clamp(min=0)) - layer(
            pixels.high, w.clamp(max=0), b.clamp(max=0))
        return redistribute(layer(a, w, b), [(z_box, None)], STABILIZER)


@dataclass(frozen=True)
class Flat(Rule):
    """Flat (Lapuschkin et al. 2019): each output's relevance spread evenly over its receptive field,
    whatever the pixels and weights (a first-layer rule: it ignores the activations)."""

    name = "flat"
    reads_pixels = True

    def __call__(self, layer: Affine, a: torch.Tensor, pixels: Pixels | None = None) -> torch.Tensor:
        z_flat = layer(pixels.ones, torch.ones_like(layer.weight))
        return redistribute(layer(a, layer.weight, layer.bias), [(z_flat, None)], STABILIZER)


__all__ = ["Rule", "Affine", "Pixels", "Zero", "Epsilon", "Gamma", "ZPlus", "AlphaBeta", "ZBox", "Flat",
           "redistribute", "STABILIZER"]
