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
