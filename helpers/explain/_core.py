"""What every attribution method shares: argument checks, the frozen model, the target gradient."""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import nn

from helpers._checks import check_images, check_labels, check_model, frozen, num_classes

Attribution = Callable[..., torch.Tensor]


def attribution(method: Attribution) -> Attribution:
    """Turn ``method(model, x, target, **options)`` into a public attribution function.

    The public function checks its arguments (``x`` in [0, 1], ``target`` an int or an int64 tensor
    of shape N within the model's classes), runs ``method`` with the model in eval mode and its
    parameters frozen (restoring both afterwards), and returns a detached tensor. The unchecked
    ``method`` stays reachable as ``.raw``: SmoothGrad calls it on noisy inputs, which may leave
    [0, 1] as the paper's noise does.
    """

    @functools.wraps(method)
    def public(model: nn.Module, x: torch.Tensor, target: int | torch.Tensor, **options) -> torch.Tensor:
        check_model(model)
        check_images(x)
        with frozen(model):
            target = check_labels(target, x.shape[0], "target", num_classes=num_classes(model, x))
            return method(model, x.detach(), target.to(x.device), **options).detach()

    public.raw = method  # type: ignore[attr-defined]
    return public


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
