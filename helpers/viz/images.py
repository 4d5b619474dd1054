"""Pictures of images and of what lies on them: image grids, attribution heat maps over their images, a table
of attribution methods × images, and spectrograms of waveforms."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from matplotlib.figure import Figure

from helpers._checks import check_bool, check_images, check_int, check_number, check_positive, shape_or_type
from helpers.viz._figures import as_hwc, colour_scale, grid


def show_images(
    images: torch.Tensor,
    titles: Sequence[str] | None = None,
    *,
    ncols: int = 8,
    panel_size: float = 1.6,
) -> Figure:
    """A grid of images (``N×C×H×W`` in [0, 1]; one channel in grey, three in colour), each panel
    ``panel_size`` inches square."""
    check_images(images, "images")
    check_int(ncols, "ncols")
    check_positive(panel_size, "panel_size")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"titles must have one entry per image ({len(images)}); got {len(titles)}")
    fig, axes = grid(len(images), ncols, panel_size)
    for i, ax in enumerate(axes.flat[: len(images)]):
        ax.imshow(as_hwc(images[i]), cmap="gray", vmin=0.0, vmax=1.0)
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
    panel_size: float = 1.6,
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
    check_positive(panel_size, "panel_size")
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
    fig, axes = grid(len(images), ncols, panel_size, rows_per_item=2)
    for i in range(len(images)):
        row, col = divmod(i, axes.shape[1])
        top, bottom = axes[2 * row, col], axes[2 * row + 1, col]
        grey = as_hwc(images[i])
        grey = grey.mean(-1) if grey.ndim == 3 else grey
        top.imshow(as_hwc(images[i]), cmap="gray", vmin=0.0, vmax=1.0)
        if titles is not None:
            top.set_title(titles[i], fontsize=8)
        scale = colour_scale(maps[i], percentile)
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
    panel_size: float = 1.5,
    percentile: float = 100.0,
) -> Figure:
    """One row per method, one column per image: the images on top, then each method's map.

    Each map is summed over channels and scaled per image: signed maps in ``bwr`` (±max|map|),
    non-negative maps in ``inferno`` (0 to max). With ``percentile`` below 100 the limit is that
    percentile of |map| instead of its maximum, larger values clipped to the end colour (as in
    ``show_heatmaps``), so that one very strong pixel does not leave the rest of a map blank.
    """
    check_images(images, "images")
    check_positive(panel_size, "panel_size")
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
    fig = Figure(figsize=(panel_size * n + 1.2, panel_size * rows), layout="constrained")
    axes = fig.subplots(rows, n, squeeze=False)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    for i in range(n):
        axes[0, i].imshow(as_hwc(images[i]), cmap="gray", vmin=0.0, vmax=1.0)
        if titles is not None:
            axes[0, i].set_title(titles[i], fontsize=8)
    axes[0, 0].set_ylabel("image", fontsize=8)
    for row, (name, maps) in enumerate(methods.items(), start=1):
        maps = maps.detach().float().cpu()
        maps = maps.sum(1) if maps.dim() == 4 else maps
        signed = bool((maps < 0).any())
        axes[row, 0].set_ylabel(name, fontsize=8)
        for i in range(n):
            scale = colour_scale(maps[i], percentile)
            if signed:
                axes[row, i].imshow(maps[i].numpy(), cmap="bwr", vmin=-scale, vmax=scale)
            else:
                axes[row, i].imshow(maps[i].numpy(), cmap="inferno", vmin=0.0, vmax=scale)
    return fig


def show_spectrograms(
    waveforms: torch.Tensor,
    titles: Sequence[str] | None = None,
    *,
    sample_rate: int = 8000,
    panel_size: float = 2.6,
) -> Figure:
    """Log-mel spectrograms (``helpers.audio.log_mel``) of waveforms ``N×T`` in [−1, 1], side by side, time
    in seconds across, mel band up, all on one colour scale (the loudest clip's)."""
    from helpers._checks import check_waveforms
    from helpers.audio import log_mel

    check_waveforms(waveforms, "waveforms")
    check_positive(panel_size, "panel_size")
    if titles is not None and len(titles) != len(waveforms):
        raise ValueError(f"titles must have one entry per waveform ({len(waveforms)}); got {len(titles)}")
    features = log_mel(waveforms.detach().cpu(), sample_rate).numpy()
    top = float(features.max())
    fig = Figure(figsize=(panel_size * len(features), panel_size * 0.8), layout="constrained")
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


__all__ = ["show_images", "show_heatmaps", "show_attributions", "show_spectrograms"]
