"""Interactive explorers for JupyterLab: move a slider, see the explanation change.

Each explorer redraws one matplotlib figure and shows it as PNG in an ``ipywidgets.Image``. (An
``Output`` widget would capture display messages, which nbclient and nbval record differently; an
image widget is a plain value, identical under every executor and in the saved widget state.)
Outside a live kernel the sliders do nothing; the notebooks also show the settings that matter as
ordinary static figures.
"""

from __future__ import annotations

import io

import ipywidgets as widgets
import torch
from matplotlib.figure import Figure
from torch import nn

from helpers._checks import check_images, check_model
from helpers.explain import saliency, smoothgrad
from helpers.viz import show_heatmaps


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()


def _smoothgrad_figure(model: nn.Module, x: torch.Tensor, target: int | torch.Tensor, noise_level: float,
                       n: int, seed: int) -> Figure:
    maps = smoothgrad(model, x, target, n=n, noise_level=noise_level, generator=torch.Generator().manual_seed(seed))
    plain = saliency(model, x, target)
    titles = [f"gradient #{i}" for i in range(len(x))] + [f"SmoothGrad {noise_level:.0%}, n={n}" for _ in x]
    return show_heatmaps(torch.cat([x, x]), torch.cat([plain, maps]), titles, ncols=len(x))


def smoothgrad_explorer(
    model: nn.Module, x: torch.Tensor, target: int | torch.Tensor, *, noise_level: float = 0.15, n: int = 25,
    seed: int = 0,
) -> widgets.VBox:
    """Sliders for SmoothGrad's noise level (0–50 % of the value range) and sample count n (1–100).

    Shows the plain gradient of each image above its SmoothGrad map; every redraw uses the same
    seed, so only the settings change the picture.
    """
    check_model(model)
    check_images(x)
    level = widgets.FloatSlider(value=noise_level, min=0.0, max=0.5, step=0.05, description="noise level",
                                readout_format=".0%", continuous_update=False)
    samples = widgets.IntSlider(value=n, min=1, max=100, step=1, description="n", continuous_update=False)
    picture = widgets.Image(format="png")

    def redraw(_=None) -> None:
        picture.value = _png(_smoothgrad_figure(model, x, target, level.value, samples.value, seed))

    level.observe(redraw, names="value")
    samples.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([level, samples]), picture])


__all__ = ["smoothgrad_explorer"]
