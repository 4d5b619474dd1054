"""Explaining a classifier's decision: gradient attribution, SmoothGrad and LRP.

Every attribution has the signature ``f(model, x, target, **options) -> Tensor`` shaped like ``x``.
"""

from helpers.explain.gradients import (
    completeness_gap,
    input_x_gradient,
    integrated_gradients,
    saliency,
    smoothgrad,
)
from helpers.explain.lrp import conservation, epsilon_step, lrp

__all__ = [
    "saliency",
    "input_x_gradient",
    "integrated_gradients",
    "completeness_gap",
    "smoothgrad",
    "lrp",
    "conservation",
    "epsilon_step",
]
