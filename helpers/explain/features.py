"""What a filter looks for: its activations on real images, and the image that excites it most."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from helpers._checks import (
    check_generator,
    check_images,
    check_int,
    check_model,
    check_positive,
    frozen,
    own_generator,
)
from helpers.explain.cam import _capture, check_layer
from helpers.training import model_device


def filter_activations(model: nn.Module, layer: nn.Module | str, x: torch.Tensor) -> torch.Tensor:
    """The output of ``layer`` (a module of ``model``, or its dotted name) for images ``x``: N×K×h×w for a
    convolution, one map per filter. Evaluated in eval mode without gradients; detached, on ``x``'s device."""
    check_model(model)
    check_images(x, model=model)
    check_layer(model, layer)
    with torch.no_grad(), frozen(model):
        return _capture(model, layer, x)[0].detach()


def _blur(images: torch.Tensor, sigma: float = 0.5) -> torch.Tensor:
    """A 3×3 Gaussian blur per channel, edges replicated."""
    k = torch.exp(-torch.tensor([1.0, 0.0, 1.0], dtype=images.dtype, device=images.device) / (2 * sigma**2))
    kernel = (k[:, None] * k[None, :]) / (k.sum() ** 2)
    channels = images.shape[1]
    padded = F.pad(images, (1, 1, 1, 1), mode="replicate")
    return F.conv2d(padded, kernel.expand(channels, 1, 3, 3), groups=channels)


def activation_maximization(
    model: nn.Module,
    layer: nn.Module | str,
    channel: int | Sequence[int],
    *,
    shape: tuple[int, int, int],
    steps: int = 200,
    lr: float = 0.05,
    l2: float = 1e-3,
    blur_every: int = 4,
    jitter: int = 1,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Filter visualisation by gradient ascent (Erhan et al. 2009; Yosinski et al. 2015; CS231n):

        x* = argmax_{x ∈ [0, 1]^shape}  mean_ij A_channel,ij(x) − l2 · ‖x − ½‖²

    Adam on the image, from grey plus a little noise; each step first shifts the image by a random
    offset of up to ``jitter`` pixels (so the pattern cannot rely on exact positions), every
    ``blur_every`` steps a light Gaussian blur removes high-frequency noise (0 turns it off), and
    the image is kept in [0, 1]. One image per entry of ``channel``, all optimised together.
    Returns ``len(channel)×C×H×W`` on the model's device.
    With ``generator=None`` the randomness comes from torch's global RNG.
    """
    check_model(model)
    check_layer(model, layer)
    channels = [channel] if isinstance(channel, int) else list(channel)
    if not channels or not all(isinstance(c, int) and c >= 0 for c in channels):
        raise ValueError(f"channel must be a non-negative int or a list of them; got {channel!r}")
    if not (isinstance(shape, tuple) and len(shape) == 3
            and all(isinstance(s, int) and s >= 1 for s in shape)):
        raise ValueError(f"shape must be (C, H, W) of positive ints; got {shape!r}")
    check_int(steps, "steps")
    check_positive(lr, "lr")
    check_positive(l2, "l2", allow_zero=True)
    check_int(blur_every, "blur_every", minimum=0)
    check_int(jitter, "jitter", minimum=0)
    check_generator(generator)

    device = model_device(model)
    g = own_generator(generator)
    start = 0.5 + 0.01 * torch.randn((len(channels), *shape), generator=g)
    image = start.to(device).requires_grad_(True)
    optimiser = torch.optim.Adam([image], lr=lr)
    index = torch.tensor(channels, device=device)
    with frozen(model):
        for step in range(steps):
            dy, dx = (torch.randint(-jitter, jitter + 1, (2,), generator=g).tolist() if jitter else (0, 0))
            shifted = torch.roll(image, shifts=(dy, dx), dims=(2, 3))
            activation = _capture(model, layer, shifted)[0]
            if index.max() >= activation.shape[1]:
                raise ValueError(f"channel must be below the layer's {activation.shape[1]} channels; "
                                 f"got {channels}")
            chosen = activation[torch.arange(len(channels), device=device), index]
            objective = chosen.flatten(1).mean(1).sum() - l2 * ((image - 0.5) ** 2).sum()
            optimiser.zero_grad()
            (-objective).backward()
            optimiser.step()
            with torch.no_grad():
                if blur_every and (step + 1) % blur_every == 0:
                    image.copy_(_blur(image))
                image.clamp_(0.0, 1.0)
    return image.detach()


__all__ = ["filter_activations", "activation_maximization"]
