"""Auto-PGD against torchattacks' APGD, the paper's formulas (DLR, checkpoints), the ε-ball and the box."""

from __future__ import annotations

import pytest
import torch
import torchattacks
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import zoo
from helpers.attacks import apgd, apgd_checkpoints, dlr_loss, l2, linf, pgd, success_rate
from helpers.data import fashion_mnist
from tests.conftest import tiny_batch, tiny_cnn

IMAGES, STEPS, EPS = 200, 25, 0.1


@pytest.fixture(scope="module")
def robust():
    """fmnist_cnn_pgd under APGD (ours and torchattacks'), CE and DLR, and under PGD with the same budget."""
    model = zoo.load("fmnist_cnn_pgd", device="cpu")
    images, labels = fashion_mnist("test")
    x, y = images[:IMAGES], labels[:IMAGES]
    accuracy = {}
    for loss in ("ce", "dlr"):
        ours = apgd(model, x, y, eps=EPS, steps=STEPS, loss=loss, generator=torch.Generator().manual_seed(0))
        assert (linf(ours, x) <= EPS + 1e-6).all()
        accuracy[loss] = 1 - success_rate(model, ours, y)
        accuracy["torchattacks " + loss] = 1 - success_rate(
            model, torchattacks.APGD(model, eps=EPS, steps=STEPS, loss=loss, seed=0)(x, y), y)
    # PGD with the same number of gradients and its usual step ε/10
    x_pgd = pgd(model, x, y, eps=EPS, alpha=EPS / 10, steps=STEPS + 1,
                generator=torch.Generator().manual_seed(0))
    accuracy["pgd"] = 1 - success_rate(model, x_pgd, y)
    return accuracy


@pytest.mark.parametrize("loss", ["ce", "dlr"])
def test_apgd_matches_torchattacks_on_the_robust_model(robust, loss):
    assert abs(robust[loss] - robust["torchattacks " + loss]) <= 0.01, robust
    assert 0.5 < robust[loss] < 0.9  # the model is robust, and the attack does something


@pytest.mark.parametrize("loss", ["ce", "dlr"])
def test_apgd_is_never_weaker_than_pgd_with_the_same_budget(robust, loss):
    assert robust[loss] <= robust["pgd"] + 0.01, robust  # 0.01: two images, the noise of the random starts


def test_checkpoints_are_the_papers():
    # Croce & Hein 2020, sec. 3.2: p = 0, 0.22, 0.41, 0.57, 0.70, 0.80, 0.87, 0.93, 0.99
    assert apgd_checkpoints(100) == [0, 22, 41, 57, 70, 80, 87, 93, 99]
    assert apgd_checkpoints(1000) == [0, 220, 410, 570, 700, 800, 870, 930, 990]
    assert apgd_checkpoints(10) == [0, 3, 5, 6, 7, 8, 9, 10]  # ⌈p_j · 10⌉, repeated ones merged


def test_dlr_equals_its_formula_on_hand_made_logits():
    z = torch.tensor([[3.0, 1.0, 2.0, 0.5], [3.0, 1.0, 2.0, 0.5], [-1.0, -4.0, -2.0, -3.0]])
    y = torch.tensor([0, 1, 2])
    # −(z_y − max_{i≠y} z_i) / (z_π1 − z_π3)
    expected = torch.tensor([-(3 - 2) / (3 - 1), -(1 - 3) / (3 - 1), -(-2 - -1) / (-1 - -3)])
    assert torch.allclose(dlr_loss(z, y), expected, atol=1e-6)
    # targeted at t: −(max_{i≠t} z_i − z_t) / (z_π1 − (z_π3 + z_π4) / 2)
    t = torch.tensor([3, 2, 0])
    expected = torch.tensor([-(3 - 0.5) / (3 - 0.75), -(3 - 2) / (3 - 0.75), -(-2 - -1) / (-1 - -3.5)])
    assert torch.allclose(dlr_loss(z, t, targeted=True), expected, atol=1e-6)
    # scale and shift invariance, and torchattacks' own DLR
    assert torch.allclose(dlr_loss(5 * z + 7, y), dlr_loss(z, y), atol=1e-5)
    logits = torch.randn(50, 10, generator=torch.Generator().manual_seed(0))
    labels = torch.randint(10, (50,), generator=torch.Generator().manual_seed(1))
    reference = torchattacks.APGD(tiny_cnn()).dlr_loss(logits, labels)
    assert torch.allclose(dlr_loss(logits, labels), reference, atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 1000), eps=st.floats(0.0, 0.5), steps=st.integers(1, 8),
       norm=st.sampled_from(["inf", "2"]), loss=st.sampled_from(["ce", "dlr"]), targeted=st.booleans(),
       restarts=st.integers(1, 2))
def test_outputs_stay_in_the_ball_and_the_box(seed, eps, steps, norm, loss, targeted, restarts):
    model = tiny_cnn(seed=seed).eval()
    x, y = tiny_batch(5, seed=seed)
    x_adv = apgd(model, x, y, eps=eps, steps=steps, norm=norm, loss=loss, targeted=targeted,
                 restarts=restarts, generator=torch.Generator().manual_seed(seed))
    assert x_adv.shape == x.shape and x_adv.dtype == x.dtype
    assert float(x_adv.min()) >= 0.0 and float(x_adv.max()) <= 1.0
    distance = linf(x_adv, x) if norm == "inf" else l2(x_adv, x)
    assert (distance <= eps * (1 + 1e-5) + 1e-6).all()


def test_l2_and_targeted_attacks_work_on_the_plain_model():
    model = zoo.load("fmnist_cnn", device="cpu")
    images, labels = fashion_mnist("test")
    x, y = images[:32], labels[:32]
    g = torch.Generator().manual_seed(0)
    x_l2 = apgd(model, x, y, eps=1.5, steps=20, norm="2", generator=g)
    assert (l2(x_l2, x) <= 1.5 + 1e-4).all() and success_rate(model, x_l2, y) > 0.9
    target = (y + 1) % 10
    for loss in ("ce", "dlr"):
        x_t = apgd(model, x, target, eps=0.15, steps=20, loss=loss, targeted=True, generator=g)
        assert success_rate(model, x_t, target, targeted=True) > 0.9, loss


def test_restarts_keep_what_was_found_and_the_seed_reproduces():
    model = tiny_cnn(seed=3).eval()
    x, y = tiny_batch(8, seed=3)
    one = apgd(model, x, y, eps=0.05, steps=5, generator=torch.Generator().manual_seed(1))
    again = apgd(model, x, y, eps=0.05, steps=5, generator=torch.Generator().manual_seed(1))
    assert torch.equal(one, again)
    three = apgd(model, x, y, eps=0.05, steps=5, restarts=3, generator=torch.Generator().manual_seed(1))
    assert success_rate(model, three, y) >= success_rate(model, one, y)


@pytest.mark.parametrize("options, match", [
    ({"loss": "margin"}, "loss must be one of 'ce', 'dlr'"),
    ({"norm": "1"}, "norm must be one of"),
    ({"rho": 1.5}, r"rho must be in \(0, 1\]"),
    ({"momentum": 0.0}, "momentum must be > 0"),
    ({"steps": 0}, "steps must be ≥ 1"),
    ({"eps": -0.1}, "eps must be ≥ 0"),
])
def test_bad_options_are_named(options, match):
    model = tiny_cnn().eval()
    x, y = tiny_batch(2)
    with pytest.raises(ValueError, match=match):
        apgd(model, x, y, **{"eps": 0.1, **options})


def test_dlr_needs_enough_classes():
    model = tiny_cnn(classes=3).eval()
    x, _ = tiny_batch(2)
    y = torch.tensor([0, 1])
    apgd(model, x, y, eps=0.1, steps=2, loss="dlr")  # 3 classes: enough untargeted
    with pytest.raises(ValueError, match="at least 4 classes"):
        apgd(model, x, y, eps=0.1, steps=2, loss="dlr", targeted=True)
