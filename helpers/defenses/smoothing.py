"""Randomized smoothing (Cohen, Rosenfeld & Kolter 2019): a classifier with a *certified* L2 radius.

The smoothed classifier answers the class that the base model predicts most often under Gaussian noise,
g(x) = argmax_c P(f(x + ε) = c), ε ~ N(0, σ²I). If the top class has probability p_A > ½, no perturbation
of L2 norm below σ·Φ⁻¹(p_A) can change g's answer — a guarantee, not a measurement. The probabilities are
estimated by sampling, so the guarantee holds with probability 1 − α. The paper's α, the significance level
of the tests, is the option ``significance`` here (``alpha`` is a step size everywhere in the library).
"""

from __future__ import annotations

import torch
from scipy.stats import beta, binomtest, norm
from torch import nn

from helpers._checks import (
    EVAL_BATCH,
    batched,
    check_generator,
    check_images,
    check_int,
    check_model,
    check_number,
    check_positive,
    frozen,
    noisy_inputs,
    num_classes,
)


def _check_significance(significance: float) -> float:
    return check_number(significance, "significance", low=0.0, high=1.0, low_open=True, high_open=True)


def noise_counts(
    model: nn.Module,
    x: torch.Tensor,
    *,
    sigma: float,
    n: int,
    batch_size: int = 1000,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """How often the model predicts each class for n noisy copies x + N(0, σ²I) of every image (N×classes).

    The noisy copies of all images are drawn together, ``batch_size`` at a time (which fixes the random
    stream), and classified in chunks of ``EVAL_BATCH``.
    With ``generator=None`` the randomness comes from torch's global RNG.
    """
    check_model(model)
    check_images(x, model=model)
    check_positive(sigma, "sigma")
    check_int(n, "n")
    check_int(batch_size, "batch_size")
    check_generator(generator)
    where = generator.device if generator is not None else x.device
    per_batch = max(1, batch_size // x.shape[0])  # noise samples per image in one forward pass
    with torch.no_grad(), frozen(model), noisy_inputs():  # the noise is ours, not the user's
        counts = torch.zeros(x.shape[0], num_classes(model, x), dtype=torch.long, device=x.device)
        remaining = n
        while remaining > 0:
            k = min(per_batch, remaining)
            noise = torch.randn((k, *x.shape), generator=generator, device=where, dtype=x.dtype).to(x.device)
            noisy = (x + sigma * noise).flatten(0, 1)
            predictions = batched(lambda chunk: model(chunk).argmax(1), noisy, batch_size=EVAL_BATCH)
            predictions = predictions.view(k, x.shape[0])
            counts += torch.nn.functional.one_hot(predictions, counts.shape[1]).sum(0)
            remaining -= k
    return counts


def smoothed_predict(
    model: nn.Module,
    x: torch.Tensor,
    *,
    sigma: float,
    n: int,
    significance: float = 0.001,
    batch_size: int = 1000,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Cohen et al.'s PREDICT: the smoothed classifier's class for each image, or −1 (abstain).

    Count the top two classes n_A, n_B over n noisy copies; answer A if the two-sided binomial test of
    n_A against n_A + n_B at ½ rejects at level α = ``significance`` (the paper's α), otherwise abstain. The
    answer then differs from g(x) with probability at most α. Returns int64 N.
    With ``generator=None`` the randomness comes from torch's global RNG.
    """
    _check_significance(significance)
    counts = noise_counts(model, x, sigma=sigma, n=n, batch_size=batch_size, generator=generator)
    top2 = counts.topk(2, dim=1)
    answers = []
    for (n_a, n_b), cls in zip(top2.values.tolist(), top2.indices[:, 0].tolist()):
        significant = n_a + n_b > 0 and binomtest(n_a, n_a + n_b, 0.5).pvalue <= significance
        answers.append(cls if significant else -1)
    return torch.tensor(answers, dtype=torch.int64, device=x.device)


def lower_confidence_bound(successes: int, trials: int, significance: float) -> float:
    """The exact one-sided (1 − α) Clopper–Pearson lower bound of a binomial proportion, α = ``significance``
    (Cohen et al.'s α)."""
    check_int(trials, "trials")
    check_int(successes, "successes", minimum=0, maximum=trials)
    _check_significance(significance)
    return 0.0 if successes == 0 else float(beta.ppf(significance, successes, trials - successes + 1))


def certify(
    model: nn.Module,
    x: torch.Tensor,
    *,
    sigma: float,
    n0: int = 100,
    n: int = 10_000,
    significance: float = 0.001,
    batch_size: int = 1000,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cohen et al.'s CERTIFY: guess the top class c_A from ``n0`` noisy copies, then bound its probability
    from ``n`` fresh copies with the Clopper–Pearson lower bound p̲_A at level α = ``significance`` (the
    paper's α). If p̲_A > ½, return c_A and the certified L2 radius R = σ·Φ⁻¹(p̲_A); otherwise abstain
    (−1, radius 0).

    Returns ``(classes int64 N, radii float N)``. With probability ≥ 1 − α, g(x + δ) = c_A for every
    ‖δ‖₂ < R.
    With ``generator=None`` the randomness comes from torch's global RNG.
    """
    check_int(n0, "n0")
    _check_significance(significance)
    check_positive(sigma, "sigma")
    guess = noise_counts(model, x, sigma=sigma, n=n0, batch_size=batch_size, generator=generator).argmax(1)
    counts = noise_counts(model, x, sigma=sigma, n=n, batch_size=batch_size, generator=generator)
    n_a = counts.gather(1, guess[:, None]).squeeze(1).tolist()
    classes, radii = [], []
    for cls, hits in zip(guess.tolist(), n_a):
        p_lower = lower_confidence_bound(hits, n, significance)
        if p_lower > 0.5:
            classes.append(cls)
            radii.append(sigma * float(norm.ppf(p_lower)))
        else:
            classes.append(-1)
            radii.append(0.0)
    return (torch.tensor(classes, dtype=torch.int64, device=x.device),
            torch.tensor(radii, dtype=x.dtype, device=x.device))


__all__ = ["noise_counts", "smoothed_predict", "certify", "lower_confidence_bound"]
