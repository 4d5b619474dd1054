"""Pictures for the notebooks: image grids and attribution heat maps.

Each function builds a ``matplotlib.figure.Figure`` without pyplot and returns it: a notebook shows
it exactly once when it is the cell's last expression, and a script can ``fig.savefig(...)`` it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.figure import Figure

from helpers._checks import check_bool, check_images, check_int, check_number, check_positive, shape_or_type


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


def _grid(n: int, ncols: int, size: float, rows_per_item: int = 1) -> tuple[Figure, list]:
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig = Figure(figsize=(size * ncols, size * nrows * rows_per_item + 0.3 * nrows), layout="constrained")
    axes = fig.subplots(nrows * rows_per_item, ncols, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    return fig, axes


def _check_texts(**texts: object) -> None:
    for name, text in texts.items():
        if not isinstance(text, str):
            raise TypeError(f"{name} must be a str; got {type(text).__name__}")


def _check_size(size: object) -> tuple[float, float]:
    if not (isinstance(size, (tuple, list)) and len(size) == 2):
        raise TypeError(f"size must be a pair (width, height) in inches; got {size!r}")
    return check_positive(size[0], "size"), check_positive(size[1], "size")


def _as_hwc(image: torch.Tensor) -> np.ndarray:
    image = image.detach().float().cpu()
    return (image[0] if image.shape[0] == 1 else image.permute(1, 2, 0)).numpy()


def _colour_scale(values: torch.Tensor, percentile: float) -> float:
    """The colour limit of one map: the ``percentile``-th percentile of its absolute values (100: the largest
    one). Values beyond it take the colour map's end colour. An all-zero map gets 1, so it draws as blank."""
    magnitude = values.abs().flatten()
    top = float(magnitude.max())
    scale = top if percentile >= 100 else float(torch.quantile(magnitude, percentile / 100))
    return scale or top or 1.0  # a map that is 0 up to its percentile falls back to its maximum


def show_images(
    images: torch.Tensor,
    titles: Sequence[str] | None = None,
    *,
    ncols: int = 8,
    size: float = 1.6,
) -> Figure:
    """A grid of images (``N×C×H×W`` in [0, 1]; one channel in grey, three in colour)."""
    check_images(images, "images")
    check_int(ncols, "ncols")
    check_positive(size, "size")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"titles must have one entry per image ({len(images)}); got {len(titles)}")
    fig, axes = _grid(len(images), ncols, size)
    for i, ax in enumerate(axes.flat[: len(images)]):
        ax.imshow(_as_hwc(images[i]), cmap="gray", vmin=0.0, vmax=1.0)
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
    return fig


def show_heatmaps(
    images: torch.Tensor,
    maps: torch.Tensor,
    titles: Sequence[str] | None = None,
    *,
    signed: bool | None = None,
    ncols: int = 8,
    size: float = 1.6,
    opacity: float = 0.65,
    percentile: float = 100.0,
) -> Figure:
    """Attribution maps laid over their images (image above, overlay below).

    ``maps`` is ``N×C×H×W`` (channels are summed) or ``N×H×W``. A signed map (any negative value,
    or ``signed=True``) uses the diverging ``bwr`` colour map with limits ±max|map| per image, so
    white means 0, red positive and blue negative evidence; a non-negative map uses ``inferno``
    from 0 to its maximum. With ``percentile`` below 100 the limit is that percentile of |map| instead
    of its maximum, and larger values are drawn in the end colour (clipped): use it (e.g. 99) when one
    very strong pixel would otherwise leave the rest of a map too faint to see. ``opacity`` is the map's
    over the grey image, from 0 (invisible) to 1 (opaque; matplotlib calls it alpha).
    """
    check_images(images, "images")
    if signed is not None:
        check_bool(signed, "signed")
    check_int(ncols, "ncols")
    check_positive(size, "size")
    check_number(opacity, "opacity", low=0.0, high=1.0)
    check_number(percentile, "percentile", low=0.0, high=100.0, low_open=True)
    if not isinstance(maps, torch.Tensor):
        raise TypeError(f"maps must be a torch.Tensor; got {type(maps).__name__}")
    maps = maps.detach().float().cpu()
    if maps.dim() == 4:
        maps = maps.sum(1)
    if maps.dim() != 3 or maps.shape[0] != images.shape[0] or maps.shape[1:] != images.shape[2:]:
        raise ValueError(
            f"maps must be N×C×H×W or N×H×W matching images {tuple(images.shape)}; "
            f"got {tuple(maps.shape)}"
        )
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"titles must have one entry per image ({len(images)}); got {len(titles)}")
    signed = bool((maps < 0).any()) if signed is None else signed
    fig, axes = _grid(len(images), ncols, size, rows_per_item=2)
    for i in range(len(images)):
        row, col = divmod(i, axes.shape[1])
        top, bottom = axes[2 * row, col], axes[2 * row + 1, col]
        grey = _as_hwc(images[i])
        grey = grey.mean(-1) if grey.ndim == 3 else grey
        top.imshow(_as_hwc(images[i]), cmap="gray", vmin=0.0, vmax=1.0)
        if titles is not None:
            top.set_title(titles[i], fontsize=8)
        scale = _colour_scale(maps[i], percentile)
        bottom.imshow(grey, cmap="gray", vmin=0.0, vmax=1.0)
        if signed:
            bottom.imshow(maps[i].numpy(), cmap="bwr", vmin=-scale, vmax=scale, alpha=opacity)
        else:
            bottom.imshow(maps[i].numpy(), cmap="inferno", vmin=0.0, vmax=scale, alpha=opacity)
    return fig


def show_attributions(
    images: torch.Tensor,
    methods: dict[str, torch.Tensor],
    titles: Sequence[str] | None = None,
    *,
    size: float = 1.5,
    percentile: float = 100.0,
) -> Figure:
    """One row per method, one column per image: the images on top, then each method's map.

    Each map is summed over channels and scaled per image: signed maps in ``bwr`` (±max|map|),
    non-negative maps in ``inferno`` (0 to max). With ``percentile`` below 100 the limit is that
    percentile of |map| instead of its maximum, larger values clipped to the end colour (as in
    ``show_heatmaps``), so that one very strong pixel does not leave the rest of a map blank.
    """
    check_images(images, "images")
    check_positive(size, "size")
    check_number(percentile, "percentile", low=0.0, high=100.0, low_open=True)
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"titles must have one entry per image ({len(images)}); got {len(titles)}")
    for name, maps in methods.items():
        fits = (
            isinstance(maps, torch.Tensor)
            and maps.shape[0] == len(images)
            and maps.shape[-2:] == images.shape[-2:]
        )
        if not fits:
            got = shape_or_type(maps)
            raise ValueError(
                f"methods[{name!r}] must be maps shaped like images {tuple(images.shape)}; got {got}"
            )
    n, rows = len(images), len(methods) + 1
    fig = Figure(figsize=(size * n + 1.2, size * rows), layout="constrained")
    axes = fig.subplots(rows, n, squeeze=False)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    for i in range(n):
        axes[0, i].imshow(_as_hwc(images[i]), cmap="gray", vmin=0.0, vmax=1.0)
        if titles is not None:
            axes[0, i].set_title(titles[i], fontsize=8)
    axes[0, 0].set_ylabel("image", fontsize=8)
    for row, (name, maps) in enumerate(methods.items(), start=1):
        maps = maps.detach().float().cpu()
        maps = maps.sum(1) if maps.dim() == 4 else maps
        signed = bool((maps < 0).any())
        axes[row, 0].set_ylabel(name, fontsize=8)
        for i in range(n):
            scale = _colour_scale(maps[i], percentile)
            if signed:
                axes[row, i].imshow(maps[i].numpy(), cmap="bwr", vmin=-scale, vmax=scale)
            else:
                axes[row, i].imshow(maps[i].numpy(), cmap="inferno", vmin=0.0, vmax=scale)
    return fig


def show_curves(
    x: torch.Tensor | Sequence[float],
    curves: dict[str, torch.Tensor | Sequence[float]],
    *,
    xlabel: str = "",
    ylabel: str = "",
    title: str = "",
    panels: bool = False,
    size: tuple[float, float] = (4.5, 3.0),
) -> Figure:
    """Line plots of ``curves`` against ``x``: all in one panel, or one panel each (``panels=True``)."""
    _check_texts(xlabel=xlabel, ylabel=ylabel, title=title)
    check_bool(panels, "panels")
    size = _check_size(size)
    xs = torch.as_tensor(x).detach().cpu().numpy()
    count = len(curves) if panels else 1
    fig = Figure(figsize=(size[0] * count, size[1]), layout="constrained")
    axes = fig.subplots(1, count, squeeze=False)[0]
    for k, (name, ys) in enumerate(curves.items()):
        ax = axes[k if panels else 0]
        ax.plot(xs, torch.as_tensor(ys).detach().cpu().numpy(), label=name)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(name if panels else ylabel)
        ax.grid(alpha=0.3)
    if not panels and len(curves) > 1:
        axes[0].legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def show_bars(
    table: dict[str, dict[str, float]],
    *,
    ylabel: str = "",
    title: str = "",
    size: tuple[float, float] = (8.0, 3.2),
) -> Figure:
    """Grouped bars: ``table[row][column]`` — one group per row (e.g. a method), one bar per column
    (e.g. a metric), with each value written above its bar."""
    _check_texts(ylabel=ylabel, title=title)
    size = _check_size(size)
    rows = list(table)
    columns = list(dict.fromkeys(c for values in table.values() for c in values))
    fig = Figure(figsize=size, layout="constrained")
    ax = fig.subplots()
    width = 0.8 / max(1, len(columns))
    for k, column in enumerate(columns):
        positions = [i + (k - (len(columns) - 1) / 2) * width for i in range(len(rows))]
        values = [table[row].get(column, float("nan")) for row in rows]
        bars = ax.bar(positions, values, width, label=column)
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
    ax.set_xticks(range(len(rows)), rows, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    if len(columns) > 1:
        ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    return fig


def format_table(table: dict[str, dict[str, float]], *, digits: int = 3) -> str:
    """A fixed-width text table of ``table[row][column]`` (stable text for notebooks)."""
    check_int(digits, "digits", minimum=0)
    columns = list(dict.fromkeys(c for values in table.values() for c in values))
    first = max(len(r) for r in table)
    widths = [max(len(c), digits + 3) for c in columns]
    lines = [" " * first + "  " + "  ".join(c.rjust(w) for c, w in zip(columns, widths))]
    for row, values in table.items():
        cells = [
            (f"{values[c]:.{digits}f}" if c in values else "").rjust(w) for c, w in zip(columns, widths)
        ]
        lines.append(row.ljust(first) + "  " + "  ".join(cells))
    return "\n".join(lines)


def show_decision_plane(
    classes: torch.Tensor, span: float, class_names: Sequence[str], *, xlabel: str = "", ylabel: str = "",
    title: str = "", size: tuple[float, float] = (5.5, 4.0),
) -> Figure:
    """A class map over a square grid [−span, span]² (rows: the y axis from −span up), one colour per
    class, with the origin marked — e.g. from ``helpers.attacks.geometry.decision_plane``."""
    check_positive(span, "span")
    _check_texts(xlabel=xlabel, ylabel=ylabel, title=title)
    size = _check_size(size)
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    grid = classes.detach().cpu()
    palette = [f"C{k}" for k in range(len(class_names))]
    fig = Figure(figsize=size, layout="constrained")
    ax = fig.subplots()
    ax.imshow(grid.numpy(), origin="lower", extent=(-span, span, -span, span), cmap=ListedColormap(palette),
              vmin=-0.5, vmax=len(class_names) - 0.5, interpolation="nearest")
    ax.plot([0], [0], marker="*", color="black", markersize=12)
    present = sorted(set(grid.flatten().tolist()))
    ax.legend(handles=[Patch(color=palette[k], label=class_names[k]) for k in present], fontsize=7,
              loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def show_spectrograms(
    waveforms: torch.Tensor,
    titles: Sequence[str] | None = None,
    *,
    sample_rate: int = 8000,
    size: float = 2.6,
) -> Figure:
    """Log-mel spectrograms (``helpers.audio.log_mel``) of waveforms ``N×T`` in [−1, 1], side by side, time
    in seconds across, mel band up, all on one colour scale (the loudest clip's)."""
    from helpers._checks import check_waveforms
    from helpers.audio import log_mel

    check_waveforms(waveforms, "waveforms")
    check_positive(size, "size")
    if titles is not None and len(titles) != len(waveforms):
        raise ValueError(f"titles must have one entry per waveform ({len(waveforms)}); got {len(titles)}")
    features = log_mel(waveforms.detach().cpu(), sample_rate).numpy()
    top = float(features.max())
    fig = Figure(figsize=(size * len(features), size * 0.8), layout="constrained")
    axes = fig.subplots(1, len(features), squeeze=False)[0]
    seconds = waveforms.shape[1] / sample_rate
    for i, ax in enumerate(axes):
        image = ax.imshow(features[i], origin="lower", aspect="auto", cmap="magma", vmin=top - 16, vmax=top,
                          extent=(0, seconds, 0, features.shape[1]))
        ax.set_xlabel("time (s)", fontsize=8)
        ax.tick_params(labelsize=7)
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
    axes[0].set_ylabel("mel band", fontsize=8)
    fig.colorbar(image, ax=list(axes), shrink=0.8, label="log power")
    return fig


__all__ = ["show_spectrograms", "show_images", "show_heatmaps", "show_attributions", "show_curves",
           "show_bars", "format_table", "show_decision_plane"]
