"""Black-box attacks (lecture 38): the attacker sees the model's answers, never its parameters.

``BlackBox`` wraps a model so that only answers come out: no gradients, a query counter, a budget.
Then three ways in: *transfer* from a proxy trained on the same data (``ensemble`` of proxies
transfers better); *substitute training* from label queries when the training data is not
available (Papernot et al. 2017); and *query attacks* that climb the black box's own answers
(SimBA, Square).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from types import SimpleNamespace

import torch
from torch import nn

from helpers._checks import (
    check_bool,
    check_callable,
    check_choice,
    check_generator,
    check_images,
    check_int,
    check_labels,
    check_model,
    check_number,
    check_positive,
    frozen,
    model_device,
    num_classes,
    own_generator,
)
from helpers.attacks._core import margin
from helpers.attacks.norms import clip_box, project_linf
from helpers.training import train

OUTPUTS = ("probs", "logits", "label")


class QueryBudgetExceeded(RuntimeError):
    """The black box refuses: answering would exceed its query budget."""


class BlackBox:
    """A model behind a counter: ``blackbox(x)`` answers with probabilities, logits or labels only.

    Answers are computed under ``torch.no_grad()`` from a detached copy of the query, so no gradient can
    reach the model; each image in a query counts as one query (``.queries``); with ``budget`` set, a
    query that would exceed it raises ``QueryBudgetExceeded`` and is not answered. ``budget`` and
    ``queries`` are read-only: the counter only goes up. (In one Python process this is a guard against
    mistakes, not a wall: whoever holds the object can reach the model. A box that must stay black
    answers from another process — ``helpers.course.hw6_server``.)
    """

    def __init__(self, model: nn.Module, *, output: str = "probs", budget: int | None = None) -> None:
        check_model(model)
        check_choice(output, "output", OUTPUTS)
        if budget is not None:
            check_int(budget, "budget", minimum=0)
        self._model = model
        self.output = output
        self._budget = budget
        self._tally = SimpleNamespace(spent=0)  # a subclass may share one counter between boxes

    @property
    def budget(self) -> int | None:
        """The most queries this box answers in all (None: no limit)."""
        return self._budget

    @property
    def queries(self) -> int:
        """The queries answered so far, one per image."""
        return self._tally.spent

    def _spend(self, n: int) -> None:
        """Count ``n`` queries, or refuse them all if they would exceed the budget."""
        spent, budget = self.queries, self.budget
        if budget is not None and spent + n > budget:
            raise QueryBudgetExceeded(
                f"this query of {n} images would exceed the budget: {spent} of {budget} queries are spent"
            )
        self._tally.spent += n

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, model=self._model)
        self._spend(x.shape[0])
        with torch.no_grad(), frozen(self._model):
            logits = self._model(x.detach().clone().to(model_device(self._model))).to(x.device)
        if self.output == "logits":
            return logits
        if self.output == "probs":
            return logits.softmax(1)
        return logits.argmax(1)

    def _check_images(self, x: object, name: str = "x") -> torch.Tensor:
        """``x`` checked as images this black box can be asked about (spends no query)."""
        return check_images(x, name, model=self._model)

    def _check_labels(self, y: object, x: torch.Tensor, name: str = "y") -> torch.Tensor:
        """``y`` checked against the number of classes the black box answers with (spends no query)."""
        return check_labels(y, x.shape[0], name, num_classes=num_classes(self._model, x)).to(x.device)

    def __repr__(self) -> str:
        budget = "unlimited" if self.budget is None else self.budget
        return f"{type(self).__name__}(output={self.output!r}, queries={self.queries}, budget={budget})"


def _check_blackbox(blackbox: object, *, scores: bool) -> BlackBox:
    if not isinstance(blackbox, BlackBox):
        raise TypeError(f"blackbox must be a helpers.attacks.BlackBox; got {type(blackbox).__name__}")
    if scores and blackbox.output == "label":
        raise ValueError("this attack needs scores: the blackbox must answer with output='probs' or 'logits'")
    return blackbox


class Ensemble(nn.Module):
    """The average of several models' logits (an ensemble of proxies, Liu et al. 2017)."""

    def __init__(self, models: Sequence[nn.Module]) -> None:
        super().__init__()
        if isinstance(models, (nn.Module, torch.Tensor, str)) or not isinstance(models, Iterable):
            raise TypeError(f"models must be a list of nn.Module; got {type(models).__name__}")
        models = list(models)
        if not models:
            raise ValueError("models must hold at least one model")
        for i, m in enumerate(models):
            check_model(m, f"models[{i}]")
        self.members = nn.ModuleList(models)
        # its own flag only: the recursive train() would change the members' modes (a wrapper is a view)
        self.training = self.members.training = any(m.training for m in models)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([m(x) for m in self.members]).mean(0)


def ensemble(models: Sequence[nn.Module]) -> nn.Module:
    """An ``nn.Module`` whose logits are the mean of the members' logits — attack it like any model."""
    return Ensemble(models)


def substitute_training(
    blackbox: BlackBox,
    seed_images: torch.Tensor,
    *,
    model_fn: Callable[[], nn.Module],
    rounds: int = 6,
    lam: float = 0.1,
    epochs: int = 10,
    lr: float = 1e-3,
    generator: torch.Generator | None = None,
    progress: bool = False,
) -> tuple[nn.Module, int]:
    """Jacobian-based substitute training (Papernot et al. 2017) from label queries only.

    Round ρ: ask the black box for the labels of the current set S_ρ, train a fresh substitute F on them,
    then grow the set with one new point per image, x + λ · sign(∇ₓ F_label(x)), clipped to [0, 1]: a step
    along the sign of F's Jacobian for the black box's label, a direction in which F's output varies, so
    the new labels explore the input space (it raises the label's score, i.e. moves away from F's boundary;
    the paper also flips the sign of λ periodically, which this function does not). The set doubles
    each round. Each substitute trains with ``helpers.training.train`` (Adam, ``epochs`` epochs from ``lr``,
    batches of 64 images). Returns the last substitute (eval mode) and the number of queries spent.
    With ``generator=None`` the randomness comes from torch's global RNG.
    """
    _check_blackbox(blackbox, scores=False)
    blackbox._check_images(seed_images, "seed_images")
    check_callable(model_fn, "model_fn", "() -> nn.Module")
    check_int(rounds, "rounds")
    check_positive(lam, "lam")
    check_int(epochs, "epochs")
    check_positive(lr, "lr")
    check_generator(generator)
    check_bool(progress, "progress")
    g = own_generator(generator)
    before = blackbox.queries
    data = seed_images.detach().clone()
    labels = _labels(blackbox, data)
    substitute = check_model(model_fn(), "model_fn()")
    for round_ in range(rounds):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(torch.randint(2**62, (1,), generator=g)))
            substitute = model_fn().to(model_device(substitute))
        train(substitute, data, labels, epochs=epochs, lr=lr, batch_size=64, generator=g, progress=progress)
        substitute.eval()
        if round_ == rounds - 1:
            break
        with frozen(substitute):
            point = data.detach().to(model_device(substitute), copy=True).requires_grad_(True)
            scores = substitute(point).gather(1, labels.to(point.device)[:, None])
            (grad,) = torch.autograd.grad(scores.sum(), point)
        new = clip_box(data + lam * grad.sign().to(data.device))
        data = torch.cat([data, new])
        labels = torch.cat([labels, _labels(blackbox, new)])
    return substitute, blackbox.queries - before


def _labels(blackbox: BlackBox, x: torch.Tensor) -> torch.Tensor:
    answer = blackbox(x)
    return answer if blackbox.output == "label" else answer.argmax(1)


def _margin_scores(blackbox: BlackBox, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The black box's margin log p_y − max_{k≠y} log p_k (= z_y − max z_k): < 0 once x is
    misclassified."""
    answer = blackbox(x)
    logp = answer.clamp_min(1e-30).log() if blackbox.output == "probs" else answer.log_softmax(1)
    return margin(logp, y)


def _dct_basis(height: int, width: int, frequencies: int) -> torch.Tensor:
    """The orthonormal 2-D DCT-II basis images of the lowest ``frequencies`` × ``frequencies``
    frequencies."""
    def basis_1d(n: int) -> torch.Tensor:
        k = torch.arange(frequencies, dtype=torch.float64)[:, None]
        i = torch.arange(n, dtype=torch.float64)[None, :]
        b = torch.cos(math.pi * (i + 0.5) * k / n) * math.sqrt(2 / n)
        b[0] /= math.sqrt(2)
        return b  # frequencies × n

    rows, cols = basis_1d(height), basis_1d(width)
    return (rows[:, None, :, None] * cols[None, :, None, :]).reshape(-1, height, width).float()


def _start(blackbox: BlackBox, x_init: object, x: torch.Tensor, eps: float) -> torch.Tensor:
    """A query attack's first point: ``x`` itself, or ``x_init`` (a warm start, e.g. a transferred example),
    which must be images of x's shape within ``eps`` of x (L∞, up to 1e-6 of float rounding) and in [0, 1]."""
    if x_init is None:
        return x.clone()
    x_init = blackbox._check_images(x_init, "x_init")
    if x_init.shape != x.shape:
        raise ValueError(f"x_init must have x's shape {tuple(x.shape)}; got {tuple(x_init.shape)}")
    start = x_init.detach().to(x.device, x.dtype)
    gap = (start - x).abs().max().item()
    if gap > eps + 1e-6:
        raise ValueError(f"x_init must lie within eps = {eps:.4g} of x (L∞); it is {gap:.4g} away")
    return clip_box(x + project_linf(start - x, eps))


def simba(
    blackbox: BlackBox,
    x: torch.Tensor,
    y: int | torch.Tensor,
    *,
    eps: float,
    max_queries: int,
    basis: str = "pixel",
    step: float | None = None,
    generator: torch.Generator | None = None,
    x_init: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """SimBA (Guo et al. 2019): try one random orthonormal direction q at a time; keep x − αq if it lowers
    the true class's score, else x + αq if that does, else neither.

    ``basis="pixel"``: q = single pixels (of one channel), α = ``step`` (default ε), each used once, so
    every pixel moves at most once. ``basis="dct"``: q = low-frequency 2-D DCT images (the lower half of
    the frequencies along each axis, per channel), α defaults to ε·√(H·W)/2. After every step the image
    is projected onto the L∞ ball of radius ``eps`` and onto [0, 1]. All images run together; an image
    stops once it is misclassified or has spent ``max_queries``. With ``x_init`` (a point of the ε-ball,
    e.g. a transferred example) the search continues from there instead of from x — any starting point
    works for a greedy search. Returns ``(x_adv, queries per image)``; the first query scores the start.
    With ``generator=None`` the randomness comes from torch's global RNG.
    """
    _check_blackbox(blackbox, scores=True)
    blackbox._check_images(x)
    check_positive(eps, "eps", allow_zero=True)
    check_int(max_queries, "max_queries")
    check_choice(basis, "basis", ("pixel", "dct"))
    if step is not None:
        check_positive(step, "step")
    check_generator(generator)
    y = blackbox._check_labels(y, x)
    x = x.detach()
    x_adv = _start(blackbox, x_init, x, eps)
    n, channels, height, width = x.shape
    if basis == "pixel":
        count = channels * height * width
        alpha = eps if step is None else step
    else:
        planes = _dct_basis(height, width, max(1, min(height, width) // 2))
        count = channels * planes.shape[0]
        alpha = eps * math.sqrt(height * width) / 2 if step is None else step
    g = own_generator(generator)
    order = torch.stack([torch.randperm(count, generator=g) for _ in range(n)]).to(x.device)  # per image

    def direction(index: torch.Tensor) -> torch.Tensor:
        """The basis images q for the chosen indices, one per image (N×C×H×W, ‖q‖₂ = 1)."""
        q = torch.zeros(len(index), channels, height * width, dtype=x.dtype, device=x.device)
        if basis == "pixel":
            q.view(len(index), -1)[torch.arange(len(index)), index] = 1.0
            return q.view(len(index), channels, height, width)
        channel, plane = index // planes.shape[0], index % planes.shape[0]
        q[torch.arange(len(index)), channel] = planes.to(x.device)[plane].flatten(1).to(x.dtype)
        return q.view(len(index), channels, height, width)

    queries = torch.ones(n, dtype=torch.long, device=x.device)
    score = _margin_scores(blackbox, x_adv, y)
    for k in range(count):
        active = (score > 0) & (queries + 1 <= max_queries)
        if not active.any():
            break
        idx = active.nonzero().squeeze(1)
        q = direction(order[idx, k])
        improved = torch.zeros(len(idx), dtype=torch.bool, device=x.device)
        for sign in (-1.0, 1.0):
            trying = ~improved & (queries[idx] + 1 <= max_queries)
            if not trying.any():
                continue
            sub = idx[trying]
            candidate = clip_box(x[sub] + project_linf(x_adv[sub] + sign * alpha * q[trying] - x[sub], eps))
            new_score = _margin_scores(blackbox, candidate, y[sub])
            queries[sub] += 1
            better = new_score < score[sub]
            x_adv[sub[better]] = candidate[better]
            score[sub[better]] = new_score[better]
            improved[trying.nonzero().squeeze(1)[better]] = True
    return x_adv, queries


def square_attack(
    blackbox: BlackBox,
    x: torch.Tensor,
    y: int | torch.Tensor,
    *,
    eps: float,
    max_queries: int,
    p_init: float = 0.05,
    generator: torch.Generator | None = None,
    x_init: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Square Attack, L∞ (Andriushchenko et al. 2020): random search on the corners of the ε-box.

    Start from vertical stripes of ±ε; then, per query, redraw a random square window (all channels, each
    channel ±ε) and keep the change if the margin z_y − max_{k≠y} z_k falls. The square's area is a
    fraction p of the image, halved on the paper's schedule (iterations 10, 50, 200, 500, 1000, 2000, 4000,
    6000, 8000, rescaled to a budget of 10 000). Images stop once misclassified or after ``max_queries``.
    With ``x_init`` (a point of the ε-ball, e.g. a transferred example) the search starts there instead of
    from the stripes. Returns ``(x_adv, queries per image)``; x_adv stays within ε (L∞) and [0, 1].
    With ``generator=None`` the randomness comes from torch's global RNG.
    """
    _check_blackbox(blackbox, scores=True)
    blackbox._check_images(x)
    check_positive(eps, "eps", allow_zero=True)
    check_int(max_queries, "max_queries")
    check_number(p_init, "p_init", low=0.0, high=1.0, low_open=True)
    check_generator(generator)
    y = blackbox._check_labels(y, x)
    x = x.detach()
    start = None if x_init is None else _start(blackbox, x_init, x, eps)
    g = own_generator(generator)
    n, channels, height, width = x.shape

    def signs(*shape: int) -> torch.Tensor:
        return (torch.randint(0, 2, shape, generator=g).to(x.device, x.dtype) * 2 - 1) * eps

    if start is None:  # vertical stripes of ±ε
        x_adv = clip_box(x + signs(n, channels, 1, width).expand(n, channels, height, width))
    else:
        x_adv = start
    queries = torch.ones(n, dtype=torch.long, device=x.device)
    score = _margin_scores(blackbox, x_adv, y)
    rows = torch.arange(height, device=x.device).view(1, 1, height, 1)
    cols = torch.arange(width, device=x.device).view(1, 1, 1, width)
    halve_after = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)  # iterations, of a budget of 10 000
    for i in range(1, max_queries):
        active = (score > 0) & (queries < max_queries)
        if not active.any():
            break
        idx = active.nonzero().squeeze(1)
        p = p_init / 2 ** sum(i > int(t * max_queries / 10_000) for t in halve_after)
        side = max(1, min(height, width, round(math.sqrt(p * height * width))))
        top = torch.randint(0, height - side + 1, (len(idx),), generator=g).to(x.device).view(-1, 1, 1, 1)
        left = torch.randint(0, width - side + 1, (len(idx),), generator=g).to(x.device).view(-1, 1, 1, 1)
        window = (rows >= top) & (rows < top + side) & (cols >= left) & (cols < left + side)
        values = signs(len(idx), channels, 1, 1)
        candidate = clip_box(torch.where(window, x[idx] + values, x_adv[idx]))
        new_score = _margin_scores(blackbox, candidate, y[idx])
        queries[idx] += 1
        better = new_score < score[idx]
        x_adv[idx[better]] = candidate[better]
        score[idx[better]] = new_score[better]
    return x_adv, queries


__all__ = ["BlackBox", "QueryBudgetExceeded", "ensemble", "Ensemble", "substitute_training", "simba",
           "square_attack"]
