"""Attacking a classifier: find x′ near x⁰ that it gets wrong.

Every attack has the signature ``f(model, x, y, *, eps, …, targeted=False) -> x_adv`` and returns an
``x_adv`` inside the ε-ball of its norm and inside [0, 1] (C&W and DeepFool, which look for the
smallest perturbation, have no ε).
"""

from helpers.attacks.geometry import decision_plane
from helpers.attacks.norms import clip_box, l2, linf, project_l2, project_linf
from helpers.attacks.whitebox import cw_l2, deepfool, fgsm, ifgsm, mifgsm, pgd, success_rate

__all__ = [
    "fgsm",
    "ifgsm",
    "pgd",
    "mifgsm",
    "cw_l2",
    "deepfool",
    "success_rate",
    "decision_plane",
    "project_linf",
    "project_l2",
    "clip_box",
    "linf",
    "l2",
]
