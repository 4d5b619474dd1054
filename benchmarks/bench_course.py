"""The rest of the course's costs: randomized smoothing's certification, inference, the explorers, the
notebooks.

    python -m benchmarks.bench_course [--device cpu|cuda]

- ``certify`` (Cohen et al.: n0 = 100 and n = 2 000 noisy copies of each of 4 images) against a plain loop
  that classifies each image's noise 1 000 copies at a time; both draw the same number of samples, and
  the counts of the two are checked equal (same noise) before timing. Reported also as samples per second.
- ``predict`` on 2 000 test images in the library's chunks (``EVAL_BATCH``, 128 images) against chunks of
  1 000 (its former default), the logits checked equal first.
- One update of each explorer in ``helpers.widgets`` (a slider or picker moved, the figure redrawn to PNG),
  on the zoo CNN with the images the notebooks use; the course's goal is < 300 ms.
- The notebook suite: each notebook executed in a fresh kernel, its wall time and the kernel's peak
  resident memory (``python -m benchmarks.bench_course --notebooks``; ``make bench`` runs it too).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from pathlib import Path

import ipywidgets as widgets
import nbformat
import torch

from benchmarks.harness import Timing, compare, measure
from helpers import zoo
from helpers._checks import EVAL_BATCH
from helpers.data import fashion_mnist
from helpers.defenses import certify, noise_counts
from helpers.training import predict
from helpers.widgets import defense_explorer, epsilon_explorer, lrp_explorer, smoothgrad_explorer

CERTIFY = {"images": 4, "sigma": 0.25, "n0": 100, "n": 2_000}


def plain_counts(model, x, sigma: float, n: int, generator: torch.Generator) -> torch.Tensor:
    """The textbook loop: image by image, 1 000 noisy copies per forward pass (noise drawn as noise_counts
    does, so the counts agree)."""
    noise = torch.randn((n, *x.shape), generator=generator).to(x.device)  # one draw, shared layout
    counts = torch.zeros(x.shape[0], 10, dtype=torch.long, device=x.device)
    with torch.no_grad():
        for i in range(x.shape[0]):
            for start in range(0, n, 1000):
                batch = x[i] + sigma * noise[start : start + 1000, i]
                counts[i] += torch.bincount(model(batch).argmax(1), minlength=10)
    return counts


def run_certify(device: torch.device) -> list[Timing]:
    model = zoo.load("fmnist_cnn_noise", device=device)
    images, _ = fashion_mnist("test")
    x = images[: CERTIFY["images"]].to(device)
    sigma, n0, n = CERTIFY["sigma"], CERTIFY["n0"], CERTIFY["n"]
    ours_counts = noise_counts(model, x, sigma=sigma, n=n, batch_size=n,
                               generator=torch.Generator().manual_seed(0))
    theirs_counts = plain_counts(model, x, sigma, n, torch.Generator().manual_seed(0))
    if not torch.equal(ours_counts, theirs_counts):
        raise AssertionError("certify: the plain loop's counts differ from noise_counts'; not timing it")
    timing = compare(
        f"certify, {CERTIFY['images']} images × (n0 {n0} + n {n}) samples",
        lambda: certify(model, x, sigma=sigma, n0=n0, n=n, generator=torch.Generator().manual_seed(0)),
        lambda: (plain_counts(model, x, sigma, n0, torch.Generator().manual_seed(0)),
                 plain_counts(model, x, sigma, n, torch.Generator().manual_seed(1))),
        device=device,
    )
    samples = CERTIFY["images"] * (n0 + n)
    timing.name += (f" — {samples / statistics.median(timing.ours):,.0f} vs "
                    f"{samples / statistics.median(timing.theirs):,.0f} samples/s")
    return [timing]


def run_inference(device: torch.device) -> list[Timing]:
    model = zoo.load("fmnist_cnn", device=device)
    images, _ = fashion_mnist("test")
    x = images[:2000].to(device)
    ours, theirs = predict(model, x), predict(model, x, batch_size=1000)
    # bit for bit on the CPU; a GPU library may pick another kernel for another batch size: equal to rounding
    if not (torch.equal(ours.argmax(1), theirs.argmax(1)) and torch.allclose(ours, theirs, atol=1e-4)):
        raise AssertionError("predict: the logits depend on the chunk size; not timing it")
    return [compare(f"predict, 2 000 images in chunks of {EVAL_BATCH} (vs 1 000)", lambda: predict(model, x),
                    lambda: predict(model, x, batch_size=1000), device=device)]


def _update(explorer, control: int, values: tuple) -> Callable[[], None]:
    """A function that moves one control of ``explorer`` to the next of ``values`` (one redraw each). The
    controls are the explorer's first child: a row of them, or a single picker."""
    row = explorer.children[0]
    widget = row.children[control] if isinstance(row, widgets.HBox) else row
    state = {"i": 0}

    def move() -> None:
        state["i"] = (state["i"] + 1) % len(values)
        widget.value = values[state["i"]]

    return move


def run_widgets(device: torch.device) -> list[Timing]:
    model = zoo.load("fmnist_cnn", device=device)
    images, labels = fashion_mnist("test")
    x, y = images[:128].to(device), labels[:128].to(device)
    cases = [
        ("smoothgrad_explorer: noise level (3 images, n = 25)",
         _update(smoothgrad_explorer(model, x[:3], y[:3]), 0, (0.15, 0.2))),
        ("epsilon_explorer: ε (FGSM)", _update(epsilon_explorer(model, x, y), 0, (0.05, 0.06))),
        ("epsilon_explorer: ε (PGD, 20 steps)",
         _update(epsilon_explorer(model, x, y, attack="PGD (20 steps)"), 0, (0.05, 0.06))),
        ("lrp_explorer: rule (6 images)",
         _update(lrp_explorer(model, x, y), 0, ("composite ε-γ-zᴮ", "LRP-ε (ε = 0.25)"))),
        ("defense_explorer: strength (128 images, median)",
         _update(defense_explorer(model, x, y, eps=0.05), 1, (3, 5))),
        ("defense_explorer: strength (128 images, JPEG)",
         _update(defense_explorer(model, x, y, eps=0.05, name="JPEG (quality)"), 1, (50, 60))),
    ]
    return [measure(f"widget update — {name}", move, device=device) for name, move in cases]


def run(device: torch.device) -> list[Timing]:
    return run_certify(device) + run_inference(device) + run_widgets(device)


NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
# The kernel's peak resident memory in KiB. Linux's VmHWM belongs to the kernel's own address space; its
# ru_maxrss would not do: it keeps the high-water mark of the process that forked the kernel (this one).
PEAK = """import resource, sys
try:
    print(next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM")))
except OSError:  # no /proc (macOS): ru_maxrss, in bytes there
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // (1024 if sys.platform == "darwin" else 1))
"""


def run_notebooks() -> list[tuple[str, float, float]]:
    """(name, seconds, peak MiB of the kernel) for every notebook, each in a fresh kernel on the CPU."""
    import os

    from helpers.course.execute import execute_node

    os.environ["HELPERS_DEVICE"] = "cpu"
    rows = []
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        nb.cells.append(nbformat.v4.new_code_cell(PEAK))
        seconds = execute_node(nb, NOTEBOOKS, timeout=900)
        peak_kib = int(nb.cells[-1].outputs[0]["text"].strip())
        rows.append((path.name, seconds, peak_kib / 1024))
        print(f"{path.name}: {seconds:.1f} s, peak {peak_kib / 1024:.0f} MiB", flush=True)
    return rows


def notebook_table(rows: list[tuple[str, float, float]]) -> list[str]:
    total = sum(seconds for _, seconds, _ in rows)
    lines = ["| notebook | time | kernel's peak memory |", "|---|---:|---:|"]
    lines += [f"| {name} | {seconds:.1f} s | {peak:.0f} MiB |" for name, seconds, peak in rows]
    peak = max(p for *_, p in rows)
    lines.append(f"| **all {len(rows)}** | **{total / 60:.1f} min** | max {peak:.0f} MiB |")
    return lines


if __name__ == "__main__":
    import sys

    if "--notebooks" in sys.argv:
        print("\n".join(notebook_table(run_notebooks())))
    else:
        from benchmarks.harness import cli

        cli(run, __doc__, "plain loop")
