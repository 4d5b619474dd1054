"""The contract of every public attack and attribution method, written once.

``method(model, x, labels, **options)`` becomes a public function that checks ``model``, the images
``x`` (in [0, 1]), the ``bool`` options and the labels (an int or int64 labels of shape N within the
model's classes), runs with the model in eval mode and its parameters frozen (both restored
afterwards, on every exit path) and returns a detached tensor. ``attacks._core.attack`` and
``explain._core.attribution`` are this with their label's name (``y``, ``target``) and, for
attributions, the refusal of a NaN or infinite map.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

import torch
from torch import nn

from helpers._checks import (
    bool_options,
    check_bool,
    check_images,
    check_labels,
    check_model,
    frozen,
    num_classes,
)

Method = Callable[..., torch.Tensor]


@contextmanager
def checked(model: nn.Module, x: torch.Tensor, labels: int | torch.Tensor, name: str,
            flags: Mapping[str, object] | None = None) -> Iterator[torch.Tensor]:
    """Check ``model``, ``x``, the ``bool`` options ``flags`` and the labels (called ``name``), then
    freeze the model for the block, which gets the labels as int64 on ``x``'s device."""
    check_model(model)
    check_images(x, model=model)
    for option, value in (flags or {}).items():
        check_bool(value, option)
    with frozen(model):
        yield check_labels(labels, x.shape[0], name, num_classes=num_classes(model, x)).to(x.device)


def check_finite(result: torch.Tensor, what: str) -> torch.Tensor:
    """Refuse a NaN or infinite result (a model whose gradients overflow) instead of returning it."""
    if not bool(torch.isfinite(result).all()):
        raise ValueError(f"model gave a NaN or infinite {what} for x — check its weights")
    return result


def contract(method: Method, label: str, finite: bool = False) -> Callable[..., torch.Tensor]:
    """``run(model, x, labels, options)``: ``method`` under the contract, its result detached (and
    checked finite when ``finite``)."""
    flags = bool_options(method)

    @functools.wraps(method)
    def run(model: nn.Module, x: torch.Tensor, labels: int | torch.Tensor, options: dict) -> torch.Tensor:
        with checked(model, x, labels, label, {name: options[name] for name in flags & options.keys()}) as y:
            result = method(model, x.detach(), y, **options).detach()
        return check_finite(result, method.__name__.lstrip("_")) if finite else result

    return run
