"""A neural network as the filter (lecture 40: "smoothing, or a special neural network"), and as a detector.

The denoiser D is trained to map perturbed images back to clean ones — MagNet's *reformer* (Meng & Chen
2017) — with the classifier's logits as a second target, the *logit-guided* loss of Liao et al.'s
high-level representation guided denoiser (HGD, 2018). The defended classifier is f(D(x)) (``Defended``).
MagNet's *detector* uses the same network: an input that D must change a lot is unlike the training images,
so the reconstruction error ‖D(x) − x‖₂ is an anomaly score (``ReconstructionDetector``).

Both are differentiable, so they fall to an attacker who attacks the composition
(``helpers.attacks.evade_detector`` for the detector; plain PGD on ``Defended(model, denoiser)`` for the
filter) — the lesson of BPDA and EOT, for a defense that is itself a network.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from helpers._checks import (
    check_images,
    check_int,
    check_labels,
    check_model,
    check_positive,
    frozen,
    num_classes,
)
from helpers.attacks import pgd
from helpers.attacks.norms import clip_box
from helpers.defenses.detection import _fit_threshold, _flag
from helpers.training import train


def train_denoiser(
    denoiser: nn.Module,
    classifier: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    eps: float,
    sigma: float,
    steps: int,
    guide: float = 0.1,
    epochs: int = 1,
    lr: float = 1e-3,
    batch_size: int = 128,
    generator: torch.Generator | None = None,
    progress: bool = True,
) -> list[float]:
    """Train ``denoiser`` D in place on three copies of every batch x: x itself, x + Gaussian noise with a
    standard deviation drawn uniformly from [0, ``sigma``] per image, and an L∞ PGD example of
    ``classifier`` f (ε = ``eps``, ``steps`` steps of 2.5 ε / ``steps`` from a random start — with one step,
    fast AT's FGSM from a random start — the attack of an attacker who does not know D). For each copy x̃
    the loss is

        ‖D(x̃) − x‖² / d  +  ``guide`` · ‖f(D(x̃)) − f(x)‖₁ / K        (pixel MSE + HGD's logit-guided loss)

    with d pixels and K logits. ``classifier`` is frozen throughout and left as found. Returns the loss per
    epoch.
    With ``generator=None`` the randomness comes from torch's global RNG.
    """
    check_model(denoiser, "denoiser")
    check_model(classifier, "classifier")
    check_images(images, "images", model=classifier)
    labels = check_labels(labels, images.shape[0], "labels", num_classes=num_classes(classifier, images))
    check_positive(eps, "eps")
    check_positive(sigma, "sigma")
    check_int(steps, "steps")
    check_positive(guide, "guide", allow_zero=True)

    def denoising_loss(d: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        noisy = clip_box(x + torch.rand(len(x), 1, 1, 1, device=x.device) * sigma * torch.randn_like(x))
        # the random start draws from the global RNG, which train() seeds
        adversarial = pgd(classifier, x, y, eps=eps, alpha=2.5 * eps / steps, steps=steps)
        clean = torch.cat([x, x, x])
        restored = d(torch.cat([x, noisy, adversarial]))
        with torch.no_grad():
            target_logits = classifier(clean)
        return F.mse_loss(restored, clean) + guide * F.l1_loss(classifier(restored), target_logits)

    with frozen(classifier):
        return train(denoiser, images, labels, epochs=epochs, lr=lr, batch_size=batch_size,
                     loss_fn=denoising_loss, generator=generator, progress=progress, outputs="images")


def reconstruction_error(denoiser: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """‖D(x) − x‖₂ per image (shape N), differentiable in x: MagNet's anomaly score."""
    check_model(denoiser, "denoiser")
    check_images(x, model=denoiser)
    return (denoiser(x) - x).flatten(1).norm(dim=1)


class ReconstructionDetector:
    """MagNet's detector (Meng & Chen 2017): flag an input whose reconstruction error ‖D(x) − x‖₂ is larger
    than that of almost every clean image. ``fit`` sets the threshold on clean images for a chosen
    false-positive rate; ``detect`` flags scores above it (the interface of ``FeatureSqueezingDetector``)."""

    def __init__(self, denoiser: nn.Module) -> None:
        self.denoiser = check_model(denoiser, "denoiser")
        self.threshold: float | None = None

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction error of each image (shape N), differentiable in ``x`` where ``x`` requires
        grad (``helpers.attacks.evade_detector`` follows it); the denoiser's parameters are left as found."""
        check_images(x, model=self.denoiser)
        with frozen(self.denoiser, logits=False):
            return reconstruction_error(self.denoiser, x)

    def fit(self, clean: torch.Tensor, fpr: float = 0.05) -> ReconstructionDetector:
        """Set the threshold to the (1 − ``fpr``) quantile of the clean images' scores."""
        self.threshold = _fit_threshold(self.score, clean, fpr, model=self.denoiser)
        return self

    def detect(self, x: torch.Tensor) -> torch.Tensor:
        """A bool tensor N: True where the image looks adversarial."""
        return _flag(self.score, x, self.threshold)


__all__ = ["train_denoiser", "reconstruction_error", "ReconstructionDetector"]
