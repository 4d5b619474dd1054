"""Explaining a classifier's decision.

Attributions share the signature ``f(model, x, target, **options) -> Tensor`` shaped like ``x``
(Grad-CAM: ``N×1×H×W``): gradients (``saliency``, ``input_x_gradient``, ``integrated_gradients``,
``smoothgrad``, ``gradient_shap``), relevance propagation (``lrp``), class activation maps (``grad_cam``) and
perturbations (``occlusion``, ``lime``). ``features`` visualises filters; ``metrics`` measures
whether an explanation is faithful and points at the right pixels; ``spray`` clusters many explanations
to find a model's strategies, and ``guided`` trains a model to be right for the right reasons.
"""

from helpers.explain.cam import grad_cam
from helpers.explain.features import activation_maximization, filter_activations
from helpers.explain.gradients import (
    completeness_gap,
    gradient_shap,
    input_x_gradient,
    integrated_gradients,
    saliency,
    smoothgrad,
)
from helpers.explain.guided import rrr_loss, rrr_penalty
from helpers.explain.metrics import (
    auc,
    deletion_curve,
    insertion_curve,
    pointing_game,
    randomization_test,
    relevance_mass,
    roughness,
)
from helpers.explain.perturbation import grid_segments, lime, occlusion, superpixels
from helpers.explain.relevance import conservation, epsilon_step, lrp
from helpers.explain.spectral import purity, spray

__all__ = [
    "saliency",
    "input_x_gradient",
    "integrated_gradients",
    "completeness_gap",
    "smoothgrad",
    "gradient_shap",
    "lrp",
    "conservation",
    "epsilon_step",
    "grad_cam",
    "occlusion",
    "lime",
    "grid_segments",
    "superpixels",
    "activation_maximization",
    "filter_activations",
    "deletion_curve",
    "insertion_curve",
    "auc",
    "pointing_game",
    "relevance_mass",
    "roughness",
    "randomization_test",
    "rrr_penalty",
    "rrr_loss",
    "spray",
    "purity",
]
