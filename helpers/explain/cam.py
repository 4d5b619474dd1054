"""Grad-CAM: where in a convolutional feature map the evidence for a class lies."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from helpers._checks import check_bool, check_model, check_tensor
from helpers.explain._core import attribution


def _named_layer(model: nn.Module, layer: object) -> tuple[str, nn.Module]:
    """(name, module) of ``layer``, a module of ``model`` or its dotted name (``"layer4.1.conv2"``)."""
    convolutions = [name for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    example = repr(convolutions[-1]) if convolutions else "'0'"
    if isinstance(layer, str):
        try:
            return layer, model.get_submodule(layer)
        except AttributeError:
            names = ", ".join(repr(name) for name, _ in list(model.named_modules())[1:5])
            raise ValueError(f"layer {layer!r} is not a module of the model; its modules are named like "
                             f"{names}, … (e.g. {example})") from None
    if isinstance(layer, nn.Module):
        for name, module in model.named_modules():
            if module is layer:
                return name, module
        raise ValueError(f"layer must be a module of the model or its dotted name (e.g. {example}); got a "
                         f"{type(layer).__name__} of another model")
    raise TypeError(f"layer must be a module of the model or its dotted name (e.g. {example}); got "
                    f"{type(layer).__name__}")


def check_layer(model: nn.Module, layer: object) -> nn.Module:
    """``layer`` must be one of ``model``'s own modules, or its dotted name; returns the module."""
    check_model(model)
    return _named_layer(model, layer)[1]


def _capture(model: nn.Module, layer: nn.Module | str, x: torch.Tensor, *, leaf: bool = False
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``model`` on ``x``; return the output A of ``layer`` and the model's output, from one forward pass.

    The rest of the model receives a copy of A, so an in-place operation after the layer (a ResNet block's
    ``out += identity`` after its ``bn2``) leaves A as the layer made it. With ``leaf``, A is a leaf that
    requires grad, and the forward pass continues from it (for ∂f/∂A); otherwise A keeps its graph.
    A layer that never runs, runs twice, or returns something else than a tensor is refused by name.
    """
    name, module = _named_layer(model, layer)
    described = f"layer '{name}' ({type(module).__name__})"
    captured: list[torch.Tensor] = []

    def hook(_module: nn.Module, _inputs: tuple, output: object) -> torch.Tensor:
        if not isinstance(output, torch.Tensor):
            raise ValueError(f"{described} returns a {type(output).__name__}, not a tensor; pick a layer "
                             "whose output is a feature map")
        if captured:
            raise ValueError(f"{described} runs more than once in one forward pass, so it has no single "
                             "output; pick a module that runs once (a block reusing its ReLU: the block "
                             "itself, or the layer before the ReLU)")
        captured.append(output.detach().requires_grad_(True) if leaf else output)
        return captured[0].clone()

    handle = module.register_forward_hook(hook)
    try:
        out = model(x)
    finally:
        handle.remove()
    if not captured:
        raise ValueError(f"{described} did not run in the model's forward pass; pick a module the forward "
                         "uses")
    return captured[0], out


def _layer_output_and_gradient(
    model: nn.Module, x: torch.Tensor, target: torch.Tensor, layer: nn.Module | str
) -> tuple[torch.Tensor, torch.Tensor]:
    """The output A of ``layer`` and ∂f_target/∂A, from one forward and one backward pass."""
    activation, logits = _capture(model, layer, x, leaf=True)
    (grad,) = torch.autograd.grad(logits.gather(1, target[:, None]).sum(), activation)
    return activation.detach(), grad


def cam_from_gradients(activation: torch.Tensor, gradient: torch.Tensor, *,
                       relu: bool = True) -> torch.Tensor:
    """Grad-CAM's map from a feature map A (N×K×h×w) and ∂f_c/∂A: ReLU(Σ_k α_k A_k), α_k the spatial
    mean of the gradient of channel k. Returns N×1×h×w."""
    for name, value in (("activation", activation), ("gradient", gradient)):
        check_tensor(value, name, what="feature map N×K×h×w", dims=4)
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
    layer: nn.Module | str,
    relu: bool = True,
    upsample: bool = True,
) -> torch.Tensor:
    """Grad-CAM (Selvaraju et al. 2017) at ``layer`` — a module of ``model`` or its dotted name
    (``"layer4.1.bn2"``) — whose output A is N×K×h×w:

        α_k = 1/(h·w) Σ_ij ∂f_c/∂A_kij,        L = ReLU(Σ_k α_k A_k)

    Returns ``N×1×H×W``, bilinearly upsampled to the input's size (``upsample=False``: ``N×1×h×w``,
    the layer's resolution). ``relu=False`` keeps the negative evidence. Captum's ``LayerGradCam``
    with ``relu_attributions=True`` computes the same before upsampling.
    """
    activation, grad = _layer_output_and_gradient(model, x, target, layer)
    if activation.dim() != 4:
        raise ValueError(f"layer must output a N×K×h×w feature map; "
                         f"its output has shape {tuple(activation.shape)}")
    cam = cam_from_gradients(activation, grad, relu=relu)
    if upsample:
        cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)
    return cam


__all__ = ["grad_cam", "cam_from_gradients", "check_layer"]
