"""Defenses: filters against independent references, the detector's false-positive rate, the adaptive
attacks that break filters, certification against scipy, and the training functions end to end."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF
from scipy import ndimage
from scipy.stats import beta, norm
from torch import nn

from helpers import zoo
from helpers.attacks import bpda, fgsm, pgd, success_rate
from helpers.data import fashion_mnist
from helpers.defenses import (
    Defended,
    FeatureSqueezingDetector,
    adversarial_training,
    bit_depth,
    certify,
    fast_training,
    gaussian_blur,
    jpeg,
    median_filter,
    noise_training,
    pgd_training,
    random_resize_pad,
    roc,
    smoothed_predict,
    trades,
)
from helpers.training import train
from tests.conftest import tiny_batch, tiny_cnn


@pytest.fixture(scope="module")
def fashion():
    images, labels = fashion_mnist("test")
    return zoo.load("fmnist_cnn", device="cpu"), images, labels


@pytest.mark.parametrize("size", [3, 5])
def test_median_filter_matches_scipy(size):
    x = torch.rand(3, 2, 9, 11, dtype=torch.float64)
    expected = ndimage.median_filter(x.numpy(), size=(1, 1, size, size), mode="reflect")
    assert np.allclose(median_filter(x, size=size).numpy(), expected)


def test_bit_depth_is_its_formula():
    x = torch.rand(4, 1, 5, 5)
    for bits in (1, 3, 8):
        levels = 2**bits - 1
        assert torch.equal(bit_depth(x, bits), torch.round(x * levels) / levels)
    assert bit_depth(x, 1).unique().tolist() in ([0.0, 1.0], [0.0], [1.0])


@pytest.mark.parametrize("sigma, kernel", [(0.8, None), (1.5, 5), (1.0, 3)])
def test_gaussian_blur_matches_torchvision(sigma, kernel):
    x = torch.rand(2, 3, 16, 16)
    size = 2 * int(np.ceil(3 * sigma)) + 1 if kernel is None else kernel
    expected = TF.gaussian_blur(x, kernel_size=[size, size], sigma=[sigma, sigma])
    assert torch.allclose(gaussian_blur(x, sigma, kernel), expected, atol=1e-6)


def test_jpeg_round_trip():
    x, _ = tiny_batch(3, channels=3)
    out = jpeg(x, quality=50)
    assert out.shape == x.shape and out.dtype == x.dtype and 0 <= out.min() and out.max() <= 1
    assert not torch.allclose(out, x, atol=1 / 255)  # lossy: the image really changed
    grey = jpeg(fashion_mnist("test")[0][:2], quality=90)
    assert grey.shape == (2, 1, 28, 28)


@pytest.mark.parametrize("quality", [10, 75, 95])
def test_jpeg_equals_torchvisions_codec(quality):
    """Pillow's round trip gives the bytes torchvision's (deprecated) encode/decode gave, grey and colour:
    the committed outputs of notebook 09 did not move when the codec changed."""
    io = pytest.importorskip("torchvision.io")
    if not hasattr(io, "encode_jpeg"):
        pytest.skip("this torchvision has no JPEG codec any more")
    grey = fashion_mnist("test")[0][:16]
    colour, _ = tiny_batch(4, channels=3)
    for x in (grey, colour):
        as_bytes = list((x * 255).round().to(torch.uint8))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torchvision's image codecs warn that they will be removed
            expected = torch.stack(io.decode_jpeg(io.encode_jpeg(as_bytes, quality=quality))).float() / 255
        assert torch.equal(jpeg(x, quality=quality), expected)


def test_random_resize_pad_keeps_the_shape():
    x, _ = tiny_batch(2)
    out = random_resize_pad(x, generator=torch.Generator().manual_seed(0))
    assert out.shape == x.shape and not torch.equal(out, x)


def test_random_resize_pad_draws_once_per_image_or_once_per_batch():
    x = tiny_batch(1)[0].expand(8, -1, -1, -1).contiguous()  # eight copies of one image
    per_image = random_resize_pad(x, min_scale=0.5, generator=torch.Generator().manual_seed(0))
    per_batch = random_resize_pad(x, min_scale=0.5, per_image=False,
                                  generator=torch.Generator().manual_seed(0))
    assert len({tuple(image.flatten().tolist()) for image in per_image}) > 1  # different draws
    assert all(torch.equal(image, per_batch[0]) for image in per_batch)       # one draw for all


def test_per_image_resize_pad_is_interpolate_then_pad():
    from helpers.defenses.filters import _shrink_and_place

    x = torch.rand(3, 2, 28, 28, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for size, top, left in ((28, 0, 0), (20, 0, 8), (23, 5, 2), (21, 7, 0)):
        reference = F.pad(F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False),
                          (left, 28 - size - left, top, 28 - size - top))
        same = [torch.full((3,), float(v), dtype=x.dtype) for v in (size, size, top, left)]
        torch.testing.assert_close(_shrink_and_place(x, *same), reference, rtol=0, atol=1e-12)


def test_defended_applies_filters_in_order():
    model = tiny_cnn().eval()
    x, _ = tiny_batch(3)
    defended = Defended(model, functools.partial(bit_depth, bits=2), functools.partial(median_filter, size=3))
    with torch.no_grad():
        assert torch.equal(defended(x), model(median_filter(bit_depth(x, 2), 3)))


def test_detector_false_positive_rate_holds_on_held_out_images(fashion):
    model, images, _ = fashion
    detector = FeatureSqueezingDetector(model).fit(images[:1000], fpr=0.05)
    held_out = detector.detect(images[1000:3000]).float().mean().item()
    assert 0.02 <= held_out <= 0.08  # ≈ 5 % on images the threshold never saw


def test_roc_endpoints_and_separation():
    fpr, tpr = roc(torch.tensor([0.1, 0.2, 0.3]), torch.tensor([0.25, 0.9]))
    assert fpr[0] == 0 and tpr[0] == 0 and fpr[-1] == 1 and tpr[-1] == 1
    perfect_fpr, perfect_tpr = roc(torch.tensor([0.1, 0.2]), torch.tensor([0.8, 0.9]))
    assert perfect_tpr[2] == 1.0 and perfect_fpr[2] == 0.0


def test_bpda_breaks_a_bit_depth_defense(fashion):
    """Bit-depth reduction has a zero gradient almost everywhere: plain PGD through it fails, BPDA does
    not."""
    model, images, labels = fashion
    x, y = images[:128], labels[:128]
    squeeze = functools.partial(bit_depth, bits=2)
    defended = Defended(model, squeeze)
    naive = pgd(defended, x, y, eps=0.1, alpha=0.01, steps=20, generator=torch.Generator().manual_seed(0))
    adaptive = pgd(Defended(model, bpda(squeeze)), x, y, eps=0.1, alpha=0.01, steps=20,
                   generator=torch.Generator().manual_seed(0))
    accuracy_naive = 1 - success_rate(defended, naive, y)
    accuracy_adaptive = 1 - success_rate(defended, adaptive, y)
    assert accuracy_adaptive <= accuracy_naive - 0.3, (accuracy_naive, accuracy_adaptive)


def test_certify_matches_an_independent_computation():
    """A model that answers class 2 with a known rate under noise: the radius is σ·Φ⁻¹ of the exact
    lower bound."""
    model = tiny_cnn().eval()
    x, _ = tiny_batch(3)
    g = torch.Generator().manual_seed(0)
    classes, radii = certify(model, x, sigma=0.25, n0=50, n=500, significance=0.01, batch_size=200,
                             generator=g)
    from helpers.defenses.smoothing import noise_counts

    g = torch.Generator().manual_seed(0)
    guess = noise_counts(model, x, sigma=0.25, n=50, batch_size=200, generator=g).argmax(1)
    counts = noise_counts(model, x, sigma=0.25, n=500, batch_size=200, generator=g)
    for i in range(3):
        hits = int(counts[i, guess[i]])
        lower = beta.ppf(0.01, hits, 500 - hits + 1) if hits else 0.0
        if lower > 0.5:
            assert classes[i] == guess[i]
            assert radii[i].item() == pytest.approx(0.25 * norm.ppf(lower), rel=1e-6)
        else:
            assert classes[i] == -1 and radii[i] == 0


class Constant(torch.nn.Module):
    def __init__(self, cls: int, classes: int = 4) -> None:
        super().__init__()
        self.cls, self.classes = cls, classes

    def forward(self, x):
        logits = torch.zeros(x.shape[0], self.classes)
        logits[:, self.cls] = 5.0  # a margin of 5: a one-hot row would read as probabilities
        return logits


def test_certify_a_constant_model_gets_the_formula_radius():
    x, _ = tiny_batch(2)
    classes, radii = certify(Constant(2), x, sigma=0.5, n0=10, n=1000, significance=0.001)
    expected = 0.5 * norm.ppf(0.001 ** (1 / 1000))  # Clopper–Pearson lower bound with n_A = n: α^(1/n)
    assert classes.tolist() == [2, 2] and torch.allclose(radii, torch.full((2,), expected))


def test_smoothed_predict_abstains_on_a_coin_flip():
    class Coin(torch.nn.Module):
        def forward(self, x):  # class 0 or 1 depending on the sign of the first (noisy) pixel
            return torch.stack([x[:, 0, 0, 0], -x[:, 0, 0, 0]], dim=1)

    x = torch.full((3, 1, 4, 4), 0.0)
    g = torch.Generator().manual_seed(0)
    answers = smoothed_predict(Coin(), x, sigma=1.0, n=200, significance=0.001, generator=g)
    assert answers.tolist() == [-1, -1, -1]
    sure = smoothed_predict(Constant(3), x, sigma=1.0, n=50, significance=0.001)
    assert sure.tolist() == [3, 3, 3]
    # unanimous votes: 10 of 10 are not enough at α = 0.001 (two-sided binomial p = 2⁻⁹),
    # 11 of 11 are (2⁻¹⁰)
    assert smoothed_predict(Constant(3), x, sigma=1.0, n=10, significance=0.001).tolist() == [-1, -1, -1]
    assert smoothed_predict(Constant(3), x, sigma=1.0, n=11, significance=0.001).tolist() == [3, 3, 3]


@pytest.mark.parametrize("method", ["lecture", "pgd", "fast", "noise", "trades"])
def test_training_functions_run_end_to_end(method):
    model = tiny_cnn().train()
    x, y = tiny_batch(32)
    g = torch.Generator().manual_seed(0)
    if method == "lecture":
        history = adversarial_training(model, x, y, attack=lambda m, a, b: fgsm(m, a, b, eps=0.1), rounds=2,
                                       batch_size=8, generator=g, progress=False)
        assert len(history) == 2 and all(0 <= h["fooled before training"] <= 1 for h in history)
        return
    common = dict(epochs=2, batch_size=8, generator=g, progress=False)
    runs = {
        "pgd": lambda: pgd_training(model, x, y, eps=0.1, alpha=0.03, steps=2, **common),
        "fast": lambda: fast_training(model, x, y, eps=0.1, **common),
        "noise": lambda: noise_training(model, x, y, sigma=0.25, **common),
        "trades": lambda: trades(model, x, y, eps=0.1, alpha=0.03, steps=2, **common),
    }
    seen = []  # what the model was trained on: its inputs in train mode
    handle = model.register_forward_pre_hook(lambda m, inputs: seen.append(inputs[0].detach())
                                             if m.training else None)
    losses = runs[method]()
    handle.remove()
    assert 1 <= len(losses) <= 2 and all(np.isfinite(losses))
    assert model.training and all(p.grad is None for p in model.parameters())
    # it attacked (or added noise): some training input is not a clean image, and the weights differ from
    # plain training under the same seed (a loop that never perturbed would pass neither)
    clean = x.flatten(1)
    assert any(not (batch.flatten(1)[:, None] == clean[None]).all(2).any(1).all() for batch in seen)
    plain = tiny_cnn().train()
    train(plain, x, y, epochs=2, batch_size=8, lr=1e-3, generator=torch.Generator().manual_seed(0),
          progress=False)
    weights = zip(model.state_dict().values(), plain.state_dict().values())
    assert not all(torch.equal(a, b) for a, b in weights)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda x: median_filter(x, size=4), "size must be a positive odd int"),
        (lambda x: bit_depth(x, 0), "bits must be an int from 1 to 8"),
        (lambda x: bit_depth(x, 9), "bits must be an int from 1 to 8"),
        (lambda x: jpeg(x, quality=0), "quality must be an int from 1 to 100"),
        (lambda x: jpeg(x, quality=101), "quality must be an int from 1 to 100"),
        (lambda x: gaussian_blur(x, sigma=0), "sigma must be > 0"),
        (lambda x: certify(tiny_cnn(), x, sigma=0.0), "sigma must be > 0"),
        (lambda x: certify(tiny_cnn(), x, sigma=0.1, n0=0), "n0 must be ≥ 1"),
        (lambda x: certify(tiny_cnn(), x, sigma=0.1, significance=1.0), r"significance must be in \(0, 1\)"),
        (lambda x: smoothed_predict(tiny_cnn(), x, sigma=0.1, n=10, significance=0.0),
         r"significance must be in \(0, 1\)"),
        (lambda x: FeatureSqueezingDetector(tiny_cnn()).fit(x, fpr=1.5), r"fpr must be in \(0, 1\)"),
    ],
)
def test_bad_input(call, message):
    x, _ = tiny_batch(2)
    with pytest.raises(ValueError, match=message):
        call(x)


def test_noise_based_methods_accept_their_own_noise_on_a_defended_model():
    """The noisy copies leave [0, 1]; the median filter in front of the model must not refuse what the library
    made (the user's x is valid), and a user's own out-of-range x is still refused."""
    from helpers.explain import gradient_shap, smoothgrad

    model = Defended(tiny_cnn(), median_filter)
    x, y = tiny_batch(3)
    g = torch.Generator().manual_seed(0)
    assert torch.isfinite(smoothgrad(model, x, y, n=4, noise_level=0.5, generator=g)).all()
    assert torch.isfinite(gradient_shap(model, x, y, baselines=x, n=4, sigma=0.5, generator=g)).all()
    predictions, radii = certify(model, x, sigma=0.5, n0=8, n=16, generator=g)
    assert predictions.shape == (3,) and radii.shape == (3,)
    noise_training(model, x, y, sigma=0.5, epochs=1, progress=False, generator=g)
    with pytest.raises(ValueError, match=r"x must lie in \[0, 1\]"):
        smoothgrad(model, x - 0.5, y, n=2)


class _Returns(nn.Module):
    """tiny_cnn's logits passed through ``make``: a model whose output is not N×K finite logits."""

    def __init__(self, make: Callable[[torch.Tensor], Any]) -> None:
        super().__init__()
        self.inner, self.make = tiny_cnn(), make

    def forward(self, x: torch.Tensor) -> Any:
        return self.make(self.inner(x))


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda z: z[:, 0], ValueError, r"must return logits 4×K .* got shape \(4,\)"),
        (lambda z: z[:, :1], ValueError, r"must return logits 4×K .* got shape \(4, 1\)"),
        (lambda z: (z, z), TypeError, "must return a tensor of logits N×K; it returned tuple"),
        (lambda z: z * float("nan"), ValueError, "returned NaN or infinite logits"),
        (lambda z: z[:, :, None, None].expand(-1, -1, 2, 2), ValueError, r"got shape \(4, 5, 2, 2\)"),
    ],
    ids=["N", "N×1", "tuple", "NaN", "N×K×2×2"],
)
def test_defended_checks_its_models_output(make, error, message):
    x, _ = tiny_batch(4)
    defended = Defended(_Returns(make).eval(), median_filter)
    with pytest.raises(error, match=message) as caught:
        defended(x)
    assert "Defended's model (_Returns)" in str(caught.value)
