"""White-box attacks: find x′ close to x⁰ that the network gets wrong (lectures 33–37).

Every attack solves, approximately,

    x* = argmax_{d(x⁰, x′) ≤ ε, x′ ∈ [0, 1]}  L(x′)

with L the loss *away* from the true class y (untargeted) or the negative loss *towards* a target
class (``targeted=True``, then ``y`` holds the targets). They differ in the optimiser and the
constraint. All of them take ``model(x) -> logits`` on pixels in [0, 1], work on every image at once,
return a detached ``x_adv`` inside the ε-ball of their norm and inside [0, 1], and leave the model
as they found it. The attacks that look for the *smallest* perturbation instead (C&W, DeepFool) are in
``minimum_norm``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from helpers._checks import (
    EVAL_BATCH,
    batched,
    check_bool,
    check_choice,
    check_generator,
    check_images,
    check_int,
    check_labels,
    check_model,
    check_number,
    check_positive,
    frozen,
    num_classes,
)
from helpers.attacks._core import (
    Loss,
    attack,
    attacker_loss,
    best_of,
    check_loss,
    l2_normalize,
    loss_gradient,
    pgd_steps,
)
from helpers.attacks.norms import _per_sample, clip_box, project_linf

NORMS = ("inf", "2")


@attack
def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float,
         targeted: bool = False) -> torch.Tensor:
    """Fast gradient sign method (Goodfellow, Shlens & Szegedy 2015), one step of size ε:

        x′ = clip_[0,1](x + ε · sign(∇ₓ CE(f(x), y)))        (targeted: x − ε · sign(∇ₓ CE(f(x), t)))
    """
    check_positive(eps, "eps", allow_zero=True)
    grad, _ = loss_gradient(model, x, y, "ce", targeted)
    return clip_box(x + eps * grad.sign())


@attack
def rfgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float, alpha: float,
          targeted: bool = False, generator: torch.Generator | None = None) -> torch.Tensor:
    """R+FGSM (Tramèr et al. 2018, "Ensemble adversarial training"): a random sign step of size α, then
    FGSM with the rest of the budget, ε − α, from there (0 ≤ α ≤ ε; the paper takes α = ε/2):

        x′ = clip_[0,1](x + α · sign(N(0, I))),      x_adv = clip_[0,1](x′ + (ε − α) · sign(∇ₓ′ CE(f(x′), y)))

    The random step leaves the sharp curvature of the loss right at the data point, which fools a model
    trained on FGSM alone. torchattacks' ``RFGSM(eps, alpha, steps)`` takes ``steps`` steps of α each;
    with ``steps=1`` and ε = 2α it is this attack. With ``generator=None`` the randomness comes from
    torch's global RNG.
    """
    check_positive(eps, "eps", allow_zero=True)
    if check_positive(alpha, "alpha", allow_zero=True) > eps:
        raise ValueError(f"alpha must be ≤ eps = {eps}: the random step spends α of the budget ε; "
                         f"got {alpha}")
    check_generator(generator)
    where = generator.device if generator is not None else x.device
    noise = torch.randn(x.shape, generator=generator, device=where, dtype=x.dtype).to(x.device)
    start = clip_box(x + alpha * noise.sign())
    grad, _ = loss_gradient(model, start, y, "ce", targeted)
    return clip_box(x + project_linf(start + (eps - alpha) * grad.sign() - x, eps))


def _check_iterative(eps: float, alpha: float, steps: int) -> None:
    check_positive(eps, "eps", allow_zero=True)
    check_positive(alpha, "alpha")
    check_int(steps, "steps")


@attack
def ifgsm(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float, alpha: float, steps: int,
    targeted: bool = False,
) -> torch.Tensor:
    """Iterative FGSM / BIM (Kurakin, Goodfellow & Bengio 2017): ``steps`` sign steps of size α from x,
    each followed by the projection onto the L∞ ball and the box,

        x_{t+1} = clip_[0,1]( x + clip_[−ε,ε]( x_t + α · sign(∇ CE(f(x_t), y)) − x ) )
    """
    _check_iterative(eps, alpha, steps)
    x_adv = x.clone()
    for _ in range(steps):
        grad, _ = loss_gradient(model, x_adv, y, "ce", targeted)
        x_adv = clip_box(x + project_linf(x_adv + alpha * grad.sign() - x, eps))
    return x_adv


def _random_start(x: torch.Tensor, eps: float, norm: str, generator: torch.Generator | None) -> torch.Tensor:
    """A uniform random point of the ε-ball: of the L∞ box, or of the L2 ball (direction uniform on
    the sphere, radius ε·u^(1/d))."""
    where = generator.device if generator is not None else x.device
    if norm == "inf":
        delta = (torch.rand(x.shape, generator=generator, device=where, dtype=x.dtype) * 2 - 1) * eps
    else:
        direction = l2_normalize(torch.randn(x.shape, generator=generator, device=where, dtype=x.dtype))
        u = torch.rand(x.shape[0], generator=generator, device=where, dtype=x.dtype)
        delta = direction * (eps * u ** (1.0 / x[0].numel())).view(_per_sample(x))
    return delta.to(x.device)


@attack
def pgd(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float,
    alpha: float,
    steps: int,
    norm: str = "inf",
    random_start: bool = True,
    restarts: int = 1,
    loss: Loss = "ce",
    targeted: bool = False,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Projected gradient descent (Madry et al. 2018): from a random point of the ε-ball, repeat

        L∞:  x_{t+1} = Π( x_t + α · sign(∇L) )          L2:  x_{t+1} = Π( x_t + α · ∇L / ‖∇L‖₂ )

    where Π projects onto the ε-ball around x, then onto [0, 1]. ``loss`` is ``"ce"`` (cross-entropy),
    ``"margin"`` (C&W's max_{j≠y} z_j − z_y on the logits) or any ``loss(logits, y) -> per-sample
    loss``. With ``restarts`` > 1 each image keeps its strongest result (``best_of``): a success beats
    a failure, then the higher loss wins.
    With ``generator=None`` the randomness comes from torch's global RNG.
    """
    _check_iterative(eps, alpha, steps)
    check_choice(norm, "norm", NORMS)
    check_int(restarts, "restarts")
    check_loss(loss)
    check_generator(generator)

    def run() -> torch.Tensor:
        start = clip_box(x + _random_start(x, eps, norm, generator)) if random_start else x.clone()
        return pgd_steps(model, x, start, y, eps=eps, alpha=alpha, steps=steps, norm=norm, loss=loss,
                         targeted=targeted)

    return best_of(run, restarts, model, y, loss, targeted)


def input_diversity(x: torch.Tensor, probability: float, generator: torch.Generator | None,
                    min_scale: float = 0.9) -> torch.Tensor:
    """Random resize-and-pad (Xie et al. 2019), keeping the image size: with ``probability``, shrink the
    batch to s×s with s uniform in [⌈min_scale·H⌉, H] and pad it back to H×W at a random offset with zeros.
    With ``generator=None`` the randomness comes from torch's global RNG."""
    check_images(x)
    check_number(probability, "probability", low=0.0, high=1.0)
    check_generator(generator)
    check_number(min_scale, "min_scale", low=0.0, high=1.0, low_open=True)
    return resize_pad(x, probability, generator, min_scale)


def resize_pad(x: torch.Tensor, probability: float, generator: torch.Generator | None,
               min_scale: float) -> torch.Tensor:
    """``input_diversity`` without its checks, for the attacks' inner loops.
    With ``generator=None`` the randomness comes from torch's global RNG."""
    where = generator.device if generator is not None else "cpu"
    if float(torch.rand((), generator=generator, device=where)) >= probability:
        return x
    height, width = x.shape[-2:]
    smallest = math.ceil(min_scale * height)
    size = int(torch.randint(smallest, height + 1, (), generator=generator, device=where))
    scaled_w = max(1, round(size * width / height))
    small = F.interpolate(x, size=(size, scaled_w), mode="bilinear", align_corners=False)
    top = int(torch.randint(0, height - size + 1, (), generator=generator, device=where))
    left = int(torch.randint(0, width - scaled_w + 1, (), generator=generator, device=where))
    return F.pad(small, (left, width - scaled_w - left, top, height - size - top))


@attack
def mifgsm(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float,
    alpha: float,
    steps: int,
    decay: float = 1.0,
    diversity_prob: float = 0.0,
    targeted: bool = False,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Momentum iterative FGSM (Dong et al. 2018): accumulate the L1-normalised gradient,

        g_{t+1} = μ · g_t + ∇L(x_t) / mean|∇L(x_t)|,      x_{t+1} = Π_ε,[0,1]( x_t + α · sign(g_{t+1}) )

    with μ = ``decay``. With ``diversity_prob`` > 0 the gradient is taken at a randomly resized and
    padded copy of x_t (input diversity, Xie et al. 2019; the copy keeps the image size, so any
    fixed-input model works). Both make examples that transfer better to other models (notebook 07).
    With ``generator=None`` the randomness comes from torch's global RNG.
    """
    _check_iterative(eps, alpha, steps)
    check_positive(decay, "decay", allow_zero=True)
    check_number(diversity_prob, "diversity_prob", low=0.0, high=1.0)
    check_generator(generator)
    momentum = torch.zeros_like(x)
    x_adv = x.clone()
    for _ in range(steps):
        x_in = x_adv.detach().requires_grad_(True)
        logits = model(resize_pad(x_in, diversity_prob, generator, 0.9) if diversity_prob > 0 else x_in)
        (grad,) = torch.autograd.grad(attacker_loss(logits, y, "ce", targeted).sum(), x_in)
        l1 = grad.abs().mean(dim=tuple(range(1, x.dim())), keepdim=True).clamp_min(1e-12)
        momentum = decay * momentum + grad / l1
        x_adv = clip_box(x + project_linf(x_adv + alpha * momentum.sign() - x, eps))
    return x_adv


def success_rate(model: nn.Module, x_adv: torch.Tensor, y: int | torch.Tensor, *, targeted: bool = False,
                 batch_size: int = EVAL_BATCH) -> float:
    """Share of ``x_adv`` classified other than ``y`` (targeted: classified as the targets ``y``)."""
    check_model(model)
    check_images(x_adv, "x_adv", model=model)
    check_bool(targeted, "targeted")
    check_int(batch_size, "batch_size")
    with torch.no_grad(), frozen(model):
        y = check_labels(y, x_adv.shape[0], "y", num_classes=num_classes(model, x_adv)).to(x_adv.device)
        predicted = batched(lambda chunk: model(chunk).argmax(1), x_adv, batch_size=batch_size)
    hits = (predicted == y) if targeted else (predicted != y)
    return hits.float().mean().item()


__all__ = ["fgsm", "rfgsm", "ifgsm", "pgd", "mifgsm", "success_rate", "input_diversity", "NORMS"]
