"""Interactive explorers for JupyterLab: move a slider, see the explanation change.

Each explorer redraws one matplotlib figure and shows it as PNG in an ``ipywidgets.Image``. (An
``Output`` widget would capture display messages, which nbclient and nbval record differently; an
image widget is a plain value, identical under every executor and in the saved widget state.)
Outside a live kernel the controls can do nothing, so an explorer also displays as a static picture
of the state it was drawn in, with a line of text naming the settings (see ``Explorer``); the
notebooks show the settings that matter as ordinary figures too.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable

import ipywidgets as widgets
import torch
from matplotlib.figure import Figure
from torch import nn

from helpers import attacks
from helpers._checks import (
    check_choice,
    check_images,
    check_int,
    check_labels,
    check_model,
    check_number,
    check_positive,
    frozen,
    num_classes,
)
from helpers.defenses import filters
from helpers.explain import lrp, saliency, smoothgrad
from helpers.explain.relevance import Epsilon, Gamma, Zero, ZPlus, composite_for, one_rule
from helpers.viz import show_attributions, show_heatmaps
from helpers.viz._figures import as_hwc

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


class Explorer(widgets.VBox):
    """Controls above a picture: ``children`` is (the row of controls, or the one control; the picture).

    In a live kernel (JupyterLab) it is an ordinary widget, and moving a control redraws the picture. Its
    display also carries the picture as a PNG and a text line of the current settings, which are what is
    shown where no kernel runs: nbconvert's HTML (``helpers.course.release``), GitHub, and nbval's
    comparison — stable from run to run, unlike the widget's random model id.
    """

    def __init__(self, title: str, controls: list[widgets.Widget], picture: widgets.Image) -> None:
        super().__init__([controls[0] if len(controls) == 1 else widgets.HBox(controls), picture])
        self._title, self._controls, self._picture = title, controls, picture

    def settings(self) -> str:
        """The controls' current values, e.g. ``"ε = 0.05, attack = FGSM"``."""
        values = [f"{c.value:g}" if isinstance(c.value, float) else str(c.value) for c in self._controls]
        return ", ".join(f"{c.description} = {value}" for c, value in zip(self._controls, values))

    def _repr_mimebundle_(self, **kwargs) -> dict:
        bundle = super()._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = f"{self._title} ({self.settings()})"
        bundle["image/png"] = base64.b64encode(bytes(self._picture.value)).decode("ascii")
        return bundle


def _explorer(title: str, controls: list[widgets.Widget], draw: Callable[[], Figure]) -> Explorer:
    """An ``Explorer`` whose picture is ``draw()``, drawn now and again whenever a control moves."""
    picture = widgets.Image(format="png")

    def redraw(_=None) -> None:
        picture.value = _png(draw())

    for control in controls:
        control.observe(redraw, names="value")
    redraw()
    return Explorer(title, controls, picture)


def _smoothgrad_figure(model: nn.Module, x: torch.Tensor, target: int | torch.Tensor, noise_level: float,
                       n: int, seed: int) -> Figure:
    generator = torch.Generator().manual_seed(seed)
    maps = smoothgrad(model, x, target, n=n, noise_level=noise_level, generator=generator)
    plain = saliency(model, x, target)
    titles = [f"gradient #{i}" for i in range(len(x))] + [f"SmoothGrad {noise_level:.0%}, n={n}" for _ in x]
    return show_heatmaps(torch.cat([x, x]), torch.cat([plain, maps]), titles, ncols=len(x))


def smoothgrad_explorer(
    model: nn.Module, x: torch.Tensor, target: int | torch.Tensor, *, noise_level: float = 0.15, n: int = 25,
    seed: int = 0,
) -> Explorer:
    """Sliders for SmoothGrad's noise level (0–50 % of the value range) and sample count n (1–100).

    Shows the plain gradient of each image above its SmoothGrad map; every redraw uses the same
    seed, so only the settings change the picture.
    """
    check_model(model)
    x = check_images(x, model=model).detach()
    check_labels(target, x.shape[0], "target", num_classes=num_classes(model, x))
    check_number(noise_level, "noise_level", low=0.0, high=0.5)  # the slider's range: it would clamp silently
    check_int(n, "n", maximum=100)
    check_int(seed, "seed", minimum=0)
    level = widgets.FloatSlider(value=noise_level, min=0.0, max=0.5, step=0.05, description="noise level",
                                readout_format=".0%", continuous_update=False)
    samples = widgets.IntSlider(value=n, min=1, max=100, step=1, description="n", continuous_update=False)

    def draw() -> Figure:
        return _smoothgrad_figure(model, x, target, level.value, samples.value, seed)

    return _explorer("SmoothGrad explorer", [level, samples], draw)


def _epsilon_figure(model: nn.Module, x: torch.Tensor, y: torch.Tensor, attack: str, eps: float,
                    class_names: list[str] | None) -> Figure:
    x_adv = ATTACKS[attack](model, x, y, eps) if eps > 0 else x.clone()
    with torch.no_grad(), frozen(model):
        probs = model(x_adv).softmax(1)[0].cpu()
    names = class_names or [str(k) for k in range(len(probs))]
    delta = (x_adv - x)[0].cpu()
    figure = Figure(figsize=(9.0, 2.8), layout="constrained")
    image_ax, delta_ax, bar_ax = figure.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1, 1.6]})
    image_ax.imshow(as_hwc(x_adv[0]), cmap="gray", vmin=0, vmax=1)
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
) -> Explorer:
    """An ε slider (0–0.3) and an attack picker for the first image of ``x``: the adversarial image, its
    perturbation (amplified to full contrast) and the model's probabilities (true class in green)."""
    check_model(model)
    x = check_images(x, model=model).detach()
    classes = num_classes(model, x)
    y = check_labels(y, x.shape[0], "y", num_classes=classes).to(x.device)
    check_choice(attack, "attack", tuple(ATTACKS))
    check_number(eps, "eps", low=0.0, high=0.3)  # the slider's range: it would clamp silently
    if class_names is not None and not (isinstance(class_names, (list, tuple)) and len(class_names) == classes
                                        and all(isinstance(c, str) for c in class_names)):
        raise ValueError(f"class_names must be a list of {classes} strings, one per class; got "
                         f"{class_names!r}")
    x, y = x[:1], y[:1]
    budget = widgets.FloatSlider(value=eps, min=0.0, max=0.3, step=0.005, description="ε",
                                 readout_format=".3f", continuous_update=False)
    picker = widgets.Dropdown(options=list(ATTACKS), value=attack, description="attack")

    def draw() -> Figure:
        return _epsilon_figure(model, x, y, picker.value, budget.value, class_names)

    return _explorer("ε explorer", [budget, picker], draw)


LRP_CHOICES = {  # label → the composite lrp() applies (the rule objects of helpers.explain.relevance)
    "LRP-0": one_rule(Zero()),
    "LRP-ε (ε = 0.25)": one_rule(Epsilon(0.25)),
    "LRP-γ (γ = 0.25)": one_rule(Gamma(0.25)),
    "LRP-z⁺": one_rule(ZPlus()),
    "composite ε-z⁺": composite_for(composite="epsilon_plus"),
    "composite ε-γ-zᴮ": composite_for(composite="epsilon_gamma_box"),
}


def lrp_explorer(model: nn.Module, x: torch.Tensor, target: int | torch.Tensor, *,
                 choice: str = "composite ε-γ-zᴮ") -> Explorer:
    """A picker for LRP's rule or composite: the images of ``x`` (up to 6) with their relevance maps
    (red positive, blue negative) under the chosen rule; every choice is one forward and one backward pass."""
    check_model(model)
    x = check_images(x, model=model).detach()
    check_choice(choice, "choice", tuple(LRP_CHOICES))
    target = check_labels(target, x.shape[0], "target", num_classes=num_classes(model, x)).to(x.device)[:6]
    x = x[:6]
    picker = widgets.Dropdown(options=list(LRP_CHOICES), value=choice, description="rule")

    def draw() -> Figure:
        maps = lrp(model, x, target, composite=LRP_CHOICES[picker.value])
        return show_attributions(x, {picker.value: maps}, [f"image {i}" for i in range(len(x))])

    return _explorer("LRP explorer", [picker], draw)


FILTERS = {  # label → (filter(x, strength), strength slider: min, max, step, default)
    "none": (lambda x, s: x, (0, 1, 1, 0)),
    "Gaussian blur (σ)": (lambda x, s: filters.gaussian_blur(x, sigma=s), (0.25, 2.0, 0.25, 1.0)),
    "median (window)": (lambda x, s: filters.median_filter(x, size=int(s)), (3, 7, 2, 3)),
    "bit depth (bits)": (lambda x, s: filters.bit_depth(x, bits=int(s)), (1, 8, 1, 3)),
    "JPEG (quality)": (lambda x, s: filters.jpeg(x, quality=int(s)), (10, 95, 5, 50)),
}


def _defense_figure(model: nn.Module, x: torch.Tensor, y: torch.Tensor, x_adv: torch.Tensor, name: str,
                    strength: float, eps: float) -> Figure:
    squeeze = FILTERS[name][0]
    clean, attacked = squeeze(x, strength), squeeze(x_adv, strength)
    with torch.no_grad(), frozen(model):
        right_clean = (model(clean).argmax(1) == y).float().mean().item()
        right_adv = (model(attacked).argmax(1) == y).float().mean().item()
    figure = Figure(figsize=(9.0, 2.6), layout="constrained")
    *images, bars = figure.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1, 2]})
    for ax, image, title in zip(images, (x_adv[0], attacked[0]), ("attacked", f"attacked, then {name}")):
        ax.imshow(as_hwc(image), cmap="gray", vmin=0, vmax=1)  # a colour image in colour
        ax.set_title(title, fontsize=9)
        ax.set_axis_off()
    bars.barh([0, 1], [right_clean, right_adv], color=["tab:green", "tab:red"])
    bars.set_yticks([0, 1], ["clean images", f"PGD, ε = {eps:g}"], fontsize=8)
    bars.set_xlim(0, 1)
    bars.invert_yaxis()
    bars.set_title(f"accuracy behind the filter ({len(x)} images): {right_clean:.0%} · {right_adv:.0%}",
                   fontsize=9)
    return figure


def defense_explorer(model: nn.Module, x: torch.Tensor, y: int | torch.Tensor, *, eps: float = 0.1,
                     name: str = "median (window)") -> Explorer:
    """A filter picker and a strength slider against a fixed PGD attack (L∞, ``eps``, 10 steps, made
    against the bare model — the unaware attacker of notebook 09): the first attacked image before and
    after the filter, and the accuracy behind the filter on clean and attacked images of ``x``."""
    check_model(model)
    x = check_images(x, model=model).detach()
    y = check_labels(y, x.shape[0], "y", num_classes=num_classes(model, x)).to(x.device)
    check_choice(name, "name", tuple(FILTERS))
    check_positive(eps, "eps")
    generator = torch.Generator().manual_seed(0)
    x_adv = attacks.pgd(model, x, y, eps=eps, alpha=eps / 4, steps=10, generator=generator)
    picker = widgets.Dropdown(options=list(FILTERS), value=name, description="filter")
    low, high, step, default = FILTERS[name][1]
    strength = widgets.FloatSlider(value=default, min=low, max=high, step=step, description="strength",
                                   continuous_update=False)
    picture = widgets.Image(format="png")
    drawing = [False]

    def redraw(_=None) -> None:
        if not drawing[0]:
            picture.value = _png(_defense_figure(model, x, y, x_adv, picker.value, strength.value, eps))

    def pick(_=None) -> None:  # a new filter: its own range and default strength, then one redraw
        drawing[0] = True
        low, high, step, default = FILTERS[picker.value][1]
        strength.min, strength.max = min(low, strength.min), max(high, strength.max)
        strength.step, strength.value = step, default
        strength.min, strength.max = low, high
        drawing[0] = False
        redraw()

    picker.observe(pick, names="value")
    strength.observe(redraw, names="value")
    redraw()
    return Explorer("defense explorer", [picker, strength], picture)


__all__ = ["Explorer", "smoothgrad_explorer", "epsilon_explorer", "lrp_explorer", "defense_explorer",
           "ATTACKS", "FILTERS", "LRP_CHOICES"]
