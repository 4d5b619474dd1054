import pytest
import torch
from matplotlib.figure import Figure

from helpers.viz import show_heatmaps, show_images


def test_show_images_grid():
    fig = show_images(torch.rand(5, 3, 8, 8), titles=list("abcde"), ncols=3)
    assert isinstance(fig, Figure)
    titled = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titled == list("abcde")


def test_show_heatmaps_signed_uses_a_symmetric_diverging_map():
    maps = torch.zeros(2, 1, 8, 8)
    maps[0, 0, 0, 0], maps[0, 0, 1, 1] = -2.0, 1.0
    maps[1, 0, 2, 2] = 3.0
    fig = show_heatmaps(torch.rand(2, 1, 8, 8), maps)
    overlays = [im for ax in fig.axes for im in ax.get_images() if im.get_cmap().name == "bwr"]
    assert len(overlays) == 2
    assert overlays[0].get_clim() == (-2.0, 2.0) and overlays[1].get_clim() == (-3.0, 3.0)


def test_show_heatmaps_bad_shape():
    with pytest.raises(ValueError, match="maps must be"):
        show_heatmaps(torch.rand(2, 1, 8, 8), torch.rand(3, 8, 8))
    with pytest.raises(ValueError, match="titles must have one entry per image"):
        show_images(torch.rand(2, 1, 8, 8), titles=["a"])


def test_show_attributions_rows_are_methods():
    from helpers.viz import show_attributions

    images = torch.rand(3, 1, 8, 8)
    methods = {"a": torch.rand(3, 1, 8, 8), "b": torch.randn(3, 1, 8, 8)}
    fig = show_attributions(images, methods, titles=list("xyz"))
    assert len(fig.axes) == 9
    assert [ax.get_ylabel() for ax in fig.axes[::3]] == ["image", "a", "b"]
    with pytest.raises(ValueError, match=r"methods\['a'\] must be maps shaped like images"):
        show_attributions(images, {"a": torch.rand(2, 1, 8, 8)})


def test_show_curves_panels():
    from helpers.viz import show_curves

    fig = show_curves(range(5), {"p": [0, 1, 2, 3, 4], "q": torch.ones(5)}, xlabel="t", panels=True)
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "q"


def test_show_bars_and_format_table():
    from helpers.viz import format_table, show_bars

    table = {"saliency": {"pointing": 0.25, "mass": 0.3}, "random": {"pointing": 0.1, "mass": 0.1}}
    fig = show_bars(table)
    assert len(fig.axes[0].patches) == 4
    text = format_table(table, digits=2)
    assert text.splitlines()[1].split() == ["saliency", "0.25", "0.30"]


def test_show_decision_plane():
    from helpers.viz import show_decision_plane

    fig = show_decision_plane(torch.tensor([[0, 1], [1, 2]]), 1.0, ["a", "b", "c"])
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["a", "b", "c"]


def _limits(fig, cmap: str = "inferno") -> list[tuple[float, float]]:
    """The colour limits of every image drawn with ``cmap`` in ``fig``."""
    return [im.get_clim() for ax in fig.axes for im in ax.get_images() if im.get_cmap().name == cmap]


def test_percentile_scales_each_map_below_its_hot_pixel():
    from helpers.viz import show_attributions

    maps = torch.arange(64.0).view(1, 1, 8, 8)
    maps[0, 0, 7, 7] = 1000.0  # one hot pixel
    expected = float(torch.quantile(maps.flatten(), 0.9))
    for draw in (lambda **kw: show_heatmaps(torch.rand(1, 1, 8, 8), maps, **kw),
                 lambda **kw: show_attributions(torch.rand(1, 1, 8, 8), {"a": maps}, **kw)):
        plain, robust = _limits(draw()), _limits(draw(percentile=90))
        assert plain == [(0.0, 1000.0)]
        assert robust == [(0.0, pytest.approx(expected))] and expected < 100
    signed = show_attributions(torch.rand(1, 1, 8, 8), {"a": maps - 10}, percentile=90)
    ((low, high),) = _limits(signed, "bwr")
    assert low == -high and high == pytest.approx(float(torch.quantile((maps - 10).abs().flatten(), 0.9)))


def test_percentile_of_a_sparse_map_falls_back_to_its_maximum():
    maps = torch.zeros(1, 1, 8, 8)
    maps[0, 0, 3, 3] = 2.0  # 1 of 64 pixels: its 90th percentile is 0
    fig = show_heatmaps(torch.rand(1, 1, 8, 8), maps, percentile=90)
    assert _limits(fig) == [(0, 2.0)]


@pytest.mark.parametrize("bad", [0, -5, 101, float("nan")])
def test_percentile_outside_0_100_is_refused(bad):
    from helpers.viz import show_attributions

    with pytest.raises(ValueError, match="percentile"):
        show_heatmaps(torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 8), percentile=bad)
    with pytest.raises(ValueError, match="percentile"):
        show_attributions(torch.rand(1, 1, 8, 8), {"a": torch.rand(1, 1, 8, 8)}, percentile=bad)
