"""What every attribution method shares: argument checks, the frozen model, the target gradient."""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import nn

from helpers._checks import check_number, check_tensor
from helpers._contract import contract

Attribution = Callable[..., torch.Tensor]


def attribution(method: Attribution) -> Attribution:
    """Turn ``method(model, x, target, **options)`` into a public attribution function under
    ``helpers._contract``.

    The public function checks its arguments (``x`` in [0, 1], ``target`` an int or an int64 tensor
    of shape N within the model's classes), runs ``method`` with the model in eval mode and its
    parameters frozen (restoring both afterwards), and returns a detached tensor. The unchecked
    ``method`` stays reachable as ``.raw``: SmoothGrad calls it on noisy inputs, which may leave
    [0, 1] as the paper's noise does. Options annotated ``bool`` must be True or False, and a map
    that comes out NaN or infinite (a model whose gradients overflow) is refused, not returned.
    """
    run = contract(method, "target", finite=True)

    @functools.wraps(method)
    def public(model: nn.Module, x: torch.Tensor, target: int | torch.Tensor, **options) -> torch.Tensor:
        return run(model, x, target, options)

    public.raw = method  # type: ignore[attr-defined]
    return public


def baseline_image(x: torch.Tensor, baseline: torch.Tensor | float | None,
                   name: str = "baseline") -> torch.Tensor:
    """The reference image that a method compares ``x`` with: black for ``None``, a grey level for a number,
    or a tensor broadcast to ``x``'s shape — in every case pixel values in [0, 1], like ``x`` itself."""
    if baseline is None:
        return torch.zeros_like(x)
    if isinstance(baseline, torch.Tensor):
        check_tensor(baseline, name, what="of pixel values (or a number)", low=0.0, high=1.0)
        try:
            return torch.broadcast_to(baseline.detach().to(x), x.shape)
        except RuntimeError:
            raise ValueError(f"{name} must broadcast to x's shape {tuple(x.shape)}; "
                             f"got {tuple(baseline.shape)}") from None
    return torch.full_like(x, check_number(baseline, name, low=0.0, high=1.0))


def target_gradient(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """∂ f_target(x) / ∂x for every image at once (the images do not interact in eval mode)."""
    x = x.detach().requires_grad_(True)
    logits = model(x)
    (grad,) = torch.autograd.grad(logits.gather(1, target[:, None]).sum(), x)
    return grad


def target_logit(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """f_target(x) per image, without gradients."""
    with torch.no_grad():
        return model(x).gather(1, target[:, None]).squeeze(1)
