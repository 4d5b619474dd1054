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

from helpers import attacks
from helpers._checks import check_choice, check_images, check_labels, check_model, frozen
from helpers.explain import saliency, smoothgrad
from helpers.viz import show_heatmaps

ATTACKS = {
    "FGSM": lambda m, x, y, eps: attacks.fgsm(m, x, y, eps=eps),
    "I-FGSM (10 steps)": lambda m, x, y, eps: attacks.ifgsm(m, x, y, eps=eps, alpha=eps / 4, steps=10),
    "PGD (20 steps)": lambda m, x, y, eps: attacks.pgd(m, x, y, eps=eps, alpha=eps / 4, steps=20,
                                                      generator=torch.Generator().manual_seed(0)),
    "MI-FGSM (10 steps)": lambda m, x, y, eps: attacks.mifgsm(m, x, y, eps=eps, alpha=eps / 10, steps=10),
}


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


def _epsilon_figure(model: nn.Module, x: torch.Tensor, y: torch.Tensor, attack: str, eps: float,
                    class_names: list[str] | None) -> Figure:
    x_adv = ATTACKS[attack](model, x, y, eps) if eps > 0 else x.clone()
    with torch.no_grad(), frozen(model):
        probs = model(x_adv).softmax(1)[0].cpu()
    names = class_names or [str(k) for k in range(len(probs))]
    delta = (x_adv - x)[0].cpu()
    figure = Figure(figsize=(9.0, 2.8), layout="constrained")
    image_ax, delta_ax, bar_ax = figure.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1, 1.6]})
    shown = x_adv[0].cpu()
    image_ax.imshow((shown[0] if shown.shape[0] == 1 else shown.permute(1, 2, 0)).numpy(), cmap="gray", vmin=0, vmax=1)
    image_ax.set_title(f"{attack}, ε = {eps:.3f}", fontsize=9)
    scale = float(delta.abs().max()) or 1.0
    delta_ax.imshow(delta.sum(0).numpy(), cmap="bwr", vmin=-scale, vmax=scale)
    delta_ax.set_title(f"perturbation (×{1 / scale:.0f})" if eps > 0 else "no perturbation", fontsize=9)
    for ax in (image_ax, delta_ax):
        ax.set_axis_off()
    colours = ["tab:green" if k == int(y[0]) else "tab:gray" for k in range(len(probs))]
    bar_ax.barh(range(len(probs)), probs.numpy(), color=colours)
    bar_ax.set_yticks(range(len(probs)), names, fontsize=8)
    bar_ax.invert_yaxis()
    bar_ax.set_xlim(0, 1)
    bar_ax.set_title(f"prediction: {names[int(probs.argmax())]} ({float(probs.max()):.0%})", fontsize=9)
    return figure


def epsilon_explorer(
    model: nn.Module, x: torch.Tensor, y: int | torch.Tensor, *, attack: str = "FGSM", eps: float = 0.05,
    class_names: list[str] | None = None,
) -> widgets.VBox:
    """An ε slider (0–0.3) and an attack picker for the first image of ``x``: the adversarial image, its
    perturbation (amplified to full contrast) and the model's probabilities (true class in green)."""
    check_model(model)
    check_images(x)
    y = check_labels(y, x.shape[0], "y").to(x.device)
    check_choice(attack, "attack", tuple(ATTACKS))
    x, y = x[:1], y[:1]
    budget = widgets.FloatSlider(value=eps, min=0.0, max=0.3, step=0.005, description="ε", readout_format=".3f",
                                 continuous_update=False)
    picker = widgets.Dropdown(options=list(ATTACKS), value=attack, description="attack")
    picture = widgets.Image(format="png")

    def redraw(_=None) -> None:
        picture.value = _png(_epsilon_figure(model, x, y, picker.value, budget.value, class_names))

    budget.observe(redraw, names="value")
    picker.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([budget, picker]), picture])


__all__ = ["smoothgrad_explorer", "epsilon_explorer", "ATTACKS"]
