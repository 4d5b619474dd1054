"""Grad-CAM: where in a convolutional feature map the evidence for a class lies."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from helpers._checks import check_bool, check_model
from helpers.explain._core import attribution


def check_layer(model: nn.Module, layer: object) -> nn.Module:
    """``layer`` must be one of ``model``'s own modules (e.g. ``model[4]``)."""
    check_model(model)
    if not isinstance(layer, nn.Module) or not any(m is layer for m in model.modules()):
        got = type(layer).__name__ if not isinstance(layer, nn.Module) else f"a {type(layer).__name__} of another model"
        raise ValueError(f"layer must be a module of the model (e.g. model[4]); got {got}")
    return layer


def _layer_output_and_gradient(
    model: nn.Module, x: torch.Tensor, target: torch.Tensor, layer: nn.Module
) -> tuple[torch.Tensor, torch.Tensor]:
    """The output A of ``layer`` and ∂f_target/∂A, from one forward and one backward pass."""
    captured: list[torch.Tensor] = []

    def hook(_module: nn.Module, _inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        leaf = output.detach().requires_grad_(True)  # the rest of the forward pass starts from here
        captured.append(leaf)
        return leaf

    handle = check_layer(model, layer).register_forward_hook(hook)
    try:
        logits = model(x)
    finally:
        handle.remove()
    (activation,) = captured
    (grad,) = torch.autograd.grad(logits.gather(1, target[:, None]).sum(), activation)
    return activation.detach(), grad


def cam_from_gradients(activation: torch.Tensor, gradient: torch.Tensor, *, relu: bool = True) -> torch.Tensor:
    """Grad-CAM's map from a feature map A (N×K×h×w) and ∂f_c/∂A: ReLU(Σ_k α_k A_k), α_k the spatial
    mean of the gradient of channel k. Returns N×1×h×w."""
    for name, value in (("activation", activation), ("gradient", gradient)):
        if not isinstance(value, torch.Tensor) or value.dim() != 4 or not value.is_floating_point():
            got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise ValueError(f"{name} must be a float feature map N×K×h×w; got {got}")
        if not bool(torch.isfinite(value).all()):
            raise ValueError(f"{name} contains NaN or infinite values")
    if activation.shape != gradient.shape:
        raise ValueError(f"gradient must be shaped like activation {tuple(activation.shape)}; got "
                         f"{tuple(gradient.shape)}")
    check_bool(relu, "relu")
    weights = gradient.mean(dim=(2, 3), keepdim=True)
    cam = (weights * activation).sum(1, keepdim=True)
    return cam.clamp(min=0) if relu else cam


@attribution
def grad_cam(
    model: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    *,
    layer: nn.Module,
    relu: bool = True,
    upsample: bool = True,
) -> torch.Tensor:
    """Grad-CAM (Selvaraju et al. 2017) at ``layer``, a module of ``model`` with output A (N×K×h×w):

        α_k = 1/(h·w) Σ_ij ∂f_c/∂A_kij,        L = ReLU(Σ_k α_k A_k)

    Returns ``N×1×H×W``, bilinearly upsampled to the input's size (``upsample=False``: ``N×1×h×w``,
    the layer's resolution). ``relu=False`` keeps the negative evidence. Captum's ``LayerGradCam``
    with ``relu_attributions=True`` computes the same before upsampling.
    """
    activation, grad = _layer_output_and_gradient(model, x, target, layer)
    if activation.dim() != 4:
        raise ValueError(f"layer must output a N×K×h×w feature map; its output has shape {tuple(activation.shape)}")
    cam = cam_from_gradients(activation, grad, relu=relu)
    if upsample:
        cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)
    return cam


__all__ = ["grad_cam", "cam_from_gradients", "check_layer"]
