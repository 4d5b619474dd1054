"""White-box attacks against torchattacks (float64), and the properties the lectures state."""

from __future__ import annotations

import pytest
import torch
import torchattacks
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import zoo
from helpers.attacks import (
    cw_l2,
    deepfool,
    fgsm,
    ifgsm,
    l2,
    linf,
    mifgsm,
    pgd,
    project_l2,
    project_linf,
    rfgsm,
    success_rate,
)
from helpers.data import fashion_mnist
from tests.conftest import tiny_batch, tiny_cnn
from tests.oracle_models import oracle_images


@pytest.fixture(scope="module")
def data(model):
    x = oracle_images(8, 3)
    with torch.no_grad():
        y = model(x).argmax(1)
    return x, y


@pytest.fixture(scope="module")
def fashion():
    images, labels = fashion_mnist("test")
    return zoo.load("fmnist_cnn", device="cpu"), images[:128], labels[:128]


def identical(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a == b).double().mean())


def targeted_by(target: torch.Tensor):
    return lambda images, labels: target


@pytest.mark.parametrize("targeted", [False, True])
def test_fgsm_is_torchattacks_fgsm_exactly(model, data, targeted):
    x, y = data
    reference = torchattacks.FGSM(model, eps=0.05)
    labels = (y + 1) % 5 if targeted else y
    if targeted:
        reference.set_mode_targeted_by_function(targeted_by(labels))
    assert torch.equal(fgsm(model, x, labels, eps=0.05, targeted=targeted), reference(x, y))


@pytest.mark.parametrize("targeted", [False, True])
def test_iterative_attacks_match_torchattacks(model, data, targeted):
    x, y = data
    labels = (y + 2) % 5 if targeted else y
    cases = [
        (ifgsm(model, x, labels, eps=0.05, alpha=0.01, steps=10, targeted=targeted),
         torchattacks.BIM(model, eps=0.05, alpha=0.01, steps=10)),
        (pgd(model, x, labels, eps=0.05, alpha=0.01, steps=10, random_start=False, targeted=targeted),
         torchattacks.PGD(model, eps=0.05, alpha=0.01, steps=10, random_start=False)),
        (mifgsm(model, x, labels, eps=0.05, alpha=0.01, steps=10, decay=1.0, targeted=targeted),
         torchattacks.MIFGSM(model, eps=0.05, alpha=0.01, steps=10, decay=1.0)),
    ]
    for ours, reference in cases:
        if targeted:
            reference.set_mode_targeted_by_function(targeted_by(labels))
        assert identical(ours, reference(x, y)) >= 0.999, type(reference).__name__


@pytest.mark.parametrize("targeted", [False, True])
def test_rfgsm_is_torchattacks_rfgsm_with_one_step(model, data, targeted):
    """torchattacks' RFGSM takes ``steps`` steps of α after the random one: with one step and ε = 2α it is
    Tramèr et al.'s R+FGSM, and both draw the noise from the global RNG."""
    x, y = data
    labels = (y + 1) % 5 if targeted else y
    reference = torchattacks.RFGSM(model, eps=0.1, alpha=0.05, steps=1)
    if targeted:
        reference.set_mode_targeted_by_function(targeted_by(labels))
    torch.manual_seed(3)
    ours = rfgsm(model, x, labels, eps=0.1, alpha=0.05, targeted=targeted)
    torch.manual_seed(3)
    assert identical(ours, reference(x, y)) >= 0.999


def test_rfgsm_is_its_equation(model, data):
    x, y = data
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(7), dtype=x.dtype)
    start = (x + 0.03 * noise.sign()).clamp(0, 1).requires_grad_(True)
    (grad,) = torch.autograd.grad(torch.nn.functional.cross_entropy(model(start), y, reduction="sum"), start)
    expected = (start.detach() + 0.07 * grad.sign()).clamp(0, 1)
    ours = rfgsm(model, x, y, eps=0.1, alpha=0.03, generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(ours, expected, rtol=0, atol=1e-12)


def test_pgd_l2_matches_torchattacks(model, data):
    """PGDL2 divides by ‖g‖₂ + 1e-10 where we divide by ‖g‖₂: equal up to ~1e-9, not bit for
    bit."""
    x, y = data
    ours = pgd(model, x, y, eps=0.5, alpha=0.1, steps=10, norm="2", random_start=False)
    reference = torchattacks.PGDL2(model, eps=0.5, alpha=0.1, steps=10, random_start=False)(x, y)
    assert float(((ours - reference).abs() <= 1e-6).double().mean()) >= 0.999


def test_projections():
    delta = torch.tensor([[[[3.0, -4.0]]], [[[0.3, 0.4]]]])
    assert torch.equal(project_linf(delta, 1.0), torch.tensor([[[[1.0, -1.0]]], [[[0.3, 0.4]]]]))
    assert torch.allclose(project_l2(delta, 1.0), torch.tensor([[[[0.6, -0.8]]], [[[0.3, 0.4]]]]))
    assert torch.allclose(l2(delta, torch.zeros_like(delta)), torch.tensor([5.0, 0.5]))
    assert torch.allclose(linf(delta, torch.zeros_like(delta)), torch.tensor([4.0, 0.4]))


ATTACKS = {
    "fgsm": lambda m, x, y, e, a, s, g: (fgsm(m, x, y, eps=e), "inf"),
    "ifgsm": lambda m, x, y, e, a, s, g: (ifgsm(m, x, y, eps=e, alpha=a, steps=s), "inf"),
    "pgd_inf": lambda m, x, y, e, a, s, g: (pgd(m, x, y, eps=e, alpha=a, steps=s, restarts=2,
                                               generator=g), "inf"),
    "pgd_l2": lambda m, x, y, e, a, s, g: (pgd(m, x, y, eps=4 * e, alpha=a, steps=s, norm="2", loss="margin",
                                              generator=g), "2"),
    "rfgsm": lambda m, x, y, e, a, s, g: (rfgsm(m, x, y, eps=e, alpha=min(a, e), generator=g), "inf"),
    "mifgsm": lambda m, x, y, e, a, s, g: (mifgsm(m, x, y, eps=e, alpha=a, steps=s, diversity_prob=0.5,
                                                  generator=g), "inf"),
}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(sorted(ATTACKS)), seed=st.integers(0, 1000), eps=st.floats(0.0, 0.5),
       alpha=st.floats(0.001, 0.3), steps=st.integers(1, 6), channels=st.sampled_from([1, 3]))
def test_outputs_stay_in_the_ball_and_the_box(name, seed, eps, alpha, steps, channels):
    model = tiny_cnn(channels=channels, seed=seed).eval()
    x, y = tiny_batch(5, channels=channels, seed=seed)
    x_adv, norm = ATTACKS[name](model, x, y, eps, alpha, steps, torch.Generator().manual_seed(seed))
    assert x_adv.shape == x.shape and x_adv.dtype == x.dtype
    assert float(x_adv.min()) >= 0.0 and float(x_adv.max()) <= 1.0
    distance = linf(x_adv, x) if norm == "inf" else l2(x_adv, x)
    bound = eps if norm == "inf" else 4 * eps
    assert (distance <= bound * (1 + 1e-5) + 1e-6).all()


def test_targeted_pgd_reaches_the_target_at_large_eps(fashion):
    model, x, y = fashion
    target = (y + 3) % 10
    x_adv = pgd(model, x[:32], target[:32], eps=0.3, alpha=0.02, steps=40, targeted=True,
                generator=torch.Generator().manual_seed(0))
    assert success_rate(model, x_adv, target[:32], targeted=True) >= 0.9


def test_more_steps_never_do_worse_than_fgsm(fashion):
    model, x, y = fashion
    for eps in (0.02, 0.05, 0.1):
        one_step = success_rate(model, fgsm(model, x, y, eps=eps), y)
        many = success_rate(model, pgd(model, x, y, eps=eps, alpha=eps / 4, steps=20,
                                       generator=torch.Generator().manual_seed(0)), y)
        assert many >= one_step, eps


def test_restarts_keep_each_images_strongest_result(fashion):
    model, x, y = fashion
    once = pgd(model, x, y, eps=0.03, alpha=0.01, steps=5, loss="margin",
               generator=torch.Generator().manual_seed(1))
    thrice = pgd(model, x, y, eps=0.03, alpha=0.01, steps=5, loss="margin", restarts=3,
                 generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        fooled_once, fooled_thrice = model(once).argmax(1) != y, model(thrice).argmax(1) != y
    assert (fooled_thrice | ~fooled_once).all()  # the first restart is the single run; it can only improve
    assert fooled_thrice.sum() >= fooled_once.sum()


def test_cw_succeeds_on_a_model_with_negative_logits():
    """Masking the true class with 0 (as torchattacks 3.3 does) breaks when every logit is negative."""
    model = tiny_cnn(seed=3).eval()
    with torch.no_grad():
        model[-1].bias.sub_(50.0)  # every logit far below zero
    x, _ = tiny_batch(8, seed=4)
    with torch.no_grad():
        y = model(x).argmax(1)
    x_adv = cw_l2(model, x, y, steps=60, lr=0.05, search_steps=4)
    assert success_rate(model, x_adv, y) >= 0.9
    assert float(x_adv.min()) >= 0.0 and float(x_adv.max()) <= 1.0


def test_cw_returns_x_where_it_fails():
    model = tiny_cnn(seed=1).eval()
    x, y = tiny_batch(4)
    with torch.no_grad():
        y = model(x).argmax(1)
    assert torch.equal(cw_l2(model, x, y, steps=1, lr=1e-6, search_steps=1), x)


def test_deepfool_needs_less_than_fgsm(fashion):
    model, x, y = fashion
    x, y = x[:32], y[:32]
    x_df = deepfool(model, x, y)
    fooled_df = (model(x_df).argmax(1) != y)
    # the smallest FGSM ε (on a grid) that fools each image, and the L2 size of that FGSM perturbation
    needed = torch.full((32,), float("inf"))
    for eps in torch.linspace(0.005, 0.3, 60).tolist():
        x_f = fgsm(model, x, y, eps=eps)
        with torch.no_grad():
            fooled = model(x_f).argmax(1) != y
        needed = torch.where(fooled & needed.isinf(), l2(x_f, x), needed)
    both = fooled_df & needed.isfinite()
    assert both.sum() >= 24
    assert l2(x_df, x)[both].mean() < 0.5 * needed[both].mean()


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda m, x, y: fgsm(m, x, y, eps=-0.1), ValueError, "eps must be ≥ 0"),
        (lambda m, x, y: ifgsm(m, x, y, eps=0.1, alpha=0.0, steps=3), ValueError, "alpha must be > 0"),
        (lambda m, x, y: pgd(m, x, y, eps=0.1, alpha=0.01, steps=0), ValueError, "steps must be ≥ 1"),
        (lambda m, x, y: pgd(m, x, y, eps=0.1, alpha=0.01, steps=2, norm="1"), ValueError,
         "norm must be one of"),
        (lambda m, x, y: pgd(m, x, y, eps=0.1, alpha=0.01, steps=2, loss="hinge"), ValueError,
         "loss must be one of"),
        (lambda m, x, y: pgd(m, x, y, eps=0.1, alpha=0.01, steps=2, restarts=0), ValueError,
         "restarts must be ≥ 1"),
        (lambda m, x, y: fgsm(m, x * 3, y, eps=0.1), ValueError, r"x must lie in \[0, 1\]"),
        (lambda m, x, y: fgsm(m, x, y + 10, eps=0.1), ValueError, "y must hold classes in 0…4"),
        (lambda m, x, y: fgsm(m, x, y[:2], eps=0.1), ValueError, r"y must have shape \(6,\)"),
        (lambda m, x, y: mifgsm(m, x, y, eps=0.1, alpha=0.01, steps=2, diversity_prob=2), ValueError,
         "diversity_prob"),
        (lambda m, x, y: rfgsm(m, x, y, eps=0.1, alpha=0.2), ValueError, "alpha must be ≤ eps = 0.1"),
        (lambda m, x, y: cw_l2(m, x, y, c=0), ValueError, "c must be > 0"),
        (lambda m, x, y: deepfool(m, x, y, overshoot=-1), ValueError, "overshoot must be ≥ 0"),
        (lambda m, x, y: success_rate(m, x, y[:1]), ValueError, r"y must have shape"),
    ],
)
def test_bad_input(call, error, message):
    x, y = tiny_batch()
    with pytest.raises(error, match=message):
        call(tiny_cnn(), x, y)


def test_decision_plane_matches_direct_evaluation():
    from helpers.attacks import decision_plane

    model = tiny_cnn().eval()
    x, _ = tiny_batch(1)
    u, v = torch.randn_like(x), torch.randn_like(x)
    grid = decision_plane(model, x, u, v, span=2.0, resolution=5, batch_size=3)
    a, b = 1.0, -2.0  # column 3, row 0
    with torch.no_grad():
        expected = model(x + a * u / u.abs().max() + b * v / v.abs().max()).argmax(1)
    assert grid.shape == (5, 5) and grid[0, 3] == expected
    with pytest.raises(ValueError, match="u must be a non-zero direction"):
        decision_plane(model, x, torch.zeros_like(x), v, span=1.0)
