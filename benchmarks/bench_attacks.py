"""Attack speed against torchattacks on the zoo CNN, a batch of 64 Fashion-MNIST images.

    python -m benchmarks.bench_attacks [--device cpu|cuda]

Same model, inputs and settings; outputs are checked equal (or, for DeepFool and C&W, checked to succeed)
before anything is timed. ``pgd`` is also compared with a bare loop of steps × (forward + backward), the
physical limit of any PGD implementation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
import torchattacks

from benchmarks.harness import check_close, cli, compare, measure
from helpers import zoo
from helpers.attacks import apgd, cw_l2, deepfool, fgsm, mifgsm, pgd, success_rate
from helpers.attacks._core import attack
from helpers.data import fashion_mnist


def bare_loop(model, x, y, steps):
    """steps × (forward + backward) and nothing else: what PGD cannot go below."""
    x_adv = x.clone()
    for _ in range(steps):
        x_adv.requires_grad_(True)
        (grad,) = torch.autograd.grad(F.cross_entropy(model(x_adv), y), x_adv)
        x_adv = x_adv.detach() + 0.01 * grad.sign()
    return x_adv


# The public wrapper of every attack around an attack that does nothing: what the tensor contract adds to a
# call (x checked, the number of classes found and y checked against it, the model's modes and flags saved
# and restored).
contract_only = attack(lambda model, x, y: x)

CONTRACT_ROW = "the tensor contract's checks alone (part of every row)"


def run(device: torch.device) -> list:
    model = zoo.load("fmnist_cnn", device=device)
    images, labels = fashion_mnist("test")
    x, y = images[:64].to(device), labels[:64].to(device)
    eps, alpha, steps = 0.1, 0.01, 20
    cases = [
        ("fgsm", lambda: fgsm(model, x, y, eps=eps), lambda: torchattacks.FGSM(model, eps=eps)(x, y), 1e-6),
        ("pgd L∞, 20 steps", lambda: pgd(model, x, y, eps=eps, alpha=alpha, steps=steps, random_start=False),
         lambda: torchattacks.PGD(model, eps=eps, alpha=alpha, steps=steps, random_start=False)(x, y), 1e-2),
        ("pgd L2, 20 steps",
         lambda: pgd(model, x, y, eps=1.5, alpha=0.2, steps=steps, norm="2", random_start=False),
         lambda: torchattacks.PGDL2(model, eps=1.5, alpha=0.2, steps=steps, random_start=False)(x, y), 5e-2),
        # (float32 trajectories drift apart over 20 normalised steps; float64 agreement is tested in tests/)
        ("mifgsm, 20 steps", lambda: mifgsm(model, x, y, eps=eps, alpha=alpha, steps=steps),
         lambda: torchattacks.MIFGSM(model, eps=eps, alpha=alpha, steps=steps)(x, y), 5e-2),
        # random starts differ (each library draws its own), so the outputs are compared by success, not
        # pixel by pixel
        ("apgd L∞ CE, 20 steps", lambda: apgd(model, x, y, eps=eps, steps=steps),
         lambda: torchattacks.APGD(model, eps=eps, steps=steps)(x, y), None),
        ("pgd vs a bare loop of 20 × (forward + backward)",
         lambda: pgd(model, x, y, eps=eps, alpha=alpha, steps=steps, random_start=False),
         lambda: bare_loop(model, x, y, steps), None),
        ("deepfool, 50 steps",
         lambda: deepfool(model, x, y), lambda: torchattacks.DeepFool(model)(x, y), None),
        ("cw_l2, 50 steps × 1", lambda: cw_l2(model, x, y, steps=50, search_steps=1),
         lambda: torchattacks.CW(model, c=1.0, steps=50)(x, y), None),
    ]
    timings = []
    for name, ours, theirs, rtol in cases:
        # sign ties may differ in a few pixels, hence not bit-identical for iterative attacks
        if rtol is not None:
            check_close(name, ours(), theirs(), rtol)
        elif name.startswith("deepfool"):
            assert success_rate(model, ours(), y) >= 0.95, "deepfool must succeed before it is timed"
        elif name.startswith("apgd"):
            assert abs(success_rate(model, ours(), y) - success_rate(model, theirs(), y)) <= 2 / len(y), name
        timings.append(compare(name, ours, theirs, device=device))
    timings.append(measure(CONTRACT_ROW, lambda: contract_only(model, x, y), device=device, repeats=20))
    return timings


if __name__ == "__main__":
    cli(run, __doc__, "torchattacks / bare loop")
