"""Transfer attacks (lecture 38): attack a proxy you hold and hope the example fools the black box too.

A proxy trained on the same data transfers; an ``ensemble`` of proxies transfers better (Liu et al. 2017).
Without the training data, *substitute training* (Papernot et al. 2017) trains a proxy on the black box's
own labels, growing its data set along the proxy's Jacobian. The query attacks, which climb the black box's
answers instead, are in ``blackbox``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import torch
from torch import nn

from helpers._checks import (
    check_bool,
    check_callable,
    check_generator,
    check_int,
    check_model,
    check_positive,
    frozen,
    model_device,
    own_generator,
)
from helpers.attacks.blackbox import BlackBox, _check_blackbox
from helpers.attacks.norms import clip_box
from helpers.training import train


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


__all__ = ["Ensemble", "ensemble", "substitute_training"]
