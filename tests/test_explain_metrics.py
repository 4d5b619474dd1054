"""The metrics of notebook 04 on hand-made cases, and the claims the notebook makes about the zoo models."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from helpers import zoo
from helpers.data import fashion_mnist, shapes_split
from helpers.explain import (
    auc,
    deletion_curve,
    grad_cam,
    input_x_gradient,
    insertion_curve,
    integrated_gradients,
    lrp,
    pointing_game,
    randomization_test,
    relevance_mass,
    roughness,
    saliency,
    smoothgrad,
)
from helpers.explain.metrics import spearman


def masks_and_maps():
    masks = torch.zeros(3, 1, 8, 8, dtype=torch.bool)
    masks[:, :, 2:5, 2:5] = True
    return masks


def test_pointing_game_hand_cases():
    masks = masks_and_maps()
    peaked = torch.zeros(3, 1, 8, 8)
    peaked[:, 0, 3, 3] = 1.0  # inside
    assert pointing_game(peaked, masks) == 1.0
    peaked[0, 0, 7, 7] = 5.0  # image 0 now points outside
    assert pointing_game(peaked, masks) == pytest.approx(2 / 3)


def test_relevance_mass_hand_cases():
    masks = masks_and_maps()
    uniform = torch.ones(3, 3, 8, 8)
    assert relevance_mass(uniform, masks) == pytest.approx(9 / 64)  # the mask's area fraction
    inside_only = masks.float() * torch.randn(3, 1, 8, 8)  # signed values count by magnitude
    assert relevance_mass(inside_only, masks) == pytest.approx(1.0)


def test_roughness_hand_cases_and_a_plain_loop():
    checkerboard = (torch.arange(8)[:, None] + torch.arange(8)) % 2 * 2.0 - 1  # ±1, alternating
    board = checkerboard.expand(3, 8, 8)
    maps = torch.stack([torch.ones(3, 8, 8), board, board * 0.5])
    assert roughness(maps).tolist() == [0.0, 0.0, 0.0]  # sign flips cost nothing unsigned
    assert roughness(maps, signed=True).tolist() == [0.0, 4.0, 4.0]
    assert roughness(maps[1:, :1]).tolist() == [0.0, 0.0]  # one channel or three: the same maps
    a = torch.randn(4, 3, 9, 7, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for signed in (False, True):  # the formula, pixel by pixel, in plain Python
        expected = []
        for image in a.tolist():
            h = [[sum(c[i][j] if signed else abs(c[i][j]) for c in image) for j in range(7)]
                 for i in range(9)]
            down = sum(abs(h[i + 1][j] - h[i][j]) for i in range(8) for j in range(7)) / (8 * 7)
            right = sum(abs(h[i][j + 1] - h[i][j]) for i in range(9) for j in range(6)) / (9 * 6)
            expected.append((down + right) / (sum(abs(v) for row in h for v in row) / (9 * 7)))
        assert roughness(a, signed=signed).tolist() == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match=r"attributions: image 1 has a map that is zero everywhere"):
        roughness(torch.stack([torch.ones(1, 4, 4), torch.zeros(1, 4, 4)]))
    with pytest.raises(ValueError, match=r"image 0 has a map whose channels sum to zero everywhere"):
        roughness(torch.stack([torch.ones(4, 4), -torch.ones(4, 4)])[None], signed=True)
    for thin in (torch.rand(2, 1, 1, 5), torch.rand(2, 1, 5, 1), torch.rand(5, 5)):
        with pytest.raises(ValueError, match=r"attributions must be N×C×H×W maps .* H, W ≥ 2"):
            roughness(thin)


def test_auc_is_the_trapezoid_area():
    assert auc(torch.tensor([1.0, 1.0, 1.0])).item() == pytest.approx(1.0)
    assert auc(torch.tensor([[1.0, 0.0], [0.0, 1.0]])).tolist() == [0.5, 0.5]
    assert auc(torch.linspace(1, 0, 11)).item() == pytest.approx(0.5)


def _one_pixel_model() -> nn.Module:
    """Class 1's logit grows with pixels (0,0) and (0,1) only; class 0's is constant."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2)).eval()
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].weight[1, 0], model[1].weight[1, 1] = 8.0, 4.0
        model[1].bias.copy_(torch.tensor([3.0, 0.0]))
    return model


def test_deletion_of_a_perfect_attribution_drops_faster_than_its_reverse():
    model = _one_pixel_model()
    x = torch.ones(2, 1, 4, 4)
    perfect = torch.zeros(2, 1, 4, 4)
    perfect[:, 0, 0, 0], perfect[:, 0, 0, 1] = 2.0, 1.0
    good = deletion_curve(model, x, 1, perfect, steps=16)
    bad = deletion_curve(model, x, 1, -perfect, steps=16)
    assert good.shape == (2, 17)
    assert good[0, 0] == pytest.approx(bad[0, 0]) and good[0, -1] == pytest.approx(bad[0, -1])
    assert (auc(good) < auc(bad) - 0.3).all()
    insert_good = insertion_curve(model, x, 1, perfect, steps=16)
    insert_bad = insertion_curve(model, x, 1, -perfect, steps=16)
    assert (auc(insert_good) > auc(insert_bad) + 0.3).all()


def test_spearman_matches_the_rank_formula():
    a = torch.tensor([[1.0, 2.0, 3.0, 4.0], [4.0, 3.0, 2.0, 1.0]])
    b = torch.tensor([[10.0, 20.0, 30.0, 40.0], [1.0, 3.0, 2.0, 4.0]])
    # second row: ranks (3,2,1,0) vs (0,2,1,3): d² = 9+0+0+9 = 18, ρ = 1 − 6·18/(4·15) = −0.8
    assert spearman(a, b).tolist() == pytest.approx([1.0, -0.8])


@pytest.fixture(scope="module")
def shapes_setup():
    model = zoo.load("shapes_cnn", device="cpu")
    x, y, masks = shapes_split("test", 200)
    return model, x, y, masks


def test_explanations_beat_the_random_floor_on_shapes(shapes_setup):
    """The table of notebook 04, section 2: every method points at the object far more often than chance."""
    model, x, y, masks = shapes_setup
    random_maps = torch.rand(x.shape, generator=torch.Generator().manual_seed(0))
    floor_pg, floor_mass = pointing_game(random_maps, masks), relevance_mass(random_maps, masks)
    methods = {
        "saliency": saliency(model, x, y),
        "input×gradient": input_x_gradient(model, x, y),
        "integrated gradients": integrated_gradients(model, x, y, steps=16),
        "smoothgrad": smoothgrad(model, x, y, n=10, generator=torch.Generator().manual_seed(0)),
        "lrp ε-γ-box": lrp(model, x, y, composite="epsilon_gamma_box"),
        "lrp ε-z⁺": lrp(model, x, y, composite="epsilon_plus"),
        "grad-cam": grad_cam(model, x, y, layer=model[8]),
    }
    for name, maps in methods.items():
        assert pointing_game(maps, masks) >= 2 * floor_pg, name
        assert relevance_mass(maps, masks) >= 2 * floor_mass, name
    for name in ("input×gradient", "integrated gradients", "lrp ε-z⁺", "grad-cam"):
        assert pointing_game(methods[name], masks) >= 0.9, name


def test_randomization_destroys_gradient_and_grad_cam():
    model = zoo.load("fmnist_cnn", device="cpu")
    images, labels = fashion_mnist("test")
    x, y = images[:16], labels[:16]
    for method in (lambda m, x, t: saliency(m, x, t), lambda m, x, t: grad_cam(m, x, t, layer=m[5])):
        scores = randomization_test(model, x, y, method, generator=torch.Generator().manual_seed(0))
        values = list(scores.values())
        assert values[0] == 1.0 and len(values) == 5  # trained + four layers with parameters
        assert values[-1] < 0.5  # all layers random: the picture has changed
    before = [p.clone() for p in model.parameters()]
    randomization_test(model, x, y, lambda m, x, t: saliency(m, x, t))
    unchanged = all(torch.equal(p, q) for p, q in zip(before, model.parameters()))
    assert unchanged, "the model itself was randomised"


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda x, m: pointing_game(torch.rand(3, 1, 8, 8), m[:2]), "masks must be a bool tensor of shape"),
        (lambda x, m: relevance_mass(torch.rand(3, 1, 8, 8), m.float()), "masks must be a bool tensor"),
        (lambda x, m: relevance_mass(torch.rand(3, 1, 8, 8), torch.zeros_like(m)), "at least one pixel"),
        (lambda x, m: deletion_curve(_one_pixel_model(), x, 1, torch.rand(2, 1, 3, 3)),
         "attributions must be"),
        (lambda x, m: auc(torch.tensor([1.0])), "at least 2 points"),
        (lambda x, m: randomization_test(_one_pixel_model(), x, 1, saliency, order="bottom_up"),
         "order must be one of"),
    ],
)
def test_bad_input(call, message):
    x = torch.rand(3, 1, 4, 4)
    with pytest.raises(ValueError, match=message):
        call(x, masks_and_maps())
