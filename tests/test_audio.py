"""The log-mel front end against NumPy, the keyword model, and PGD under a dB bound (Carlini & Wagner
2018)."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from helpers import zoo
from helpers.attacks import bpda, db_radius, pgd_db
from helpers.audio import LogMel, db, log_mel, relative_db
from helpers.data import spoken_digits
from helpers.defenses import Defended, quantize_waveform
from helpers.models import keyword_cnn

NOTEBOOK_DB = -30.0  # the bound of notebook 08b's "seven" → "three"


def numpy_log_mel(x, sample_rate=8000, n_fft=256, hop=128, n_mels=40, f_min=20.0, floor=1e-6):
    """An independent float64 computation: explicit frames, np.fft.rfft, filters built one by one."""
    def mel(f):
        return 2595.0 * math.log10(1.0 + f / 700.0)

    def hz(m):
        return 700.0 * (10 ** (m / 2595.0) - 1.0)

    lo, hi = mel(f_min), mel(sample_rate / 2)
    edges = [hz(lo + (hi - lo) * i / (n_mels + 1)) for i in range(n_mels + 2)]
    bank = np.zeros((n_fft // 2 + 1, n_mels))
    for m in range(n_mels):
        for k in range(n_fft // 2 + 1):
            f = k * sample_rate / n_fft
            if edges[m] <= f <= edges[m + 1]:
                bank[k, m] = (f - edges[m]) / (edges[m + 1] - edges[m])
            elif edges[m + 1] < f <= edges[m + 2]:
                bank[k, m] = (edges[m + 2] - f) / (edges[m + 2] - edges[m + 1])
    window = np.array([0.5 - 0.5 * math.cos(2 * math.pi * n / n_fft) for n in range(n_fft)])
    frames = [x[:, t : t + n_fft] * window for t in range(0, x.shape[1] - n_fft + 1, hop)]
    power = np.abs(np.fft.rfft(np.stack(frames, axis=1), axis=2)) ** 2  # N × frames × bins
    return np.log(power @ bank + floor).transpose(0, 2, 1)


def test_log_mel_equals_an_independent_numpy_computation():
    x, _ = spoken_digits("test")
    x = x[::16].double()
    ours = LogMel().double()(x).numpy()
    reference = numpy_log_mel(x.numpy())
    assert ours.shape == reference.shape == (10, 40, 61)
    np.testing.assert_allclose(ours, reference, atol=1e-5, rtol=0)
    np.testing.assert_allclose(log_mel(x.float()).numpy(), reference, atol=2e-3, rtol=0)  # float32


def test_log_mel_is_differentiable_with_respect_to_the_samples():
    x = (torch.rand(2, 1000, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) - 0.5)
    x.requires_grad_(True)
    layer = LogMel(n_mels=8, n_fft=64, hop=32).double()
    assert torch.autograd.gradcheck(lambda v: layer(v).sum(), (x,), eps=1e-6, atol=1e-4)


def test_db_measures_the_peak():
    x = torch.tensor([[0.5, -0.1], [0.01, 0.0]])
    assert torch.allclose(db(x), torch.tensor([20 * math.log10(0.5), -40.0]))
    assert torch.allclose(relative_db(0.1 * x, x), torch.tensor([-20.0, -20.0]))
    assert torch.allclose(db_radius(x, -20.0), torch.tensor([[0.05], [0.001]]))


def tiny_audio_model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(LogMel(n_fft=64, hop=32, n_mels=8), nn.Flatten(), nn.Linear(8 * 15, 4))


@settings(max_examples=25, deadline=None)
@given(bound=st.floats(-60.0, -1.0), peak=st.floats(0.01, 1.0), seed=st.integers(0, 2**16),
       targeted=st.booleans(), steps=st.integers(1, 8), alpha=st.floats(0.01, 1.0))
def test_pgd_db_never_exceeds_its_bound(bound, peak, seed, targeted, steps, alpha):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(3, 512, generator=g) * 2 - 1
    x = x / x.abs().amax(1, keepdim=True) * peak
    y = torch.randint(4, (3,), generator=g)
    x_adv = pgd_db(tiny_audio_model(), x, y, db=bound, steps=steps, alpha=alpha, targeted=targeted)
    assert float(x_adv.abs().max()) <= 1.0
    changed = (x_adv - x).abs().amax(1) > 0
    assert (relative_db(x_adv - x, x)[changed] <= bound + 1e-3).all()


def test_pgd_db_keeps_the_contract():
    model = tiny_audio_model()
    model.train()
    x = torch.rand(2, 512, generator=torch.Generator().manual_seed(1)) - 0.5
    before = x.clone()
    x_adv = pgd_db(model, x, 1, db=-20.0, steps=2)
    assert torch.equal(x, before) and not x_adv.requires_grad
    assert all(m.training for m in model.modules())
    assert all(p.grad is None and p.requires_grad for p in model.parameters())


@pytest.mark.parametrize("bad, message", [
    (dict(db=3.0), "db must be a negative number"),
    (dict(db=-20.0, steps=0), "steps must be ≥ 1"),
    (dict(db=-20.0, loss="l2"), "loss must be one of"),
])
def test_pgd_db_names_bad_arguments(bad, message):
    with pytest.raises(ValueError, match=message):
        pgd_db(tiny_audio_model(), torch.zeros(1, 512) + 0.1, 0, **bad)


def test_waveforms_are_checked():
    with pytest.raises(ValueError, match=r"x must lie in \[-1, 1\].*divide int16 samples by 32768"):
        pgd_db(tiny_audio_model(), torch.full((1, 512), 300.0), 0, db=-20.0)
    with pytest.raises(TypeError, match="x.float\\(\\) / 32768"):
        pgd_db(tiny_audio_model(), torch.zeros(1, 512, dtype=torch.int16), 0, db=-20.0)
    with pytest.raises(ValueError, match="silent clip"):
        pgd_db(tiny_audio_model(), torch.zeros(1, 512), 0, db=-20.0)


@pytest.fixture(scope="module")
def digits():
    x, y = spoken_digits("test")
    return zoo.load("digits_cnn", device="cpu"), x, y


def test_seven_is_heard_as_three_at_the_notebooks_bound(digits):
    model, x, y = digits
    sevens = x[y == 7]
    x_adv = pgd_db(model, sevens, 3, db=NOTEBOOK_DB, steps=50, targeted=True)
    assert (relative_db(x_adv - sevens, sevens) <= NOTEBOOK_DB + 1e-3).all()
    with torch.no_grad():
        assert (model(sevens).argmax(1) == 7).all()
        assert float((model(x_adv).argmax(1) == 3).float().mean()) >= 0.9


def test_quantisation_and_its_adaptive_attack(digits):
    """8-bit quantisation removes most of a −45 dB attack; attacking through it (BPDA) gets part back."""
    model, x, y = digits
    x, y = x[::4], y[::4]
    target = (y + 3) % 10
    quantise = lambda v: quantize_waveform(v, 8)  # noqa: E731
    defended = Defended(model, quantise)
    with torch.no_grad():
        assert float((defended(x).argmax(1) == y).float().mean()) == 1.0
    plain = pgd_db(model, x, target, db=-45.0, steps=50, targeted=True)
    adaptive = pgd_db(Defended(model, bpda(quantise)), x, target, db=-45.0, steps=50, targeted=True)
    with torch.no_grad():
        undefended = float((model(plain).argmax(1) == target).float().mean())
        filtered = float((defended(plain).argmax(1) == target).float().mean())
        through = float((defended(adaptive).argmax(1) == target).float().mean())
    assert filtered < undefended / 2 and through > filtered


def test_quantize_waveform():
    x = torch.tensor([[0.0, 0.26, -0.74, 0.999]])
    assert torch.equal(quantize_waveform(x, 3), torch.tensor([[0.0, 0.25, -0.75, 1.0]]))
    with pytest.raises(ValueError, match="bits must be an int from 2 to 16"):
        quantize_waveform(x, 1)


def test_keyword_cnn_maps_waveforms_to_logits():
    assert keyword_cnn()(torch.zeros(2, 8000)).shape == (2, 10)


def test_show_spectrograms_draws_one_panel_per_clip():
    from helpers.viz import show_spectrograms

    x, _ = spoken_digits("test")
    fig = show_spectrograms(x[:3], ["a", "b", "c"])
    assert len(fig.axes) == 4  # three spectrograms and the colour bar
    with pytest.raises(ValueError, match="titles must have one entry per waveform"):
        show_spectrograms(x[:3], ["a"])


def test_training_helpers_take_waveforms_and_tokens(digits):
    from helpers.data import words
    from helpers.training import accuracy

    model, x, y = digits
    assert accuracy(model, x[:20], y[:20], inputs="waveforms") == 1.0
    tokens, languages = words("test")
    assert accuracy(zoo.load("words_cnn", device="cpu"), tokens, languages, inputs="tokens") > 0.9
    with pytest.raises(ValueError, match="inputs must be one of 'images', 'waveforms', 'tokens'"):
        accuracy(model, x, y, inputs="audio")
    with pytest.raises(ValueError, match=r"images must have 4 dimensions"):
        accuracy(model, x, y)


def test_db_names_bad_arguments():
    with pytest.raises(ValueError, match=r"v must have 2 dimensions N×T"):
        db(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="delta and x must have the same shape"):
        relative_db(torch.ones(2, 5), torch.ones(2, 4))


def test_a_clip_shorter_than_the_models_window_is_named_not_a_torch_error():
    """The spectrogram's 256-sample window cannot frame a 100-sample clip: torch's unfold error comes back
    as a ValueError naming x and the model, torch's message kept and chained."""
    model = keyword_cnn(10).eval()
    x, y = torch.rand(2, 100) * 0.1, torch.tensor([1, 2])
    with pytest.raises(ValueError, match=r"x does not fit model.*a clip's length.*maximum size") as caught:
        pgd_db(model, x, y, db=-30, steps=2)
    assert isinstance(caught.value.__cause__, RuntimeError)
