"""Auto-PGD (Croce & Hein 2020): PGD without a step size to tune — the first two attacks of AutoAttack.

APGD starts with a large step η = 2ε, adds momentum, and halves η at fixed *checkpoints* whenever the
loss has stopped climbing, restarting from the best point found so far. Run with the cross-entropy
(APGD-CE) and with the scale-invariant difference-of-logits ratio (APGD-DLR), it is the evaluation a
defense is now expected to report.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from helpers._checks import (
    check_bool,
    check_choice,
    check_generator,
    check_int,
    check_labels,
    check_positive,
    check_tensor,
)
from helpers.attacks._core import attack, l2_normalize
from helpers.attacks.norms import _per_sample, clip_box, project_l2, project_linf
from helpers.attacks.whitebox import NORMS, _random_start

APGD_LOSSES = ("ce", "dlr")


def dlr_loss(logits: torch.Tensor, y: torch.Tensor, targeted: bool = False) -> torch.Tensor:
    """The difference-of-logits ratio (Croce & Hein 2020, eq. 6), per sample, with z sorted z_π1 ≥ z_π2 ≥ …:

        untargeted:  DLR(z, y) = −(z_y − max_{i≠y} z_i) / (z_π1 − z_π3)
        targeted:    DLR(z, t) = −(max_{i≠t} z_i − z_t) / (z_π1 − (z_π3 + z_π4) / 2)

    Both are what the attacker *increases*; the denominator makes them invariant to shifting and scaling
    the logits. The paper's targeted loss has z_y (the true class) where this one has max_{i≠t} z_i,
    since the tensor contract passes only the targets; the two agree while the model still answers y.
    (10⁻¹² is added to the denominator, as in the paper's code.)
    """
    least = 4 if check_bool(targeted, "targeted") else 3  # the logits it reads: z_π3 (and z_π4)
    check_tensor(logits, "logits", what=f"N×K with K ≥ {least} classes", dims=2, finite=False)
    if logits.shape[1] < least:
        raise ValueError(f"logits must have K ≥ {least} classes (N×K); got shape {tuple(logits.shape)}")
    y = check_labels(y, logits.shape[0], "y", num_classes=logits.shape[1]).to(logits.device)
    top = logits.sort(dim=1, descending=True).values
    if targeted:
        scale = top[:, 0] - (top[:, 2] + top[:, 3]) / 2
    else:
        scale = top[:, 0] - top[:, 2]
    own = logits.gather(1, y[:, None]).squeeze(1)
    others = logits.masked_fill(F.one_hot(y, logits.shape[1]).bool(), float("-inf")).amax(1)
    gap = (others - own) if targeted else (own - others)
    return -gap / (scale + 1e-12)


def apgd_checkpoints(steps: int) -> list[int]:
    """The iterations w_j = ⌈p_j · N⌉ at which APGD may halve its step (Croce & Hein 2020, sec. 3.2):

        p_0 = 0,  p_1 = 0.22,  p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06),   while p_j ≤ 1

    (computed in integer hundredths, so that N = 100 gives exactly 0, 22, 41, 57, 70, 80, 87, 93, 99)."""
    check_int(steps, "steps")
    p = [0, 22]  # hundredths
    while p[-1] + max(p[-1] - p[-2] - 3, 6) <= 100:
        p.append(p[-1] + max(p[-1] - p[-2] - 3, 6))
    return sorted({-(-q * steps // 100) for q in p})  # ceil, without float round-off


def _apgd_loss(logits: torch.Tensor, y: torch.Tensor, loss: str, targeted: bool) -> torch.Tensor:
    if loss == "dlr":
        return dlr_loss(logits, y, targeted)
    ce = F.cross_entropy(logits, y, reduction="none")
    return -ce if targeted else ce


def _value_and_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss: str, targeted: bool):
    """(∂L/∂x, L, logits) for every image at once: one forward and one backward pass."""
    x = x.detach().requires_grad_(True)
    logits = model(x)
    value = _apgd_loss(logits, y, loss, targeted)
    (grad,) = torch.autograd.grad(value.sum(), x)
    return grad, value.detach(), logits.detach()


def _apgd_run(model, x, y, eps, steps, norm, loss, targeted, rho, momentum, generator):
    """One run of APGD from a random start, for every image of x at once. Returns (x_adv, fooled).

    An image leaves the batch as soon as an iterate fools the model (that iterate is its answer), so the
    later steps cost only as much as the images still standing."""
    project = project_linf if norm == "inf" else project_l2
    direction = torch.sign if norm == "inf" else l2_normalize
    shape = _per_sample(x)
    checkpoints = set(apgd_checkpoints(steps)[1:])
    out = x.clone()
    fooled_any = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)

    x_k = clip_box(x + _random_start(x, eps, norm, generator))
    grad, value, logits = _value_and_gradient(model, x_k, y, loss, targeted)
    s = {  # the state of the images still standing, one row per image
        "index": torch.arange(x.shape[0], device=x.device), "x": x, "y": y, "x_k": x_k, "x_prev": x_k,
        "grad": grad, "value": value, "best": x_k, "best_value": value, "best_grad": grad,
        "eta": torch.full((x.shape[0],), 2.0 * eps, dtype=x.dtype, device=x.device),  # η⁽⁰⁾ = 2ε
        "best_at_last_check": value, "halved_at_last_check": torch.zeros_like(fooled_any),
        "increases": torch.zeros(x.shape[0], dtype=torch.int64, device=x.device),
    }
    last_check = 0
    for k in range(steps + 1):
        fooled = (logits.argmax(1) == s["y"]) if targeted else (logits.argmax(1) != s["y"])
        if fooled.any():  # these images are done: their fooling iterate is the answer
            out[s["index"][fooled]] = s["x_k"][fooled]
            fooled_any[s["index"][fooled]] = True
            s = {name: t[~fooled] for name, t in s.items()}
            if len(s["index"]) == 0:
                break
        if k == steps:
            break
        # z = Π(x_k + η · s(∇f)),  x_{k+1} = Π(x_k + α (z − x_k) + (1 − α)(x_k − x_{k−1})),  α = 1 at first
        a = 1.0 if k == 0 else momentum
        x0, x_k = s["x"], s["x_k"]
        z = clip_box(x0 + project(x_k + s["eta"].view(shape) * direction(s["grad"]) - x0, eps))
        x_next = clip_box(x0 + project(x_k + a * (z - x_k) + (1 - a) * (x_k - s["x_prev"]) - x0, eps))
        s["x_prev"], s["x_k"] = x_k, x_next
        s["grad"], value, logits = _value_and_gradient(model, s["x_k"], s["y"], loss, targeted)
        s["increases"] = s["increases"] + (value > s["value"]).long()
        s["value"] = value
        better = value > s["best_value"]
        s["best"] = torch.where(better.view(shape), s["x_k"], s["best"])
        s["best_grad"] = torch.where(better.view(shape), s["grad"], s["best_grad"])
        s["best_value"] = torch.where(better, value, s["best_value"])
        if k + 1 in checkpoints:
            # halve η where the loss rose in fewer than ρ of the steps since the last checkpoint
            # (condition 1), or where η was not halved last time and f_max has not grown since (condition 2)
            stalled = s["increases"] < rho * (k + 1 - last_check)
            stalled |= ~s["halved_at_last_check"] & (s["best_value"] <= s["best_at_last_check"])
            s["eta"] = torch.where(stalled, s["eta"] / 2, s["eta"])
            s["x_k"] = torch.where(stalled.view(shape), s["best"], s["x_k"])
            s["grad"] = torch.where(stalled.view(shape), s["best_grad"], s["grad"])
            s["halved_at_last_check"], s["best_at_last_check"] = stalled, s["best_value"]
            s["increases"] = torch.zeros_like(s["increases"])
            last_check = k + 1
    if len(s["index"]):  # never fooled: the iterate of highest loss
        out[s["index"]] = s["best"]
    return out, fooled_any


@attack
def apgd(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float,
    steps: int = 100,
    norm: str = "inf",
    loss: str = "ce",
    restarts: int = 1,
    rho: float = 0.75,
    momentum: float = 0.75,
    targeted: bool = False,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Auto-PGD (Croce & Hein, "Reliable evaluation of adversarial robustness with an ensemble of diverse
    parameter-free attacks", ICML 2020). From a random point of the ε-ball, with η⁽⁰⁾ = 2ε and
    α = ``momentum``:

        z⁽ᵏ⁺¹⁾ = Π( x⁽ᵏ⁾ + η⁽ᵏ⁾ · s(∇f(x⁽ᵏ⁾)) )                 s = sign (L∞) or g / ‖g‖₂ (L2)
        x⁽ᵏ⁺¹⁾ = Π( x⁽ᵏ⁾ + α (z⁽ᵏ⁺¹⁾ − x⁽ᵏ⁾) + (1 − α)(x⁽ᵏ⁾ − x⁽ᵏ⁻¹⁾) )

    with Π the projection onto the ε-ball and [0, 1]. At each checkpoint w_j (``apgd_checkpoints``) the step
    η is halved, and the iterate reset to the best point x_max, wherever (1) f rose in fewer than a share
    ``rho`` of the steps since w_{j−1}, or (2) η was not halved at w_{j−1} and f_max has not grown since.

    ``loss`` is ``"ce"`` (APGD-CE) or ``"dlr"`` (APGD-DLR, ``dlr_loss``; targeted DLR needs ≥ 4 classes).
    ``steps`` counts the gradient steps after the start (``steps`` + 1 gradients in all). With ``restarts``
    > 1, the images not yet fooled are attacked again from a new random start. Returns, per image, the first
    iterate that fools the model where one was found (an image stops there), else the iterate of highest loss.
    With ``generator=None`` the randomness comes from torch's global RNG.
    """
    check_positive(eps, "eps", allow_zero=True)
    check_int(steps, "steps")
    check_choice(norm, "norm", NORMS)
    check_choice(loss, "loss", APGD_LOSSES)
    check_int(restarts, "restarts")
    for value, name in ((rho, "rho"), (momentum, "momentum")):
        check_positive(value, name)
        if value > 1:
            raise ValueError(f"{name} must be in (0, 1]; got {value}")
    check_generator(generator)
    if loss == "dlr":
        with torch.no_grad():
            classes = model(x[:1]).shape[1]
        needed = 4 if targeted else 3
        if classes < needed:
            raise ValueError(f"loss='dlr' needs a model with at least {needed} classes"
                             f"{' (targeted)' if targeted else ''}; this one has {classes}")
    x_adv = x.clone()
    with torch.no_grad():
        predicted = model(x).argmax(1)
    # the images not fooled yet (an image the model already gets wrong is its own answer)
    left = torch.nonzero(predicted != y if targeted else predicted == y).squeeze(1)
    for _ in range(restarts):
        if len(left) == 0:
            break
        found, fooled = _apgd_run(model, x[left], y[left], float(eps), steps, norm, loss, targeted,
                                  float(rho), float(momentum), generator)
        x_adv[left] = found
        left = left[~fooled]
    return x_adv


__all__ = ["apgd", "dlr_loss", "apgd_checkpoints", "APGD_LOSSES"]
