"""Explanation-guided training: "right for the right reasons" (Ross, Hughes & Doshi-Velez, IJCAI 2017).

A model can be right for the wrong reason — it reads a watermark instead of the object. If we know
which pixels must *not* matter (an annotation mask A, 1 where the reason would be wrong), we can say so
in the loss: penalise the input gradient of the log-probabilities on those pixels,

    L(θ) = CE(y, f_θ(x)) + λ · mean_n Σ_d ( A_nd · ∂/∂x_nd Σ_k log p_θ(k | x_n) )².

Ross et al. sum the penalty over the batch; we average it over images, as the cross-entropy is, so that λ
does not depend on the batch size. ``rrr_loss`` has the ``(model, x, y)`` shape of a training loss once
its mask and weight are bound (``functools.partial``), so ``helpers.training.train`` takes it as ``loss_fn``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from helpers._checks import (
    check_images,
    check_labels,
    check_logits,
    check_model,
    check_positive,
    check_tensor,
    misfit_named,
    shape_or_type,
)


def _check_mask(mask: object, x: torch.Tensor) -> torch.Tensor:
    """An annotation mask that broadcasts against ``x``: N×C×H×W, N×1×H×W, 1×1×H×W (bool or float in
    [0, 1])."""
    if not isinstance(mask, torch.Tensor) or mask.dim() != 4 or mask.shape[2:] != x.shape[2:] \
            or mask.shape[0] not in (1, x.shape[0]) or mask.shape[1] not in (1, x.shape[1]):
        got = shape_or_type(mask)
        raise ValueError(f"mask must be N×C×H×W, N×1×H×W or 1×1×H×W matching x {tuple(x.shape)}; got {got}")
    check_tensor(mask, "mask", what="(True/1 on the pixels that must not matter)", dtype=None, low=0, high=1)
    return mask.to(x.device, x.dtype)


def _log_p_and_gradient(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """log p(k | x) and ∂/∂x Σ_k log p(k | x), the latter kept differentiable (``create_graph=True``)."""
    x = x.detach().requires_grad_(True)  # a new leaf: the caller's tensor is untouched
    with misfit_named():
        log_p = F.log_softmax(check_logits(model(x), len(x)), dim=1)
    (grad,) = torch.autograd.grad(log_p.sum(), x, create_graph=True)
    return log_p, grad


def rrr_penalty(model: nn.Module, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The "right reasons" term: mean over images of Σ_d (A_d · ∂/∂x_d Σ_k log p(k | x))².

    The gradient is taken with ``create_graph=True``, so the result can be differentiated again with
    respect to the model's parameters (double backpropagation). Returns a scalar tensor attached to the
    graph; the model's mode is left as it is (in training, dropout stays on).
    """
    check_model(model)
    check_images(x, model=model)
    mask = _check_mask(mask, x)
    _, grad = _log_p_and_gradient(model, x)
    return (mask * grad).pow(2).flatten(1).sum(1).mean()


def rrr_loss(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, mask: torch.Tensor, weight: float
) -> torch.Tensor:
    """Right-for-the-right-reasons loss: cross-entropy + ``weight`` · ``rrr_penalty`` (one forward pass).

        L = CE(y, f(x)) + λ · mean_n Σ_d (A_nd ∂/∂x_nd Σ_k log p(k | x_n))²

    with λ = ``weight`` ≥ 0 and A = ``mask``.
    """
    check_model(model)
    check_images(x, model=model)
    y = check_labels(y, x.shape[0], "y")
    check_positive(weight, "weight", allow_zero=True)  # finite too
    mask = _check_mask(mask, x)
    log_p, grad = _log_p_and_gradient(model, x)
    y = check_labels(y, x.shape[0], "y", num_classes=log_p.shape[1])
    penalty = (mask * grad).pow(2).flatten(1).sum(1).mean()
    return F.nll_loss(log_p, y.to(log_p.device)) + weight * penalty


__all__ = ["rrr_penalty", "rrr_loss"]
