"""Is an explanation right? One module per question: ``faithfulness`` (deletion and insertion curves, their
area), ``localisation`` (pointing game, relevance mass, roughness) and ``sanity`` (the randomisation test,
Spearman's correlation and SSIM)."""

from helpers.explain.metrics.faithfulness import auc, deletion_curve, insertion_curve
from helpers.explain.metrics.localisation import pointing_game, relevance_mass, roughness
from helpers.explain.metrics.sanity import randomization_test, spearman, ssim_map

__all__ = [
    "deletion_curve",
    "insertion_curve",
    "auc",
    "pointing_game",
    "relevance_mass",
    "roughness",
    "spearman",
    "ssim_map",
    "randomization_test",
]
