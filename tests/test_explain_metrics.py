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
from helpers.explain.metrics import spearman, ssim_map
from helpers.explain.metrics.faithfulness import _road_imputation
from helpers.imaging import gaussian_blur


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


def test_deletion_and_insertion_fills_reach_the_filled_image():
    """After every pixel is deleted (or before any is inserted) the model sees the fill itself."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3)).eval()
    x = torch.rand(2, 1, 4, 4, generator=torch.Generator().manual_seed(1))
    maps = torch.rand(2, 1, 4, 4, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        for fill, reference in ((0.0, torch.zeros_like(x)), (0.3, torch.full_like(x, 0.3)),
                                ("blur", gaussian_blur(x, 1.0))):
            expected = model(reference).softmax(1)[:, 1]
            assert deletion_curve(model, x, 1, maps, fill=fill, sigma=1.0)[:, -1].tolist() == pytest.approx(
                expected.tolist())
            assert insertion_curve(model, x, 1, maps, fill=fill, sigma=1.0)[:, 0].tolist() == pytest.approx(
                expected.tolist())
            assert deletion_curve(model, x, 1, maps, fill=fill, sigma=1.0)[:, 0].tolist() == pytest.approx(
                model(x).softmax(1)[:, 1].tolist())
    default = deletion_curve(model, x, 1, maps)
    assert torch.equal(default, deletion_curve(model, x, 1, maps, fill=0.0))  # black stays the default


def test_road_imputation_solves_the_neighbour_mean_equations():
    """Every removed pixel equals the 1/6–1/12-weighted mean of its neighbours (Rong et al. 2022, without
    noise), kept pixels are untouched, and the noise has the requested std on removed pixels only."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 2, 7, 6, generator=g, dtype=torch.float64)
    removed = torch.rand(3, 7, 6, generator=g) < 0.6
    removed[2] = True  # nothing left to impute from: black
    filled = _road_imputation(x, removed, 0.0, g)
    assert torch.equal(filled[:2][~removed[:2, None].expand(-1, 2, -1, -1)],
                       x[:2][~removed[:2, None].expand(-1, 2, -1, -1)])
    assert torch.equal(filled[2], torch.zeros_like(x[2]))
    for k in range(2):  # the defining equation, pixel by pixel, in plain Python
        for i, j in removed[k].nonzero().tolist():
            total, weight = torch.zeros(2, dtype=torch.float64), 0.0
            for di in (-1, 0, 1):
                for dj in (-1, 0, 1):
                    if (di, dj) != (0, 0) and 0 <= i + di < 7 and 0 <= j + dj < 6:
                        w = 1 / 6 if di == 0 or dj == 0 else 1 / 12
                        total, weight = total + w * filled[k, :, i + di, j + dj], weight + w
            assert filled[k, :, i, j].tolist() == pytest.approx((total / weight).tolist(), abs=1e-12)
    big = torch.rand(40, 1, 28, 28, generator=g, dtype=torch.float64)
    holes = torch.rand(40, 28, 28, generator=g) < 0.5
    jitter = _road_imputation(big, holes, 0.05, g) - _road_imputation(big, holes, 0.0, g)
    assert jitter[~holes[:, None]].abs().max() == 0
    assert jitter[holes[:, None]].std().item() == pytest.approx(0.05, rel=0.05)


def test_road_deletion_matches_imputing_each_state():
    model = _one_pixel_model()
    x = torch.rand(2, 1, 4, 4, generator=torch.Generator().manual_seed(3))
    maps = torch.rand(2, 1, 4, 4, generator=torch.Generator().manual_seed(4))
    curve = deletion_curve(model, x, 1, maps, steps=4, fill="road", noise=0.0)
    ranks = maps.flatten(1).argsort(1, descending=True).argsort(1).view(2, 4, 4)
    for step, count in enumerate((0, 4, 8, 12, 16)):
        state = _road_imputation(x, ranks < count, 0.0, torch.Generator())
        with torch.no_grad():
            assert curve[:, step].tolist() == pytest.approx(model(state).softmax(1)[:, 1].tolist())


def test_pointing_game_tolerance_matches_scipys_distance_transform():
    """A peak counts when its Euclidean distance to the nearest mask pixel is at most ``tolerance``."""
    from scipy.ndimage import distance_transform_edt

    g = torch.Generator().manual_seed(0)
    masks = torch.zeros(200, 1, 12, 12, dtype=torch.bool)
    corner = torch.randint(0, 9, (200, 2), generator=g)
    for k, (i, j) in enumerate(corner.tolist()):
        masks[k, 0, i:i + 3, j:j + 2] = True
    maps = torch.rand(200, 1, 12, 12, generator=g)
    peak = maps.flatten(1).argmax(1)
    distance = torch.tensor([distance_transform_edt(~m[0].numpy()).flatten()[p] for m, p in zip(masks, peak)])
    for tolerance in (0, 1, 1.5, 2, 3.7, 15):
        assert pointing_game(maps, masks, tolerance=tolerance) == pytest.approx(
            (distance <= tolerance).float().mean().item())
    assert pointing_game(maps, masks) == pointing_game(maps, masks, tolerance=0)
    one = torch.zeros(1, 1, 5, 5)
    one[0, 0, 0, 0] = 1.0
    mask = torch.zeros(1, 1, 5, 5, dtype=torch.bool)
    mask[0, 0, 1, 1] = True   # the peak is its diagonal neighbour, √2 away
    assert [pointing_game(one, mask, tolerance=t) for t in (0, 1, 1.41, 1.42)] == [0.0, 0.0, 0.0, 1.0]


def test_spearman_equals_scipy_with_ties():
    from scipy.stats import spearmanr

    g = torch.Generator().manual_seed(0)
    a = torch.randint(0, 6, (5, 40), generator=g).float()  # many ties
    b = torch.cat([torch.randn(3, 40, generator=g), torch.randint(0, 3, (2, 40), generator=g).float()])
    expected = [spearmanr(a[k].numpy(), b[k].numpy()).statistic for k in range(5)]
    assert spearman(a, b).tolist() == pytest.approx(expected, abs=1e-12)
    zeros = torch.zeros(1, 10)
    assert spearman(zeros, torch.rand(1, 10)).item() == 0.0   # a constant row has no ranking


def test_ssim_map_equals_scikit_image():
    metrics = pytest.importorskip("skimage.metrics")
    g = torch.Generator().manual_seed(0)
    a = torch.rand(3, 20, 17, generator=g, dtype=torch.float64)
    b = (a + 0.3 * torch.rand(3, 20, 17, generator=g, dtype=torch.float64)).clamp(0, 1)
    ours = ssim_map(a, b)
    assert ours.shape == (3, 14, 11)
    for k in range(3):
        value, full = metrics.structural_similarity(a[k].numpy(), b[k].numpy(), data_range=1.0, full=True)
        assert ours[k].mean().item() == pytest.approx(value, abs=1e-10)
        assert ours[k].numpy() == pytest.approx(full[3:-3, 3:-3], abs=1e-10)
    assert ssim_map(a, a).flatten().tolist() == pytest.approx([1.0] * a[:, 3:-3, 3:-3].numel())


def test_randomization_test_options_on_a_model_blind_method():
    """A map that ignores the model scores 1 at every step, on any similarity and pixel set; a map with
    random values on the object and zeros elsewhere is similar on all pixels but not on the object's."""
    model = zoo.load("fmnist_cnn", device="cpu")
    images, labels = fashion_mnist("test")
    x, y = images[:4], labels[:4]
    garment = x > 0
    blind = lambda m, x, t: x.clone()  # noqa: E731
    for similarity in ("spearman", "ssim"):
        for pixels in (None, garment):
            scores = randomization_test(model, x, y, blind, similarity=similarity, pixels=pixels)
            assert list(scores.values()) == pytest.approx([1.0] * 5)

    def noisy(m, x, t):  # random on the garment whatever the model, zero on the black background
        seed = int(1000 * next(m.parameters()).flatten()[0].abs().item()) % 2**31
        return torch.rand(x.shape, generator=torch.Generator().manual_seed(seed)) * (x > 0)

    everywhere = list(randomization_test(model, x, y, noisy,
                                        generator=torch.Generator().manual_seed(0)).values())[-1]
    on_garment = list(randomization_test(model, x, y, noisy, pixels=garment,
                                        generator=torch.Generator().manual_seed(0)).values())[-1]
    assert everywhere > 0.5 and abs(on_garment) < 0.2


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
        (lambda x, m: randomization_test(_one_pixel_model(), x, 1, saliency, similarity="pearson"),
         "similarity must be one of"),
        (lambda x, m: randomization_test(_one_pixel_model(), x, 1, saliency, pixels=m),
         "pixels (and x )?must"),
        (lambda x, m: randomization_test(_one_pixel_model(), x, 1, saliency, similarity="ssim",
                                         pixels=torch.ones(3, 1, 4, 4, dtype=torch.bool)),
         "pixels must mark, in every image, a pixel at least 3 pixels from the border"),
        (lambda x, m: deletion_curve(_one_pixel_model(), x, 1, x, fill="grey"), "fill must be a number"),
        (lambda x, m: deletion_curve(_one_pixel_model(), x, 1, x, fill=1.5), r"fill must be in \[0, 1\]"),
        (lambda x, m: insertion_curve(_one_pixel_model(), x, 1, x, fill="blur", sigma=0.0), "sigma must be"),
        (lambda x, m: insertion_curve(_one_pixel_model(), x, 1, x, fill="road", noise=-0.1), "noise must be"),
        (lambda x, m: pointing_game(torch.rand(3, 1, 8, 8), m, tolerance=-1), r"tolerance must be in"),
        (lambda x, m: ssim_map(torch.rand(2, 8, 8), torch.rand(2, 8, 8), window=4), "window must be odd"),
        (lambda x, m: ssim_map(torch.rand(2, 8, 8), torch.rand(2, 8, 9)), "a and b must have the same shape"),
    ],
)
def test_bad_input(call, message):
    x = torch.rand(3, 1, 4, 4)
    with pytest.raises(ValueError, match=message):
        call(x, masks_and_maps())


@pytest.mark.parametrize("fill", [True, None, [0.0]])
def test_a_fill_of_the_wrong_type_is_refused(fill):
    with pytest.raises(TypeError, match="fill must be a number"):
        deletion_curve(_one_pixel_model(), torch.rand(3, 1, 4, 4), 1, torch.rand(3, 1, 4, 4), fill=fill)


@pytest.mark.parametrize("metric", [pointing_game, relevance_mass])
def test_masks_of_another_size_than_the_attributions_are_refused(metric):
    masks = torch.zeros(2, 1, 12, 12, dtype=torch.bool)
    masks[:, :, 3, 3] = True
    small = masks[..., :6, :6]
    for attributions, mask in ((torch.rand(2, 1, 6, 6), masks), (torch.rand(2, 3, 12, 12), small)):
        with pytest.raises(ValueError) as caught:
            metric(attributions, mask)
        message = str(caught.value)
        assert "masks and attributions must have the same height × width" in message
        assert str(tuple(mask.shape)) in message and str(tuple(attributions.shape)) in message
