"""Pictures for the notebooks: image grids and attribution heat maps (``images``), curves, bars, tables and
decision planes (``charts``).

Each function builds a ``matplotlib.figure.Figure`` without pyplot and returns it: a notebook shows
it exactly once when it is the cell's last expression, and a script can ``fig.savefig(...)`` it.
``panel_size`` is the size of one panel in inches: the side of each square panel of an image grid, the
(width, height) of a chart's panel.
"""

from helpers.viz.charts import format_table, show_bars, show_curves, show_decision_plane
from helpers.viz.images import show_attributions, show_heatmaps, show_images, show_spectrograms

__all__ = ["show_spectrograms", "show_images", "show_heatmaps", "show_attributions", "show_curves",
           "show_bars", "format_table", "show_decision_plane"]
