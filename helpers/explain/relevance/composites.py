"""Composites: which LRP rule each layer of a model gets, as data; and the one table of names.

A composite is a list of (layer type or module name → rule) pairs, the first match giving a layer its
rule, plus the rule of the layers that read the pixels (zᴮ and flat need the pixels' bounds)::

    Composite([(nn.Conv2d, Gamma(0.25)), (nn.Linear, Epsilon())], first=ZBox())   # = "epsilon_gamma_box"
    Composite([("classifier.*", Epsilon(0.25)), (nn.Conv2d, ZPlus())])          # by name, glob patterns
"""

from __future__ import annotations

import fnmatch
import inspect
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from helpers._checks import check_bool, check_choice, check_model, check_positive
from helpers.explain.relevance.rules import (
    STABILIZER,
    AlphaBeta,
    Epsilon,
    Flat,
    Gamma,
    Rule,
    ZBox,
    Zero,
    ZPlus,
)

LINEAR = (nn.Conv2d, nn.Linear)
Key = type | tuple[type, ...] | str


def _check_rule(rule: object, name: str) -> Rule:
    if not isinstance(rule, Rule):
        raise TypeError(f"{name} must be an LRP rule: an object of a subclass of helpers.explain.relevance."
                        f"Rule such as Epsilon(0.1) or one of your own; got {type(rule).__name__}")
    return rule


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
            if _check_rule(rule, "a composite's rule").reads_pixels:
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


def one_rule(rule: Rule) -> Composite:
    """The composite that gives every ``Conv2d`` and ``Linear`` layer ``rule``."""
    if _check_rule(rule, "rule").reads_pixels:  # zᴮ or flat on the pixels, ε elsewhere
        return Composite([(LINEAR, Epsilon())], first=rule)
    return Composite([(LINEAR, rule)], stabilizer=None if isinstance(rule, Zero) else STABILIZER)


@dataclass(frozen=True)
class _Name:
    """A name that ``lrp`` accepts: the option that takes it and the composite it stands for."""

    option: str  # "rule" (one rule on every layer) or "composite"
    build: Callable[..., Composite]  # its keyword arguments are the options it reads: epsilon, gamma

    @property
    def reads(self) -> tuple[str, ...]:
        return tuple(inspect.signature(self.build).parameters)


NAMED: dict[str, _Name] = {  # the one table of names: name → the option that takes it, its composite
    "zero": _Name("rule", lambda: one_rule(Zero())),
    "epsilon": _Name("rule", lambda epsilon: one_rule(Epsilon(epsilon))),
    "gamma": _Name("rule", lambda gamma: one_rule(Gamma(gamma))),
    "alpha1beta0": _Name("rule", lambda: one_rule(ZPlus())),
    "alpha2beta1": _Name("rule", lambda: one_rule(AlphaBeta(2.0, 1.0))),
    "zbox": _Name("rule", lambda epsilon: Composite([(LINEAR, Epsilon(epsilon))], first=ZBox())),
    "epsilon_gamma_box": _Name("composite", lambda epsilon, gamma: Composite(
        [(nn.Conv2d, Gamma(gamma)), (nn.Linear, Epsilon(epsilon))], first=ZBox())),
    "epsilon_plus": _Name("composite", lambda epsilon: Composite(
        [(nn.Conv2d, ZPlus()), (nn.Linear, Epsilon(epsilon))])),
    "epsilon_plus_flat": _Name("composite", lambda epsilon: Composite(
        [(nn.Conv2d, ZPlus()), (nn.Linear, Epsilon(epsilon))], first=Flat())),
}
RULES = tuple(n for n, entry in NAMED.items() if entry.option == "rule")  # names for ``rule``
COMPOSITES = tuple(n for n, entry in NAMED.items() if entry.option == "composite")  # names for ``composite``
DEFAULTS = {"epsilon": 1e-6, "gamma": 0.25}  # the ε and γ of a named rule or composite


def composite_for(rule: str | Rule | None = None, *, epsilon: float | None = None, gamma: float | None = None,
                  composite: str | Composite | None = None) -> Composite:
    """The composite that ``lrp``'s options name: ``composite`` (a name or a ``Composite``) if given, else
    ``rule`` (a name or a rule object; ``None``: ``"epsilon"``) on every layer. ``epsilon`` and ``gamma``
    (``None``: 10⁻⁶ and 0.25) set the ε and γ of a named rule or composite; one that the choice would not
    read (``rule`` beside ``composite``, ``epsilon`` beside a rule object, ``gamma`` beside
    ``"epsilon_plus"``, …) is refused rather than dropped."""
    given = {n: check_positive(v, n, allow_zero=True) for n, v in (("epsilon", epsilon), ("gamma", gamma))
             if v is not None}
    if composite is None:
        choice, option, unread = ("epsilon" if rule is None else rule), "rule", {}
    else:
        choice, option, unread = composite, "composite", ({} if rule is None else {"rule": rule})
    if isinstance(choice, str):
        entry = NAMED[check_choice(choice, option, RULES if option == "rule" else COMPOSITES)]
        _refuse_unread({**unread, **{n: v for n, v in given.items() if n not in entry.reads}}, option, choice)
        return entry.build(**{n: given.get(n, DEFAULTS[n]) for n in entry.reads})
    if option == "composite" and not isinstance(choice, Composite):
        check_choice(choice, "composite", COMPOSITES)  # neither a Composite nor a name: refused
    chosen = choice if option == "composite" else one_rule(choice)
    _refuse_unread({**unread, **given}, option, choice)
    return chosen


def _refuse_unread(unread: dict[str, object], option: str, choice: object) -> None:
    if unread:
        names = " and ".join(unread)
        shown = repr(choice) if isinstance(choice, str) else type(choice).__name__
        raise ValueError(f"{names} would be ignored with {option}={shown}: it does not read "
                         f"{'them' if len(unread) > 1 else 'it'}; drop {names} (or build the Composite or "
                         "rule with the values you want)")


__all__ = ["Composite", "one_rule", "composite_for", "NAMED", "RULES", "COMPOSITES", "LINEAR"]
