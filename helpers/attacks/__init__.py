"""Attacking a classifier: find x′ near x⁰ that it gets wrong.

White-box attacks (``whitebox``, and Auto-PGD in ``auto_pgd``) have the signature
``f(model, x, y, *, eps, …, targeted=False) -> x_adv`` and return an ``x_adv`` inside the ε-ball of
its norm and inside [0, 1] (C&W and DeepFool, which look for the smallest perturbation, have no ε).
Black-box attacks see only a ``BlackBox``'s answers: query attacks climb them (``blackbox``), transfer
attacks fool a proxy instead (``transfer``);
physical attacks (``physical``) make one perturbation or patch for many images and transformations.
Beyond images: ``audio`` attacks waveforms under a loudness bound in dB, ``text`` flips characters (HotFlip).
Adaptive attacks (``adaptive``: BPDA, EOT, ``evade_detector``) attack a defended model through its defense.
``evaluate`` measures robust accuracy: the worst case per image over several attacks.
"""

from helpers.attacks.adaptive import bpda, eot, evade_detector
from helpers.attacks.audio import db_radius, pgd_db
from helpers.attacks.auto_pgd import apgd, apgd_checkpoints, dlr_loss
from helpers.attacks.blackbox import BlackBox, QueryBudgetExceeded, simba, square_attack
from helpers.attacks.evaluate import robust_accuracy, robust_attacks, worst_case
from helpers.attacks.geometry import decision_plane
from helpers.attacks.minimum_norm import cw_l2, deepfool
from helpers.attacks.norms import clip_box, l2, linf, project_l2, project_linf
from helpers.attacks.physical import adversarial_patch, apply_patch, random_transforms, universal_perturbation
from helpers.attacks.text import flip_gain, flip_scores, hotflip
from helpers.attacks.transfer import ensemble, substitute_training
from helpers.attacks.whitebox import fgsm, ifgsm, mifgsm, pgd, rfgsm, success_rate

__all__ = [
    "fgsm",
    "rfgsm",
    "ifgsm",
    "pgd",
    "apgd",
    "dlr_loss",
    "apgd_checkpoints",
    "mifgsm",
    "cw_l2",
    "deepfool",
    "success_rate",
    "worst_case",
    "robust_attacks",
    "robust_accuracy",
    "decision_plane",
    "BlackBox",
    "QueryBudgetExceeded",
    "ensemble",
    "substitute_training",
    "simba",
    "square_attack",
    "universal_perturbation",
    "adversarial_patch",
    "apply_patch",
    "random_transforms",
    "project_linf",
    "project_l2",
    "clip_box",
    "linf",
    "l2",
    "pgd_db",
    "db_radius",
    "flip_gain",
    "flip_scores",
    "hotflip",
    "bpda",
    "eot",
    "evade_detector",
]
