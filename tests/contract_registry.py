"""Sample calls of every public function of ``helpers`` that takes a model and images.

``tests/test_contract.py`` runs each entry and checks the tensor contract of DESIGN.md: inputs not
modified, ``model.training`` and every ``requires_grad`` restored, no ``.grad`` left on parameters,
the model's weights unchanged (unless the function trains it), tensor outputs detached and on the
input's device. It also fails when a public function with a ``model`` and an image argument is
missing here — so every later module must add its functions to ``CASES``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from helpers import attacks, defenses, explain, homework, training, widgets
from helpers.models import fashion_denoiser


@dataclass(frozen=True)
class Case:
    name: str  # the function's qualified name, e.g. "helpers.training.accuracy"
    call: Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.Generator], Any]
    trains_model: bool = False  # True where changing the weights is the function's purpose


CASES: list[Case] = [
    Case("helpers.training.accuracy", lambda m, x, y, g: training.accuracy(m, x, y, batch_size=4)),
    Case("helpers.training.predict", lambda m, x, y, g: training.predict(m, x, batch_size=4)),
    Case(
        "helpers.training.train",
        lambda m, x, y, g: training.train(m, x, y, epochs=1, lr=1e-3, batch_size=4, generator=g,
                                          progress=False),
        trains_model=True,
    ),
    Case("helpers.explain.gradients.saliency", lambda m, x, y, g: explain.saliency(m, x, y)),
    Case("helpers.explain.gradients.input_x_gradient", lambda m, x, y, g: explain.input_x_gradient(m, x, y)),
    Case("helpers.explain.gradients.integrated_gradients",
         lambda m, x, y, g: explain.integrated_gradients(m, x, y, steps=4, batch_size=5)),
    Case("helpers.explain.gradients.completeness_gap",
         lambda m, x, y, g: explain.completeness_gap(m, x, y,
                                                     explain.integrated_gradients(m, x, y, steps=4))),
    Case("helpers.explain.gradients.smoothgrad",
         lambda m, x, y, g: explain.smoothgrad(m, x, y, n=3, kind="vargrad", generator=g, batch_size=4)),
    Case("helpers.explain.relevance.propagation.lrp",
         lambda m, x, y, g: explain.lrp(m, x, y, composite="epsilon_gamma_box")),
    Case("helpers.explain.relevance.propagation.conservation",
         lambda m, x, y, g: explain.conservation(m, x, y, rule="gamma")),
    Case("helpers.widgets.smoothgrad_explorer",
         lambda m, x, y, g: widgets.smoothgrad_explorer(m, x[:2], y[:2], n=2)),
    Case("helpers.widgets.lrp_explorer", lambda m, x, y, g: widgets.lrp_explorer(m, x, y)),
    Case("helpers.widgets.defense_explorer",
         lambda m, x, y, g: widgets.defense_explorer(m, x, y, name="JPEG (quality)")),
    Case("helpers.widgets.epsilon_explorer",
         lambda m, x, y, g: widgets.epsilon_explorer(m, x, y, attack="PGD (20 steps)")),
    Case("helpers.explain.cam.grad_cam", lambda m, x, y, g: explain.grad_cam(m, x, y, layer=m[2])),
    Case("helpers.homework.hw5_explain", lambda m, x, y, g: homework.hw5_explain(m, x, y, m[2])),
    Case("helpers.explain.perturbation.occlusion",
         lambda m, x, y, g: explain.occlusion(m, x, y, window=4, stride=3, batch_size=7)),
    Case("helpers.explain.perturbation.lime",
         lambda m, x, y, g: explain.lime(m, x, y, segments=explain.grid_segments(12, 12, 4), n_samples=20,
                                         generator=g, batch_size=16)),
    Case("helpers.explain.features.filter_activations",
         lambda m, x, y, g: explain.filter_activations(m, m[1], x)),
    Case("helpers.explain.features.activation_maximization",
         lambda m, x, y, g: explain.activation_maximization(m, m[2], [0, 1], shape=(1, 12, 12), steps=3,
                                                            generator=g).to(x.device)),
    Case("helpers.explain.metrics.deletion_curve",
         lambda m, x, y, g: explain.deletion_curve(m, x, y, torch.rand_like(x), steps=4, batch_size=5)),
    Case("helpers.explain.metrics.insertion_curve",
         lambda m, x, y, g: explain.insertion_curve(m, x, y, torch.rand_like(x), steps=4, fill="road",
                                                     generator=g)),
    Case("helpers.explain.metrics.randomization_test",
         lambda m, x, y, g: explain.randomization_test(m, x, y, explain.saliency, generator=g)),
    Case("helpers.attacks.whitebox.fgsm", lambda m, x, y, g: attacks.fgsm(m, x, y, eps=0.1)),
    Case("helpers.attacks.whitebox.ifgsm",
         lambda m, x, y, g: attacks.ifgsm(m, x, y, eps=0.1, alpha=0.02, steps=3)),
    Case("helpers.attacks.whitebox.pgd",
         lambda m, x, y, g: attacks.pgd(m, x, y, eps=0.5, alpha=0.1, steps=3, norm="2", restarts=2,
                                        generator=g)),
    Case("helpers.attacks.auto_pgd.apgd",
         lambda m, x, y, g: attacks.apgd(m, x, y, eps=0.1, steps=4, loss="dlr", restarts=2, generator=g)),
    Case("helpers.attacks.evaluate.worst_case",
         lambda m, x, y, g: attacks.worst_case(m, x, y, {
             "FGSM": lambda a, b, c: attacks.fgsm(a, b, c, eps=0.1),
             "PGD": lambda a, b, c: attacks.pgd(a, b, c, eps=0.1, alpha=0.05, steps=2, generator=g),
         })),
    Case("helpers.attacks.adaptive.evade_detector",
         lambda m, x, y, g: attacks.evade_detector(
             m, defenses.ReconstructionDetector(fashion_denoiser(width=4).to(x.device)).fit(x), x, y, eps=0.1,
             alpha=0.05, steps=2)),
    Case("helpers.attacks.whitebox.mifgsm",
         lambda m, x, y, g: attacks.mifgsm(m, x, y, eps=0.1, alpha=0.02, steps=3, diversity_prob=1.0,
                                           generator=g)),
    Case("helpers.attacks.minimum_norm.cw_l2",
         lambda m, x, y, g: attacks.cw_l2(m, x, y, steps=3, search_steps=2)),
    Case("helpers.attacks.minimum_norm.deepfool", lambda m, x, y, g: attacks.deepfool(m, x, y, steps=3)),
    Case("helpers.attacks.whitebox.success_rate", lambda m, x, y, g: attacks.success_rate(m, x, y)),
    Case("helpers.attacks.geometry.decision_plane",
         lambda m, x, y, g: attacks.decision_plane(m, x[:1], torch.ones_like(x[:1]), -x[:1] - 0.1, span=0.5,
                                                   resolution=5, batch_size=7)),
    Case("helpers.attacks.physical.universal_perturbation",
         lambda m, x, y, g: attacks.universal_perturbation(m, x, y, eps=0.1, steps=3, batch_size=4,
                                                           generator=g)),
    Case("helpers.attacks.physical.adversarial_patch",
         lambda m, x, y, g: attacks.adversarial_patch(m, x, 1, mask=torch.ones(12, 12, device=x.device),
                                                      steps=2, generator=g)),
    Case("helpers.defenses.smoothing.noise_counts",
         lambda m, x, y, g: defenses.noise_counts(m, x, sigma=0.25, n=5, batch_size=8, generator=g)),
    Case("helpers.defenses.smoothing.smoothed_predict",
         lambda m, x, y, g: defenses.smoothed_predict(m, x, sigma=0.25, n=5, generator=g)),
    Case("helpers.defenses.smoothing.certify",
         lambda m, x, y, g: defenses.certify(m, x, sigma=0.25, n0=3, n=5, generator=g)),
    Case("helpers.defenses.training.adversarial_training",
         lambda m, x, y, g: defenses.adversarial_training(
             m, x, y, attack=lambda a, b, c: attacks.fgsm(a, b, c, eps=0.1), rounds=1, batch_size=4,
             generator=g, progress=False),
         trains_model=True),
    Case("helpers.defenses.training.pgd_training",
         lambda m, x, y, g: defenses.pgd_training(m, x, y, eps=0.1, alpha=0.05, steps=2, epochs=1,
                                                  batch_size=4, generator=g, progress=False),
         trains_model=True),
    Case("helpers.defenses.training.fast_training",
         lambda m, x, y, g: defenses.fast_training(m, x, y, eps=0.1, epochs=1, batch_size=4, generator=g,
                                                   progress=False), trains_model=True),
    Case("helpers.defenses.training.noise_training",
         lambda m, x, y, g: defenses.noise_training(m, x, y, sigma=0.1, epochs=1, batch_size=4, generator=g,
                                                    progress=False), trains_model=True),
    Case("helpers.defenses.training.trades",
         lambda m, x, y, g: defenses.trades(m, x, y, eps=0.1, alpha=0.05, steps=2, epochs=1, batch_size=4,
                                            generator=g, progress=False), trains_model=True),
    Case("helpers.attacks.evaluate.robust_accuracy",
         lambda m, x, y, g: attacks.robust_accuracy(m, x, y, 0.1)),
    # audio: the image model behind a layer that folds a waveform N×144 (the images' pixels in
    # [0, 1] ⊂ [−1, 1])
    Case("helpers.attacks.audio.pgd_db",
         lambda m, x, y, g: attacks.pgd_db(nn.Sequential(nn.Unflatten(1, x.shape[1:]), m), x.flatten(1), y,
                                           db=-20.0, steps=2, targeted=True)),
    # a training loss is attached to the graph by design: the contract is checked on its detached value
    Case("helpers.explain.guided.rrr_penalty",
         lambda m, x, y, g: explain.rrr_penalty(m, x, torch.ones(1, 1, 12, 12, device=x.device)).detach()),
    Case("helpers.explain.guided.rrr_loss",
         lambda m, x, y, g: explain.rrr_loss(m, x, y, mask=torch.ones(1, 1, 12, 12, device=x.device),
                                             weight=2.0).detach()),
]
