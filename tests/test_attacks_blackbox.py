"""Black-box and physical attacks: the black box reveals only answers, and the attacks keep their promises."""

from __future__ import annotations

import pytest
import torch

from helpers import zoo
from helpers.attacks import (
    BlackBox,
    QueryBudgetExceeded,
    adversarial_patch,
    apply_patch,
    ensemble,
    linf,
    random_transforms,
    simba,
    square_attack,
    substitute_training,
    success_rate,
    universal_perturbation,
)
from helpers.data import fashion_mnist
from helpers.models import fashion_cnn
from tests.conftest import tiny_batch, tiny_cnn


@pytest.fixture(scope="module")
def blackbox_model():
    return zoo.load("fmnist_blackbox", device="cpu")


@pytest.fixture(scope="module")
def test_images():
    images, labels = fashion_mnist("test")
    return images[:32], labels[:32]


def test_no_gradient_flows_through_the_black_box():
    model = tiny_cnn()
    x, _ = tiny_batch(3)
    x = x.requires_grad_(True)
    answer = BlackBox(model)(x)
    assert not answer.requires_grad
    with pytest.raises(RuntimeError):
        answer.sum().backward()
    assert x.grad is None and all(p.grad is None for p in model.parameters())


def test_queries_are_counted_and_the_budget_enforced():
    box = BlackBox(tiny_cnn(), budget=10)
    x, _ = tiny_batch(4)
    box(x)
    box(x[:3])
    assert box.queries == 7
    with pytest.raises(QueryBudgetExceeded, match="7 of 10 queries are spent"):
        box(x)
    assert box.queries == 7  # a refused query is not answered and not counted
    box(x[:3])
    assert box.queries == 10


def test_label_output_reveals_only_labels():
    model = tiny_cnn()
    x, _ = tiny_batch(5)
    answer = BlackBox(model, output="label")(x)
    assert answer.dtype == torch.int64 and answer.shape == (5,)
    with torch.no_grad():
        assert torch.equal(answer, model.eval()(x).argmax(1))
    probs = BlackBox(model, output="probs")(x)
    assert torch.allclose(probs.sum(1), torch.ones(5))


def test_ensemble_averages_logits():
    a, b = tiny_cnn(seed=1).eval(), tiny_cnn(seed=2).eval()
    x, _ = tiny_batch(3)
    with torch.no_grad():
        assert torch.allclose(ensemble([a, b])(x), (a(x) + b(x)) / 2)
    with pytest.raises(ValueError, match="at least one model"):
        ensemble([])


@pytest.mark.parametrize("attack", ["simba_pixel", "simba_dct", "square"])
def test_query_attacks_keep_budget_ball_and_box(blackbox_model, test_images, attack):
    x, y = test_images
    box = BlackBox(blackbox_model)
    eps, budget = 0.1, 300
    if attack == "square":
        x_adv, queries = square_attack(box, x, y, eps=eps, max_queries=budget,
                                       generator=torch.Generator().manual_seed(0))
    else:
        x_adv, queries = simba(box, x, y, eps=eps, max_queries=budget, basis=attack.split("_")[1],
                               generator=torch.Generator().manual_seed(0))
    assert (queries <= budget).all() and int(queries.sum()) == box.queries
    assert (linf(x_adv, x) <= eps + 1e-6).all() and x_adv.min() >= 0 and x_adv.max() <= 1
    rate = success_rate(blackbox_model, x_adv, y)
    # measured at this setting (32 images, ε = 0.1, 300 queries, seed 0): SimBA-pixel 0.44, SimBA-DCT 0.78,
    # Square 0.66 (clean error 0.06); the floors leave a margin for other platforms' rounding
    floor = {"simba_pixel": 0.3, "simba_dct": 0.6, "square": 0.5}[attack]
    assert rate >= floor, rate


def test_the_counter_and_the_budget_are_read_only():
    box = BlackBox(tiny_cnn(), budget=4)
    box(tiny_batch(3)[0])
    for name, value in (("queries", 0), ("budget", None)):
        with pytest.raises(AttributeError):
            setattr(box, name, value)
    assert box.queries == 3 and box.budget == 4


@pytest.mark.parametrize("attack", [simba, square_attack])
def test_query_attacks_continue_from_a_warm_start(blackbox_model, test_images, attack):
    """From ``x_init`` (here FGSM on the proxy, a transferred example) the search never ends worse than its
    start: the black box's margin on x_adv is at most its margin on x_init, image by image; an image that
    x_init already fools costs one query and comes back as x_init."""
    from helpers.attacks import fgsm
    from helpers.attacks._core import margin

    x, y = test_images
    eps = 0.1
    start = fgsm(zoo.load("fmnist_proxy", device="cpu"), x, y, eps=eps)
    kept = start.clone()
    x_adv, queries = attack(BlackBox(blackbox_model), x, y, eps=eps, max_queries=60, x_init=start,
                            generator=torch.Generator().manual_seed(0))
    assert torch.equal(start, kept)  # x_init is not modified
    assert (linf(x_adv, x) <= eps + 1e-6).all() and x_adv.min() >= 0 and x_adv.max() <= 1
    with torch.no_grad():
        before, after = margin(blackbox_model(start), y), margin(blackbox_model(x_adv), y)
    assert (after <= before + 1e-5).all()
    fooled = before < 0
    assert fooled.any() and (queries[fooled] == 1).all() and torch.equal(x_adv[fooled], start[fooled])
    assert (after[~fooled] < before[~fooled] - 1e-3).any()  # and the queries made progress from there
    # without x_init the attack starts as before (Square: from stripes; SimBA: from x)
    cold, _ = attack(BlackBox(blackbox_model), x, y, eps=eps, max_queries=60,
                     generator=torch.Generator().manual_seed(0))
    again, _ = attack(BlackBox(blackbox_model), x, y, eps=eps, max_queries=60, x_init=None,
                      generator=torch.Generator().manual_seed(0))
    assert torch.equal(cold, again)


@pytest.mark.parametrize("attack", [simba, square_attack])
@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda x: x[:1], ValueError, r"x_init must have x's shape \(2, 1, 12, 12\)"),
        (lambda x: (x + 0.2).clamp(0, 1), ValueError, r"x_init must lie within eps = 0.1 of x \(L∞\)"),
        (lambda x: x + 2, ValueError, r"x_init must lie in \[0, 1\]"),
        (lambda x: x.double(), TypeError, "x_init must have the model's dtype"),
        (lambda x: torch.full_like(x, float("nan")), ValueError, "x_init contains NaN"),
        (lambda x: x.numpy(), TypeError, "x_init must be a torch.Tensor"),
    ],
)
def test_a_bad_starting_point_is_refused(attack, make, error, message):
    x, y = tiny_batch(2)
    box = BlackBox(tiny_cnn())
    with pytest.raises(error, match=message):
        attack(box, x, y, eps=0.1, max_queries=5, x_init=make(x))
    assert box.queries == 0  # refused before any query


def test_query_attacks_need_scores():
    with pytest.raises(ValueError, match="needs scores"):
        square_attack(BlackBox(tiny_cnn(), output="label"), *tiny_batch(2), eps=0.1, max_queries=5)
    with pytest.raises(TypeError, match="blackbox must be a helpers.attacks.BlackBox"):
        simba(tiny_cnn(), *tiny_batch(2), eps=0.1, max_queries=5)


def test_substitute_training_agrees_with_the_black_box(blackbox_model):
    images, labels = fashion_mnist("test")
    box = BlackBox(blackbox_model, output="label")
    seed = images[:150]
    substitute, queries = substitute_training(box, seed, model_fn=fashion_cnn, rounds=3, lam=0.1, epochs=6,
                                              generator=torch.Generator().manual_seed(0))
    assert queries == 150 + 150 + 300 == box.queries  # the set doubles after rounds 1 and 2: 600 labels
    held_out = images[5000:6000]
    with torch.no_grad():
        agree = substitute(held_out).argmax(1) == blackbox_model(held_out).argmax(1)
    agreement = agree.float().mean().item()
    assert agreement >= 0.6  # from 150 seed images and label queries only


def test_universal_perturbation_is_one_bounded_delta(blackbox_model, test_images):
    model = zoo.load("fmnist_cnn", device="cpu")
    images, labels = fashion_mnist("test")
    delta = universal_perturbation(model, images[:500], labels[:500], eps=0.1, steps=60,
                                   generator=torch.Generator().manual_seed(0))
    assert delta.shape == (1, 1, 28, 28) and float(delta.abs().max()) <= 0.1 + 1e-6
    held_out_x, held_out_y = images[1000:1500], labels[1000:1500]
    fooled = success_rate(model, (held_out_x + delta).clamp(0, 1), held_out_y)
    noise = torch.sign(torch.randn(delta.shape, generator=torch.Generator().manual_seed(1))) * 0.1
    baseline = success_rate(model, (held_out_x + noise).clamp(0, 1), held_out_y)
    # one pattern fools many unseen images, random noise of the same size does not
    assert fooled >= baseline + 0.2


def test_apply_patch_places_the_patch_under_the_mask():
    images = torch.zeros(2, 1, 8, 8)
    patch = torch.ones(1, 8, 8)
    mask = torch.zeros(8, 8)
    mask[1:3, 1:3] = 1
    out = apply_patch(images, patch, mask)
    assert out[:, 0, 1:3, 1:3].eq(1).all() and out.sum() == 2 * 4
    shifts = random_transforms(2, shift=0.3, generator=torch.Generator().manual_seed(0))
    moved = apply_patch(images, patch, mask, shifts)
    assert not torch.equal(moved, out)
    with pytest.raises(ValueError, match="mask must be H×W"):
        apply_patch(images, patch, mask[:4])


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: BlackBox(tiny_cnn(), output="scores"), ValueError, "output must be one of"),
        (lambda: BlackBox(tiny_cnn(), budget=-1), ValueError, "budget must be ≥ 0"),
        (lambda: BlackBox(tiny_cnn())(tiny_batch(2)[0] * 300), ValueError, r"x must lie in \[0, 1\]"),
        (lambda: simba(BlackBox(tiny_cnn()), *tiny_batch(2), eps=0.1, max_queries=0), ValueError,
         "max_queries"),
        (lambda: simba(BlackBox(tiny_cnn()), *tiny_batch(2), eps=0.1, max_queries=5, basis="wavelet"),
         ValueError, "basis must be one of"),
        (lambda: square_attack(BlackBox(tiny_cnn()), *tiny_batch(2), eps=0.1, max_queries=5, p_init=0),
         ValueError, "p_init"),
        (lambda: universal_perturbation(tiny_cnn(), *tiny_batch(2), eps=-1), ValueError, "eps must be ≥ 0"),
        (lambda: adversarial_patch(tiny_cnn(), tiny_batch(2)[0], 9, mask=torch.ones(12, 12), steps=1),
         ValueError, "target must hold classes in 0…4"),
    ],
)
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()
