"""Measure homework 6's reference solution and baselines on private black boxes (run by the maintainers).

    python scripts/hw6_private_boxes.py PATH [PATH …]    # checkpoints from `python -m helpers.zoo train
                                                          # fmnist_blackbox --seed S --out PATH`

For each box: its clean accuracy on the 128 homework images, the three baselines (simple and medium: one
figure; strong: one per seed of HW6_BASELINE_SEEDS), and the reference solution of notebooks/hw6_attack.ipynb
— the strong baseline's seed-0 examples, then Square Attack started from them on the images that resist,
with the rest of the budget — spending queries exactly as the notebook does (the setup judge, one query per
image to see which examples transfer, Square, the final judge).
"""

from __future__ import annotations

import sys

import torch

from helpers import zoo
from helpers.attacks import BlackBox, ensemble, mifgsm, square_attack
from helpers.course import homework
from helpers.course.hw6_server import load_private


def reference(victim: torch.nn.Module) -> tuple[float, float, int]:
    """The reference solution against ``victim``: (accuracy after transfer, after Square, queries spent)."""
    x, y = homework.hw6_images()
    eps = homework.HW6_EPS
    box = BlackBox(victim, budget=homework.HW6_QUERIES * len(x))
    box(x)  # the notebook's first judge
    both = ensemble([zoo.load("fmnist_proxy", device="cpu"), zoo.load("fmnist_cnn", device="cpu")])
    start = mifgsm(both, x, y, eps=eps, alpha=eps / 10, steps=20, diversity_prob=0.7,
                   generator=torch.Generator().manual_seed(0))
    start = homework.to_uint8_and_back(start)
    right = box(start).argmax(1) == y
    resist = right.nonzero().squeeze(1)
    per_image = (box.budget - box.queries - len(x)) // len(resist)
    refined, _ = square_attack(box, x[resist], y[resist], eps=eps, max_queries=per_image,
                               x_init=start[resist], generator=torch.Generator().manual_seed(0))
    x_adv = start.clone()
    x_adv[resist] = refined
    final = (box(homework.to_uint8_and_back(x_adv)).argmax(1) == y).float().mean().item()  # the final judge
    return right.float().mean().item(), final, box.queries


def main(paths: list[str]) -> None:
    torch.set_num_threads(1)
    x, y = homework.hw6_images()
    for path in paths:
        victim = zoo.load("fmnist_blackbox", device="cpu") if path == "practice" else load_private(path)
        with torch.no_grad():
            clean = (victim(x).argmax(1) == y).float().mean().item()
        lines = homework.hw6_baselines(victim)
        transfer, final, spent = reference(victim)
        strong = lines["strong"]
        print(f"{path}: clean {clean:.3f} · simple {lines['simple'][0]:.3f} · "
              f"medium {lines['medium'][0]:.3f} · strong {min(strong):.3f}–{max(strong):.3f} · "
              f"reference: transfer {transfer:.3f}, "
              f"+ Square {final:.3f} ({spent} queries)", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:] or ["practice"])
