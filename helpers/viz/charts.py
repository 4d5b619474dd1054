"""Charts of numbers: curves, grouped bars, a fixed-width text table, and a map of the classes a model
predicts over a plane of inputs."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from matplotlib.figure import Figure

from helpers._checks import check_bool, check_int, check_positive
from helpers.viz._figures import check_panel_size, check_texts


def show_curves(
    x: torch.Tensor | Sequence[float],
    curves: dict[str, torch.Tensor | Sequence[float]],
    *,
    xlabel: str = "",
    ylabel: str = "",
    title: str = "",
    panels: bool = False,
    panel_size: tuple[float, float] = (4.5, 3.0),
) -> Figure:
    """Line plots of ``curves`` against ``x``: all in one panel, or one panel each (``panels=True``), each
    panel ``panel_size`` = (width, height) inches."""
    check_texts(xlabel=xlabel, ylabel=ylabel, title=title)
    check_bool(panels, "panels")
    panel_size = check_panel_size(panel_size)
    xs = torch.as_tensor(x).detach().cpu().numpy()
    count = len(curves) if panels else 1
    fig = Figure(figsize=(panel_size[0] * count, panel_size[1]), layout="constrained")
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
    panel_size: tuple[float, float] = (8.0, 3.2),
) -> Figure:
    """Grouped bars: ``table[row][column]`` — one group per row (e.g. a method), one bar per column
    (e.g. a metric), with each value written above its bar."""
    check_texts(ylabel=ylabel, title=title)
    panel_size = check_panel_size(panel_size)
    rows = list(table)
    columns = list(dict.fromkeys(c for values in table.values() for c in values))
    fig = Figure(figsize=panel_size, layout="constrained")
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
    title: str = "", panel_size: tuple[float, float] = (5.5, 4.0),
) -> Figure:
    """A class map over a square grid [−span, span]² (rows: the y axis from −span up), one colour per
    class, with the origin marked — e.g. from ``helpers.attacks.geometry.decision_plane``."""
    check_positive(span, "span")
    check_texts(xlabel=xlabel, ylabel=ylabel, title=title)
    panel_size = check_panel_size(panel_size)
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    grid = classes.detach().cpu()
    palette = [f"C{k}" for k in range(len(class_names))]
    fig = Figure(figsize=panel_size, layout="constrained")
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


__all__ = ["show_curves", "show_bars", "format_table", "show_decision_plane"]
