"""HotFlip (Ebrahimi, Rao, Lowd & Dou 2018): attacking a character-level classifier one letter at a time.

Words are int64 tensors ``N×L`` of character indices (``helpers.text``); the model starts with ``OneHot``,
so it also accepts the one-hot encoding X ∈ {0, 1}^{N×L×V} and ∂L/∂X exists. Flipping character i from
a = x_i to b changes X by e_{i,b} − e_{i,a}, so to first order the attacker's loss changes by

    ΔL(i, a → b) ≈ ∂L/∂X_{i,b} − ∂L/∂X_{i,a}

— every flip of every position scored by one backward pass. There is no ε-ball: the budget is the number of
flipped characters (the Hamming distance, an edit distance without insertions and deletions).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from helpers._checks import (
    check_int,
    check_labels,
    check_model,
    check_tensor,
    check_tokens,
    frozen,
    model_dtype,
)
from helpers.attacks._core import attacker_loss


def _check_text_attack(model: nn.Module, tokens: torch.Tensor, y: int | torch.Tensor, vocabulary: int | None,
                       targeted: bool, allowed: torch.Tensor | None) -> tuple[torch.Tensor, int]:
    from helpers.text import ALPHABET

    check_model(model)
    if model_dtype(model) not in (None, torch.float32):
        raise TypeError(f"model must compute in float32 (the one-hot words are float32); its parameters are "
                        f"{model_dtype(model)} — convert it with model.float()")
    vocabulary = len(ALPHABET) if vocabulary is None else check_int(vocabulary, "vocabulary", minimum=2)
    check_tokens(tokens, "tokens", vocabulary=vocabulary)
    if not isinstance(targeted, bool):
        raise TypeError(f"targeted must be a bool; got {type(targeted).__name__}")
    if allowed is not None and (not isinstance(allowed, torch.Tensor) or allowed.dtype != torch.bool
                                or allowed.shape != (vocabulary,)):
        raise TypeError(f"allowed must be None or a bool tensor of shape ({vocabulary},) marking the "
                        f"characters a flip may write; got {allowed!r:.60}")
    with torch.no_grad(), frozen(model):
        classes = int(model(tokens[:1]).shape[1])
    return check_labels(y, tokens.shape[0], "y", num_classes=classes).to(tokens.device), vocabulary


def flip_gain(grad: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """HotFlip's first-order change of the loss for every flip, from the gradient ``grad`` = ∂L/∂X
    (``N×L×V``) at the one-hot words X of ``tokens`` (``N×L``):

        gain[n, i, b] = grad[n, i, b] − grad[n, i, x_{n,i}]
    """
    check_tensor(grad, "grad", what="N×L×V (∂L/∂X at the one-hot words)", dims=3, finite=False)
    check_tokens(tokens, "tokens", vocabulary=grad.shape[2])
    if tokens.shape != grad.shape[:2]:
        raise ValueError(f"tokens must be N×L = {tuple(grad.shape[:2])} to match grad; "
                         f"got {tuple(tokens.shape)}")
    return grad - grad.gather(2, tokens.unsqueeze(2))


def _flip_scores(model: nn.Module, tokens: torch.Tensor, y: torch.Tensor, vocabulary: int, targeted: bool,
                 original: torch.Tensor, allowed: torch.Tensor | None = None) -> torch.Tensor:
    """First-order scores ``N×L×V`` of every flip; −∞ where a flip is not allowed: padding positions,
    positions already changed from ``original``, the padding character, the character already there and
    characters outside ``allowed``."""
    with torch.enable_grad():  # also when called under torch.no_grad()
        one_hot = F.one_hot(tokens, vocabulary).float().requires_grad_(True)
        (grad,) = torch.autograd.grad(attacker_loss(model(one_hot), y, "ce", targeted).sum(), one_hot)
    scores = flip_gain(grad, tokens)
    blocked = (F.one_hot(tokens, vocabulary).bool()  # the character already there
               | (tokens == 0).unsqueeze(2)  # a padding position
               | (tokens != original).unsqueeze(2))  # a position already changed
    blocked[:, :, 0] = True
    if allowed is not None:
        blocked |= ~allowed.to(tokens.device)
    return scores.masked_fill(blocked, float("-inf"))


def flip_scores(model: nn.Module, tokens: torch.Tensor, y: int | torch.Tensor, *, targeted: bool = False,
                vocabulary: int | None = None, allowed: torch.Tensor | None = None) -> torch.Tensor:
    """HotFlip's first-order estimate ``N×L×V`` of how much each one-character flip raises the attacker's
    loss (cross-entropy away from ``y``, or towards the target ``y`` with ``targeted=True``):

        score[n, i, b] = ∂L/∂X_{n,i,b} − ∂L/∂X_{n,i,x_i}

    −∞ marks flips that are not allowed (a padding position, the padding character, the same character, a
    character outside ``allowed``, a bool tensor over the vocabulary). ``vocabulary`` defaults to
    ``len(helpers.text.ALPHABET)``.
    """
    y, vocabulary = _check_text_attack(model, tokens, y, vocabulary, targeted, allowed)
    with frozen(model):
        return _flip_scores(model, tokens, y, vocabulary, targeted, tokens, allowed).detach()


def _true_loss(model: nn.Module, tokens: torch.Tensor, y: torch.Tensor,
               targeted: bool) -> tuple[torch.Tensor, ...]:
    with torch.no_grad():
        logits = model(tokens)
    fooled = logits.argmax(1) == y if targeted else logits.argmax(1) != y
    return attacker_loss(logits, y, "ce", targeted), fooled


def hotflip(
    model: nn.Module,
    tokens: torch.Tensor,
    y: int | torch.Tensor,
    *,
    max_flips: int = 1,
    beam: int = 1,
    targeted: bool = False,
    vocabulary: int | None = None,
    allowed: torch.Tensor | None = None,
) -> torch.Tensor:
    """HotFlip's beam search (Ebrahimi et al. 2018) over character flips, every word at once.

    Each of the ``beam`` kept versions of a word proposes its ``beam`` best flips by the first-order score
    (``flip_scores``); the ``beam`` candidates with the highest true loss (one forward pass) are kept. A word
    stops changing as soon as its best version fools the model (another class, or the target); otherwise
    after ``max_flips`` flips, with each position flipped at most once, so the result differs from ``tokens``
    in at most ``max_flips`` characters. ``beam=1`` is the greedy search. ``allowed`` (a bool tensor over the
    vocabulary) restricts the characters a flip may write. Returns the detached tokens.
    """
    y, vocabulary = _check_text_attack(model, tokens, y, vocabulary, targeted, allowed)
    check_int(max_flips, "max_flips")
    check_int(beam, "beam")
    n, length = tokens.shape
    with frozen(model):
        hyps = tokens.unsqueeze(1)  # N × B × L, B = 1 at the start
        done = _true_loss(model, tokens, y, targeted)[1]
        for _ in range(max_flips):
            b = hyps.shape[1]
            flat = hyps.reshape(n * b, length)
            scores = _flip_scores(model, flat, y.repeat_interleave(b), vocabulary, targeted,
                                  tokens.repeat_interleave(b, 0), allowed)
            top, where = scores.reshape(n * b, -1).topk(min(beam, length * vocabulary), dim=1)  # N·B × k
            k = top.shape[1]
            candidates = flat.repeat_interleave(k, 0)
            rows = torch.arange(n * b * k, device=tokens.device)
            position, char = where.flatten() // vocabulary, where.flatten() % vocabulary
            legal = torch.isfinite(top.flatten())  # a word with fewer than k legal flips: keep it as it is
            candidates[rows, position] = torch.where(legal, char, candidates[rows, position])
            loss, _ = _true_loss(model, candidates, y.repeat_interleave(b * k), targeted)
            loss = loss.masked_fill(~legal, float("-inf")).reshape(n, b * k)
            candidates = candidates.reshape(n, b * k, length)
            order = loss.argsort(dim=1, descending=True)
            loss = loss.gather(1, order)
            candidates = candidates.gather(1, order[:, :, None].expand(-1, -1, length))
            # a copy of a better candidate
            same = (candidates[:, :, None] == candidates[:, None]).all(-1).triu(1).any(1)
            loss = loss.masked_fill(same, float("-inf"))
            keep = loss.argsort(dim=1, descending=True, stable=True)[:, :beam]
            new = candidates.gather(1, keep[:, :, None].expand(-1, -1, length))
            valid = torch.isfinite(loss.gather(1, keep[:, :1])).squeeze(1)
            update = ~done & valid
            hyps = torch.where(update[:, None, None], new, hyps[:, :1].expand(-1, new.shape[1], -1)
                               if hyps.shape[1] != new.shape[1] else hyps)
            done = done | (update & _true_loss(model, hyps[:, 0], y, targeted)[1])
            if bool(done.all()):
                break
    return hyps[:, 0].detach()


__all__ = ["flip_gain", "flip_scores", "hotflip"]
