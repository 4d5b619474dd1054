"""What every picture of ``helpers.viz`` shares: a bare ``Figure`` shown as PNG in notebooks, the grid of
panels, the checks of texts and sizes, a tensor image as an array, and the colour limit of a map."""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.figure import Figure

from helpers._checks import check_positive


def _show_figures_in_notebooks() -> None:
    """Let IPython draw a bare ``Figure`` as PNG (pyplot is never imported, so nobody else does)."""
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:
        return
    if get_ipython() is not None:
        set_matplotlib_formats("png")


_show_figures_in_notebooks()


def grid(n: int, ncols: int, panel_size: float, rows_per_item: int = 1) -> tuple[Figure, list]:
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig = Figure(figsize=(panel_size * ncols, panel_size * nrows * rows_per_item + 0.3 * nrows),
                 layout="constrained")
    axes = fig.subplots(nrows * rows_per_item, ncols, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    return fig, axes


def check_texts(**texts: object) -> None:
    for name, text in texts.items():
        if not isinstance(text, str):
            raise TypeError(f"{name} must be a str; got {type(text).__name__}")


def check_panel_size(panel_size: object) -> tuple[float, float]:
    if not (isinstance(panel_size, (tuple, list)) and len(panel_size) == 2):
        raise TypeError(f"panel_size must be a pair (width, height) in inches; got {panel_size!r}")
    return check_positive(panel_size[0], "panel_size"), check_positive(panel_size[1], "panel_size")


def as_hwc(image: torch.Tensor) -> np.ndarray:
    image = image.detach().float().cpu()
    return (image[0] if image.shape[0] == 1 else image.permute(1, 2, 0)).numpy()


def colour_scale(values: torch.Tensor, percentile: float) -> float:
    """The colour limit of one map: the ``percentile``-th percentile of its absolute values (100: the largest
    one). Values beyond it take the colour map's end colour. An all-zero map gets 1, so it draws as blank."""
    magnitude = values.abs().flatten()
    top = float(magnitude.max())
    scale = top if percentile >= 100 else float(torch.quantile(magnitude, percentile / 100))
    return scale or top or 1.0  # a map that is 0 up to its percentile falls back to its maximum
