"""HotFlip (Ebrahimi et al. 2018): first-order flip scores, the greedy and beam searches, on tiny models."""

import itertools

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from helpers import zoo
from helpers.attacks import flip_scores, hotflip
from helpers.attacks._core import attacker_loss
from helpers.data import words
from helpers.text import ALPHABET, OneHot

V, L, CLASSES = 6, 4, 3


def tiny_text_model(seed=0, linear=False):
    torch.manual_seed(seed)
    if linear:
        return nn.Sequential(OneHot(V), nn.Flatten(), nn.Linear(V * L, CLASSES))
    return nn.Sequential(OneHot(V), nn.Conv1d(V, 5, 2), nn.Tanh(), nn.Flatten(),
                         nn.Linear(5 * (L - 1), CLASSES))


def tiny_words(n=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(1, V, (n, L), generator=g)
    lengths = torch.randint(2, L + 1, (n,), generator=g)
    return tokens.masked_fill(torch.arange(L) >= lengths[:, None], 0)


def single_flips(word):
    """Every allowed one-character flip of one word: (position, character, flipped word)."""
    for i, c in itertools.product(range(L), range(1, V)):
        if word[i] != 0 and word[i] != c:
            flipped = word.clone()
            flipped[i] = c
            yield i, c, flipped


def loss_of(model, tokens_or_one_hot, y, targeted=False):
    return attacker_loss(model(tokens_or_one_hot), y, "ce", targeted)


@pytest.mark.parametrize("targeted", [False, True])
def test_flip_score_is_the_change_of_the_linearised_loss_for_every_flip(targeted):
    """score(i, b) = ⟨∇_X L, onehot(x with x_i = b) − onehot(x)⟩, the directional derivative, checked
    for every position and character by a Jacobian-vector product (no gradient indexing)."""
    model, tokens = tiny_text_model(), tiny_words()
    y = torch.tensor([0, 1, 2, 0, 1])
    scores = flip_scores(model, tokens, y, targeted=targeted, vocabulary=V)
    for n in range(len(tokens)):
        x = F.one_hot(tokens[n : n + 1], V).double()
        expected = torch.full((L, V), float("-inf"), dtype=torch.float64)

        def loss_at(v, label=y[n : n + 1]):
            return loss_of(model.double(), v, label, targeted).sum()

        for i, c, flipped in single_flips(tokens[n]):
            direction = F.one_hot(flipped[None], V).double() - x
            _, change = torch.autograd.functional.jvp(loss_at, x, direction)
            expected[i, c] = change
        model.float()
        torch.testing.assert_close(scores[n].double(), expected, atol=1e-5, rtol=1e-4)


def test_greedy_chooses_the_argmax_of_the_scores():
    model, tokens = tiny_text_model(1), tiny_words(8, seed=1)
    y = model(tokens).argmax(1)  # every word starts correctly classified
    scores = flip_scores(model, tokens, y, vocabulary=V)
    adversarial = hotflip(model, tokens, y, max_flips=1, beam=1, vocabulary=V)
    best = scores.flatten(1).argmax(1)
    expected = tokens.clone()
    expected[torch.arange(len(tokens)), best // V] = best % V
    assert torch.equal(adversarial, expected)


@pytest.mark.parametrize("linear, beam", [(True, 1), (False, L * V)])
def test_beam_search_finds_the_best_single_flip_of_brute_force(linear, beam):
    """On a linear model the first-order score is exact, so even the greedy search finds brute force's best
    flip; on a nonlinear model a beam wide enough to hold every flip does."""
    model, tokens = tiny_text_model(2, linear=linear), tiny_words(10, seed=2)
    with torch.no_grad():
        y = model(tokens).argmax(1)
        adversarial = hotflip(model, tokens, y, max_flips=1, beam=beam, vocabulary=V)
        for n in range(len(tokens)):
            candidates = torch.stack([flipped for _, _, flipped in single_flips(tokens[n])])
            losses = loss_of(model, candidates, y[n].expand(len(candidates)))
            assert torch.equal(adversarial[n], candidates[losses.argmax()])


def test_nonlinear_greedy_can_miss_the_best_flip_that_a_beam_finds():
    """Why a beam: on the nonlinear tiny models the first-order choice is not always brute force's best."""
    missed = 0
    for seed in range(10):
        model, tokens = tiny_text_model(seed), tiny_words(10, seed=seed)
        with torch.no_grad():
            y = model(tokens).argmax(1)
        greedy = hotflip(model, tokens, y, max_flips=1, beam=1, vocabulary=V)
        wide = hotflip(model, tokens, y, max_flips=1, beam=L * V, vocabulary=V)
        with torch.no_grad():
            assert (loss_of(model, wide, y) >= loss_of(model, greedy, y) - 1e-6).all()
            missed += int((loss_of(model, wide, y) > loss_of(model, greedy, y) + 1e-6).sum())
    assert missed > 0


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), max_flips=st.integers(1, 4), beam=st.integers(1, 4),
       targeted=st.booleans())
def test_flips_stay_within_budget_and_never_touch_padding(seed, max_flips, beam, targeted):
    model, tokens = tiny_text_model(seed % 5), tiny_words(6, seed=seed)
    y = torch.randint(CLASSES, (6,), generator=torch.Generator().manual_seed(seed))
    adversarial = hotflip(model, tokens, y, max_flips=max_flips, beam=beam, targeted=targeted, vocabulary=V)
    assert ((adversarial != tokens).sum(1) <= max_flips).all()
    assert torch.equal(adversarial == 0, tokens == 0)  # padding stays padding, letters stay letters


def test_allowed_restricts_the_characters_written():
    model, tokens = tiny_text_model(), tiny_words(6)
    allowed = torch.tensor([False, True, True, False, False, False])
    adversarial = hotflip(model, tokens, 0, max_flips=3, vocabulary=V, allowed=allowed)
    changed = adversarial != tokens
    assert allowed[adversarial[changed]].all()


def test_hotflip_keeps_the_contract():
    model, tokens = tiny_text_model(), tiny_words()
    model.train()
    before = tokens.clone()
    adversarial = hotflip(model, tokens, 1, max_flips=2, beam=2, vocabulary=V)
    assert torch.equal(tokens, before) and adversarial.dtype == torch.int64
    assert model.training and all(p.grad is None and p.requires_grad for p in model.parameters())


@pytest.mark.parametrize("call, error, message", [
    (lambda m, t: hotflip(m, t.float(), 0, vocabulary=V), TypeError, "tokens must have dtype torch.int64"),
    (lambda m, t: hotflip(m, t + V, 0, vocabulary=V), ValueError,
     "tokens must hold character indices in 0…5"),
    (lambda m, t: hotflip(m, t, 7, vocabulary=V), ValueError, r"y must hold classes in 0…2"),
    (lambda m, t: hotflip(m, t, 0, max_flips=0, vocabulary=V), ValueError, "max_flips must be ≥ 1"),
    (lambda m, t: hotflip(m, t, 0, vocabulary=V, allowed=torch.ones(3, dtype=torch.bool)), TypeError,
     "allowed must"),
])
def test_bad_arguments_are_named(call, error, message):
    with pytest.raises(error, match=message):
        call(tiny_text_model(), tiny_words())


def test_one_flip_changes_the_language_of_most_words_for_the_zoo_model():
    """Notebook 08b's claim, on every 8th test word that words_cnn gets right."""
    model = zoo.load("words_cnn", device="cpu")
    tokens, y = words("test")
    tokens, y = tokens[::8], y[::8]
    with torch.no_grad():
        right = model(tokens).argmax(1) == y
    tokens, y = tokens[right], y[right]
    adversarial = hotflip(model, tokens, y, max_flips=1)
    with torch.no_grad():
        assert float((model(adversarial).argmax(1) != y).float().mean()) >= 0.8
    letters = torch.tensor([c in "abcdefghijklmnopqrstuvwxyz" for c in ALPHABET])
    plain = hotflip(model, tokens, y, max_flips=3, allowed=letters)
    with torch.no_grad():
        assert float((model(plain).argmax(1) != y).float().mean()) >= 0.8
