"""The learned filter and detector (MagNet / HGD), the adaptive attacks on them; worst-case evaluation."""

from __future__ import annotations

import pytest
import torch
from scipy import stats

from helpers import zoo
from helpers.attacks import evade_detector, fgsm, pgd, success_rate, worst_case
from helpers.data import fashion_mnist
from helpers.defenses import (
    Defended,
    FeatureSqueezingDetector,
    ReconstructionDetector,
    reconstruction_error,
    roc,
    tpr_at_fpr,
    train_denoiser,
)
from helpers.models import fashion_denoiser
from tests.conftest import tiny_batch, tiny_cnn

# the margins notebook 09 states, at ε = 0.1: the adaptive attack through the filter succeeds on at least
# 20 points more images than the unaware one; the attack that evades the detector, on at least 50 points more
FILTER_MARGIN, DETECTOR_MARGIN = 0.2, 0.5


@pytest.fixture(scope="module")
def setting():
    classifier, denoiser = zoo.load("fmnist_cnn", device="cpu"), zoo.load("fmnist_denoiser", device="cpu")
    images, labels = fashion_mnist("test")
    return classifier, denoiser, images, labels


@pytest.fixture(scope="module")
def attacked(setting):
    classifier, denoiser, images, labels = setting
    x, y = images[:200], labels[:200]
    defended = Defended(classifier, denoiser)
    options = dict(eps=0.1, alpha=0.01, steps=20)
    unaware = pgd(classifier, x, y, generator=torch.Generator().manual_seed(0), **options)
    adaptive = pgd(defended, x, y, generator=torch.Generator().manual_seed(0), **options)
    return defended, x, y, unaware, adaptive


def test_the_adaptive_attack_beats_the_unaware_one_through_the_filter(attacked):
    defended, x, y, unaware, adaptive = attacked
    unaware_success = success_rate(defended, unaware, y)
    adaptive_success = success_rate(defended, adaptive, y)
    assert adaptive_success >= unaware_success + FILTER_MARGIN, (unaware_success, adaptive_success)


def test_detector_roc_equals_scipys_and_flags_the_unaware_attack(setting, attacked):
    classifier, denoiser, images, labels = setting
    _, x, y, unaware, _ = attacked
    detector = ReconstructionDetector(denoiser).fit(images[1000:3000])
    clean, adversarial = detector.score(x), detector.score(unaware)
    fpr, tpr = roc(clean, adversarial)
    # every point of the curve: the share of scores at or above each threshold, computed independently
    ordered = torch.cat([clean, adversarial]).double().sort(descending=True).values
    assert torch.allclose(fpr[1:], (clean.double()[None] >= ordered[:, None]).double().mean(1))
    assert torch.allclose(tpr[1:], (adversarial.double()[None] >= ordered[:, None]).double().mean(1))
    # the area under it is SciPy's Mann–Whitney U / (n₀ n₁)
    u = stats.mannwhitneyu(adversarial.numpy(), clean.numpy()).statistic
    assert float(torch.trapezoid(tpr, fpr)) == pytest.approx(u / (len(clean) * len(adversarial)), abs=1e-9)
    assert tpr_at_fpr(fpr, tpr, 0.05) == float(tpr[fpr <= 0.05].max())
    assert tpr_at_fpr(fpr, tpr, 0.05) > 0.5  # the detector sees most unaware attacks
    held_out = detector.detect(images[3000:5000]).float().mean().item()
    assert 0.02 <= held_out <= 0.08  # ≈ 5 % false positives on images the threshold never saw


def test_evade_detector_fools_the_classifier_unseen(setting, attacked):
    classifier, denoiser, images, labels = setting
    defended, x, y, unaware, _ = attacked
    detector = ReconstructionDetector(denoiser).fit(images[1000:3000])

    def unseen_success(x_adv):
        return ((defended(x_adv).argmax(1) != y) & ~detector.detect(x_adv)).float().mean().item()

    x_adv = evade_detector(defended, detector, x, y, eps=0.1, alpha=0.01, steps=30)
    with torch.no_grad():
        before, after = unseen_success(unaware), unseen_success(x_adv)
    assert float((x_adv - x).abs().max()) <= 0.1 + 1e-6
    assert after >= before + DETECTOR_MARGIN, (before, after)


def test_reconstruction_error_is_the_l2_norm_of_the_change():
    denoiser = fashion_denoiser(width=4).eval()
    x, _ = tiny_batch(3)
    with torch.no_grad():
        expected = torch.stack([(denoiser(x[i : i + 1]) - x[i : i + 1]).norm() for i in range(3)])
        assert torch.allclose(reconstruction_error(denoiser, x), expected, atol=1e-6)


def test_train_denoiser_learns_and_leaves_the_classifier_as_found():
    classifier = tiny_cnn().train()
    flags = [p.requires_grad for p in classifier.parameters()]
    x, y = tiny_batch(64)
    denoiser = fashion_denoiser(width=4)
    losses = train_denoiser(denoiser, classifier, x, y, eps=0.1, sigma=0.2, steps=1, epochs=3, lr=1e-2,
                            batch_size=16, generator=torch.Generator().manual_seed(0), progress=False)
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert classifier.training and [p.requires_grad for p in classifier.parameters()] == flags
    assert all(p.grad is None for p in classifier.parameters())


def test_evade_detector_needs_a_fitted_differentiable_detector():
    model, (x, y) = tiny_cnn().eval(), tiny_batch(2)
    with pytest.raises(RuntimeError, match="fit the detector"):
        evade_detector(model, ReconstructionDetector(fashion_denoiser(width=4)), x, y, eps=0.1, alpha=0.01,
                       steps=1)
    with pytest.raises(TypeError, match="detector must be a detector with a score"):
        evade_detector(model, "detector", x, y, eps=0.1, alpha=0.01, steps=1)
    squeezing = FeatureSqueezingDetector(model).fit(tiny_batch(8)[0])  # its score is computed without grad
    with pytest.raises(TypeError, match="score must be differentiable in x"):
        evade_detector(model, squeezing, x, y, eps=0.1, alpha=0.01, steps=1)


def test_worst_case_is_per_image_over_the_attacks():
    model = tiny_cnn(seed=1).eval()
    x, y = tiny_batch(16, seed=1)
    attacks = {"FGSM": lambda m, a, b: fgsm(m, a, b, eps=0.05),
               "PGD": lambda m, a, b: pgd(m, a, b, eps=0.05, alpha=0.01, steps=5, random_start=False)}
    x_adv, acc = worst_case(model, x, y, attacks)
    examples = {name: attack(model, x, y) for name, attack in attacks.items()}
    with torch.no_grad():
        right = {name: model(x_a).argmax(1) == y for name, x_a in examples.items()}
        clean = model(x).argmax(1) == y
    assert list(acc) == ["clean", "FGSM", "PGD"]
    assert acc["FGSM"] == pytest.approx((clean & right["FGSM"]).float().mean().item())
    # PGD (deterministic here) runs only on the images FGSM missed: robust = right under both, per image
    assert acc["PGD"] == pytest.approx((clean & right["FGSM"] & right["PGD"]).float().mean().item())
    assert acc["PGD"] == pytest.approx(1 - success_rate(model, x_adv, y))
    with pytest.raises(ValueError, match="attacks must name at least one attack"):
        worst_case(model, x, y, {})
