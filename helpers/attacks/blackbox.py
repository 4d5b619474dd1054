"""Black-box attacks (lecture 38): the attacker sees the model's answers, never its parameters.

``BlackBox`` wraps a model so that only answers come out: no gradients, a query counter, a budget.
Then three ways in: *transfer* from a proxy trained on the same data, or from a substitute trained on the
black box's labels (``transfer``: ``ensemble``, ``substitute_training``); and *query attacks* that climb
the black box's own answers (here: SimBA, Square).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from types import SimpleNamespace

import torch
from torch import nn

from helpers._checks import (
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


def _margin_scores(blackbox: BlackBox, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The black box's margin log p_y − max_{k≠y} log p_k (= z_y − max z_k): < 0 once x is fooled."""
    answer = blackbox(x)
    logp = answer.clamp_min(1e-30).log() if blackbox.output == "probs" else answer.log_softmax(1)
    return margin(logp, y)


def _dct_basis(height: int, width: int, frequencies: int) -> torch.Tensor:
    """The orthonormal 2-D DCT-II basis images of the ``frequencies`` × ``frequencies`` lowest frequencies."""
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


class _Search:
    """A query attack's state, one entry per image: the current point, its margin on the black box (< 0:
    fooled) and the queries spent (the first scored the starting point)."""

    def __init__(self, blackbox: BlackBox, y: torch.Tensor, x_adv: torch.Tensor, max_queries: int) -> None:
        self.blackbox, self.y, self.x_adv, self.max_queries = blackbox, y, x_adv, max_queries
        self.score = _margin_scores(blackbox, x_adv, y)
        self.queries = torch.ones(len(x_adv), dtype=torch.long, device=x_adv.device)

    def searching(self) -> torch.Tensor:
        """The indices of the images not yet fooled that have a query left."""
        return ((self.score > 0) & (self.queries < self.max_queries)).nonzero().squeeze(1)

    def keep_better(self, idx: torch.Tensor, candidate: torch.Tensor) -> torch.Tensor:
        """Query ``candidate`` (one point per image of ``idx``) and move to it where the margin falls;
        returns that mask."""
        new_score = _margin_scores(self.blackbox, candidate, self.y[idx])
        self.queries[idx] += 1
        better = new_score < self.score[idx]
        self.x_adv[idx[better]] = candidate[better]
        self.score[idx[better]] = new_score[better]
        return better


def _check_query_attack(blackbox: object, x: object, y: object, *, eps: float, max_queries: int,
                        generator: object) -> torch.Tensor:
    """The checks SimBA and Square share; returns the labels ``y`` as a tensor on x's device."""
    _check_blackbox(blackbox, scores=True)
    blackbox._check_images(x)
    check_positive(eps, "eps", allow_zero=True)
    check_int(max_queries, "max_queries")
    check_generator(generator)
    return blackbox._check_labels(y, x)


def simba(
    blackbox: BlackBox,
    x: torch.Tensor,
    y: int | torch.Tensor,
    *,
    eps: float,
    max_queries: int,
    basis: str = "pixel",
    alpha: float | None = None,
    generator: torch.Generator | None = None,
    x_init: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """SimBA (Guo et al. 2019): try one random orthonormal direction q at a time; keep x − αq if it lowers
    the true class's score, else x + αq if that does, else neither.

    ``basis="pixel"``: q = single pixels (of one channel), α = ``alpha`` (default ε), each used once, so
    every pixel moves at most once. ``basis="dct"``: q = low-frequency 2-D DCT images (the lower half of
    the frequencies along each axis, per channel), α defaults to ε·√(H·W)/2. After every step the image
    is projected onto the L∞ ball of radius ``eps`` and onto [0, 1]. All images run together; an image
    stops once it is misclassified or has spent ``max_queries``. With ``x_init`` (a point of the ε-ball,
    e.g. a transferred example) the search continues from there instead of from x — any starting point
    works for a greedy search. Returns ``(x_adv, queries per image)``; the first query scores the start.
    With ``generator=None`` the randomness comes from torch's global RNG.
    """
    y = _check_query_attack(blackbox, x, y, eps=eps, max_queries=max_queries, generator=generator)
    check_choice(basis, "basis", ("pixel", "dct"))
    if alpha is not None:
        check_positive(alpha, "alpha")
    x = x.detach()
    x_adv = _start(blackbox, x_init, x, eps)
    count, direction = _simba_directions(basis, x)
    if alpha is None:
        alpha = eps if basis == "pixel" else eps * math.sqrt(x.shape[2] * x.shape[3]) / 2
    g = own_generator(generator)
    order = torch.stack([torch.randperm(count, generator=g) for _ in range(len(x))]).to(x.device)  # per image
    search = _Search(blackbox, y, x_adv, max_queries)
    for k in range(count):
        idx = search.searching()
        if len(idx) == 0:
            break
        q = direction(order[idx, k])
        improved = torch.zeros(len(idx), dtype=torch.bool, device=x.device)
        for sign in (-1.0, 1.0):
            trying = ~improved & (search.queries[idx] < max_queries)
            if trying.any():
                sub = idx[trying]
                step = search.x_adv[sub] + sign * alpha * q[trying] - x[sub]
                better = search.keep_better(sub, clip_box(x[sub] + project_linf(step, eps)))
                improved[trying.nonzero().squeeze(1)[better]] = True
    return search.x_adv, search.queries


def _simba_directions(basis: str, x: torch.Tensor) -> tuple[int, Callable[[torch.Tensor], torch.Tensor]]:
    """SimBA's directions for images shaped like ``x``: how many there are, and the map from one index per
    image to its direction q (N×C×H×W, ‖q‖₂ = 1) — a single pixel of one channel (``"pixel"``), or one
    low-frequency 2-D DCT image in one channel (``"dct"``)."""
    _, channels, height, width = x.shape
    planes = _dct_basis(height, width, max(1, min(height, width) // 2)).to(x.device, x.dtype) \
        if basis == "dct" else None

    def direction(index: torch.Tensor) -> torch.Tensor:
        q = torch.zeros(len(index), channels, height * width, dtype=x.dtype, device=x.device)
        if planes is None:
            q.view(len(index), -1)[torch.arange(len(index)), index] = 1.0
        else:
            channel, plane = index // planes.shape[0], index % planes.shape[0]
            q[torch.arange(len(index)), channel] = planes[plane].flatten(1)
        return q.view(len(index), channels, height, width)

    return channels * (height * width if planes is None else planes.shape[0]), direction


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
    y = _check_query_attack(blackbox, x, y, eps=eps, max_queries=max_queries, generator=generator)
    check_number(p_init, "p_init", low=0.0, high=1.0, low_open=True)
    x = x.detach()
    start = None if x_init is None else _start(blackbox, x_init, x, eps)
    g = own_generator(generator)
    n, channels, height, width = x.shape

    def signs(*shape: int) -> torch.Tensor:
        """Random ±ε, a corner of the ε-box."""
        return (torch.randint(0, 2, shape, generator=g).to(x.device, x.dtype) * 2 - 1) * eps

    if start is None:  # vertical stripes of ±ε
        start = clip_box(x + signs(n, channels, 1, width).expand(n, channels, height, width))
    search = _Search(blackbox, y, start, max_queries)
    for i in range(1, max_queries):
        idx = search.searching()
        if len(idx) == 0:
            break
        window = _random_squares(len(idx), _square_side(p_init, i, max_queries, height, width), x, g)
        search.keep_better(idx, clip_box(torch.where(window, x[idx] + signs(len(idx), channels, 1, 1),
                                                     search.x_adv[idx])))
    return search.x_adv, search.queries


def _square_side(p_init: float, i: int, max_queries: int, height: int, width: int) -> int:
    """The side of Square's window at iteration ``i``: area p·H·W, with p = ``p_init`` halved on the paper's
    schedule (iterations 10, 50, …, 8000 of a budget of 10 000, rescaled to ``max_queries``)."""
    halve_after = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)
    p = p_init / 2 ** sum(i > int(t * max_queries / 10_000) for t in halve_after)
    return max(1, min(height, width, round(math.sqrt(p * height * width))))


def _random_squares(n: int, side: int, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """``n`` masks N×1×H×W, each a ``side``×``side`` square at a random place of an image shaped like x."""
    height, width = x.shape[-2:]
    rows = torch.arange(height, device=x.device).view(1, 1, height, 1)
    cols = torch.arange(width, device=x.device).view(1, 1, 1, width)
    top = torch.randint(0, height - side + 1, (n,), generator=g).to(x.device).view(-1, 1, 1, 1)
    left = torch.randint(0, width - side + 1, (n,), generator=g).to(x.device).view(-1, 1, 1, 1)
    return (rows >= top) & (rows < top + side) & (cols >= left) & (cols < left + side)


__all__ = ["BlackBox", "QueryBudgetExceeded", "simba", "square_attack"]
