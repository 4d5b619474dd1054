"""Why attacks work (lecture 36): look at the classifier on a plane through an image."""

from __future__ import annotations

import torch
from torch import nn

from helpers._checks import (
    batched,
    check_images,
    check_int,
    check_model,
    check_positive,
    check_tensor,
    frozen,
)


def decision_plane(
    model: nn.Module,
    x: torch.Tensor,
    u: torch.Tensor,
    v: torch.Tensor,
    *,
    span: float,
    resolution: int = 61,
    batch_size: int = 1024,
) -> torch.Tensor:
    """The predicted class at x + a·u/‖u‖∞ + b·v/‖v‖∞ for a, b on a ``resolution``² grid over [−span, span].

    ``x`` is one image (1×C×H×W); ``u`` and ``v`` are directions shaped like it (e.g. the sign of the loss
    gradient and a random sign pattern), scaled so that a step of 1 changes each pixel by at most 1.
    Points are not clipped to [0, 1]: the plane shows the model's geometry, not valid images. Returns an
    int64 grid ``resolution × resolution`` (rows: b from −span to span, columns: a).
    """
    check_model(model)
    check_images(x, model=model)
    if x.shape[0] != 1:
        raise ValueError(f"x must be one image 1×C×H×W; got shape {tuple(x.shape)}")
    for name, d in (("u", u), ("v", v)):
        check_tensor(d, name, what="(a direction shaped like x)", shape=tuple(x.shape))
        if float(d.abs().max()) == 0:
            raise ValueError(f"{name} must be a non-zero direction with finite values")
    check_positive(span, "span")
    check_int(resolution, "resolution", minimum=2)
    check_int(batch_size, "batch_size")
    u, v = (d.detach().to(x) / d.abs().max() for d in (u, v))
    steps = torch.linspace(-span, span, resolution, device=x.device, dtype=x.dtype)
    b, a = torch.meshgrid(steps, steps, indexing="ij")

    def classify(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return model(x + a.view(-1, 1, 1, 1) * u + b.view(-1, 1, 1, 1) * v).argmax(1)

    with torch.no_grad(), frozen(model):
        classes = batched(classify, a.flatten(), b.flatten(), batch_size=batch_size)
    return classes.view(resolution, resolution)


__all__ = ["decision_plane"]
