from helpers.widgets import smoothgrad_explorer
from tests.conftest import tiny_batch, tiny_cnn


def test_smoothgrad_explorer_redraws_when_a_slider_moves():
    x, y = tiny_batch(2)
    box = smoothgrad_explorer(tiny_cnn(), x, y, n=3)
    (level, samples), picture = box.children[0].children, box.children[1]
    first = bytes(picture.value)
    assert first.startswith(b"\x89PNG")
    level.value = 0.4
    second = bytes(picture.value)
    assert second != first
    samples.value = 7
    assert bytes(picture.value) != second
    level.value, samples.value = 0.15, 3  # back to the start: the same seed draws the same picture
    assert bytes(picture.value) == first


def test_epsilon_explorer_redraws_for_eps_and_attack():
    from helpers.widgets import epsilon_explorer

    x, y = tiny_batch(2)
    box = epsilon_explorer(tiny_cnn(), x, y, eps=0.0)
    (budget, picker), picture = box.children[0].children, box.children[1]
    clean = bytes(picture.value)
    budget.value = 0.2
    attacked = bytes(picture.value)
    assert attacked != clean
    picker.value = "PGD (20 steps)"
    assert bytes(picture.value) != attacked


def test_lrp_explorer_redraws_for_each_rule():
    from helpers.widgets import LRP_CHOICES, lrp_explorer

    x, y = tiny_batch(3)
    box = lrp_explorer(tiny_cnn(), x, y)
    picker, picture = box.children
    seen = {picker.value: bytes(picture.value)}
    for choice in LRP_CHOICES:
        picker.value = choice
        seen[choice] = bytes(picture.value)
    assert all(png.startswith(b"\x89PNG") for png in seen.values())
    assert len(set(seen.values())) == len(LRP_CHOICES)  # every rule draws a different picture


def test_defense_explorer_redraws_for_filter_and_strength():
    from helpers.widgets import FILTERS, defense_explorer

    x, y = tiny_batch(4)
    box = defense_explorer(tiny_cnn(), x, y, eps=0.1)
    (picker, strength), picture = box.children[0].children, box.children[1]
    first = bytes(picture.value)
    strength.value = 7
    assert bytes(picture.value) != first
    picker.value = "bit depth (bits)"  # a new filter brings its own range and default strength
    assert (strength.min, strength.max, strength.value) == (1, 8, FILTERS["bit depth (bits)"][1][3])
    bits = bytes(picture.value)
    strength.value = 1
    assert bytes(picture.value) != bits
    picker.value = "median (window)"
    assert bytes(picture.value) == first  # back to the start: the same picture


def test_defense_explorer_draws_a_colour_image_in_colour():
    from helpers.widgets import _defense_figure

    x, y = tiny_batch(2, channels=3)
    figure = _defense_figure(tiny_cnn(channels=3).eval(), x, y, x, "median (window)", 3, 0.1)
    shown = [ax.images[0].get_array() for ax in figure.axes[:2]]
    assert [a.shape for a in shown] == [(12, 12, 3)] * 2  # all three channels, not the first in grey
    assert (shown[0] == x[0].permute(1, 2, 0).numpy()).all()


def test_explorers_refuse_bad_choices():
    import pytest

    from helpers.widgets import defense_explorer, lrp_explorer

    x, y = tiny_batch(2)
    with pytest.raises(ValueError, match="choice"):
        lrp_explorer(tiny_cnn(), x, y, choice="LRP-7")
    with pytest.raises(ValueError, match="name"):
        defense_explorer(tiny_cnn(), x, y, name="sunglasses")


def test_explorers_display_a_static_picture_and_their_settings():
    """Where no kernel runs (HTML, GitHub, nbval) an explorer shows its last picture and a stable text
    line."""
    import base64

    from helpers.widgets import defense_explorer, epsilon_explorer, lrp_explorer

    x, y = tiny_batch(3)
    cases = [
        (smoothgrad_explorer(tiny_cnn(), x, y, n=3), "SmoothGrad explorer (noise level = 0.15, n = 3)"),
        (epsilon_explorer(tiny_cnn(), x, y, eps=0.05), "ε explorer (ε = 0.05, attack = FGSM)"),
        (lrp_explorer(tiny_cnn(), x, y, choice="LRP-0"), "LRP explorer (rule = LRP-0)"),
        (defense_explorer(tiny_cnn(), x, y, eps=0.1),
         "defense explorer (filter = median (window), strength = 3)"),
    ]
    for box, text in cases:
        bundle = box._repr_mimebundle_()
        assert bundle["text/plain"] == text
        assert base64.b64decode(bundle["image/png"]) == bytes(box.children[1].value)
        assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == box.model_id
    box, _ = cases[1]
    box.children[0].children[0].value = 0.1  # the static picture follows the state it is displayed in
    bundle = box._repr_mimebundle_()
    assert bundle["text/plain"] == "ε explorer (ε = 0.1, attack = FGSM)"
    assert base64.b64decode(bundle["image/png"]) == bytes(box.children[1].value)
