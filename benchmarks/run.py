"""``make bench``: every benchmark in one process, written to benchmarks/RESULTS.md with the machine's
description.

    python -m benchmarks.run [--device cpu|cuda] [--no-notebooks]

On the CPU, and on the GPU too where one is present (unless ``--device`` names one); then the notebook
suite (on the CPU, as ``make test`` runs it).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
from pathlib import Path

import torch

from benchmarks import bench_attacks, bench_course, bench_explain, bench_faces
from benchmarks.harness import HEADER, Timing


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return (f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} with {torch.get_num_threads()} "
            f"threads, GPU: {gpu}, Python {platform.python_version()}")


def _section(device: torch.device) -> tuple[list[str], list[Timing]]:
    explain, attacks, course = bench_explain.run(device), bench_attacks.run(device), bench_course.run(device)
    face = bench_faces.run(device)
    lines = [
        f"## Attribution on `{device}` (vs Captum and Zennit)",
        "",
        HEADER.replace("theirs", "Captum / Zennit"),
        *(t.row() for t in explain),
        "",
        f"## Attacks on `{device}` "
        "(vs torchattacks, and PGD vs the bare loop of its forward and backward passes)",
        "",
        HEADER.replace("theirs", "torchattacks / bare loop"),
        *(t.row() for t in attacks),
        "",
        f"## Certification, inference and widgets on `{device}`",
        "",
        HEADER.replace("theirs", "plain loop / chunks of 1 000"),
        *(t.row() for t in course),
        "",
        f"## The face detector of notebook 08c on `{device}` (timed alone)",
        "",
        HEADER.replace("theirs", "—"),
        *(t.row() for t in face),
        "",
    ]
    return lines, explain + attacks + course + face


def _ms(seconds: float) -> str:
    return f"{1e3 * seconds:.1f} ms"


def verdict(device: torch.device, timings: list[Timing]) -> list[str]:
    """The course's speed targets, each checked against this run's measurements."""
    bare = next(t for t in timings if t.name.startswith("pgd vs a bare loop"))
    # the bare loop is a limit: its own target below
    others = [t for t in timings if t.theirs and t is not bare]
    lines = [f"### Against the targets, on `{device}`", ""]

    def line(met: bool | str, text: str) -> None:
        lines.append(f"- {met if isinstance(met, str) else 'met' if met else '**not met**'}: {text}")

    def overlap(t: Timing) -> bool:
        return min(t.ours) <= max(t.theirs) and min(t.theirs) <= max(t.ours)

    def gap(t: Timing) -> str:
        ranges = ": the ranges overlap" if overlap(t) else ""
        return (f"{t.name} {t.ratio:.2f} (ours {_ms(min(t.ours))}–{_ms(max(t.ours))}, "
                f"theirs {_ms(min(t.theirs))}–{_ms(max(t.theirs))}{ranges})")

    slower = [t for t in others if t.ratio > 1.0]
    if not slower:
        status = True
    else:
        status = "met within the noise" if all(map(overlap, slower)) else False
    line(status, "every ratio against Captum, Zennit, torchattacks, the plain certification loop and "
         "inference in chunks of 1 000 ≤ 1.0"
         + ("" if not slower else " — above 1.0: " + "; ".join(map(gap, slower))))
    if isinstance(status, str):
        lines.append("  (within the noise: for each of these the min–max ranges of the two sides overlap — "
                     "the difference of the medians is smaller than this machine's spread from one run to "
                     "the next)")
    for t in timings:
        if t.name.startswith("lrp"):
            line(t.ratio <= 0.8, f"{t.name}: ≤ 0.8 of Zennit's time — {t.ratio:.2f}")
    line(bare.ratio <= 1.10,
         f"PGD's overhead over the bare loop ≤ 10 % — {100 * (bare.ratio - 1):+.1f} %")
    fool = next(t for t in timings if t.name.startswith("deepfool"))
    line(fool.ratio <= 0.1,
         f"DeepFool ≥ 10× faster than torchattacks' per-image loop — {1 / fool.ratio:.1f}×")
    widgets = [t for t in timings if t.name.startswith("widget update")]
    slowest = max(widgets, key=lambda t: statistics.median(t.ours))
    line(statistics.median(slowest.ours) < 0.3,
         f"one explorer update < 300 ms — the slowest, {slowest.name[len('widget update — '):]}, "
         f"{_ms(statistics.median(slowest.ours))}")
    checks = next(t for t in timings if t.name == bench_attacks.CONTRACT_ROW)
    lines += ["", "Every public function checks its arguments before it starts "
              f"({_ms(statistics.median(checks.ours))} here: the row *{checks.name}*), a fixed cost that the "
              "peer libraries do not pay and that shows only where a whole call is one forward and one "
              "backward pass (fgsm, saliency)."]
    return lines + [""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None,
                        help="cpu or cuda (default: cpu, and cuda where present)")
    parser.add_argument("--no-notebooks", dest="notebooks", action="store_false",
                        help="skip the notebook suite")
    args = parser.parse_args()
    devices = ([torch.device(args.device)] if args.device else
               [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else []))
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` on {datetime.date.today().isoformat()}: {machine()}.",
        "Each row: the same model (`fmnist_cnn`, or `fmnist_cnn_noise` for certification), "
        "the same 64 test images",
        "and the same settings for both sides, outputs checked equal (or successful) first; "
        "warm-up runs, then",
        "interleaved repetitions; median and min–max. A ratio below 1 means ours is faster.",
        "",
    ]
    verdicts = []
    for device in devices:
        section, timings = _section(device)
        lines += section
        verdicts += verdict(device, timings)
    if args.notebooks:
        rows = bench_course.run_notebooks()
        minutes = sum(seconds for _, seconds, _ in rows) / 60
        lines += ["## The notebook suite (CPU, each in a fresh kernel)", "",
                  *bench_course.notebook_table(rows), ""]
        slowest = max(rows, key=lambda row: row[1])
        suite_met = "met" if minutes <= 8 else "**not met**"
        each_met = "met" if slowest[1] <= 90 else "**not met**"
        verdicts += ["### The notebook suite", "",
                     f"- {suite_met}: the whole suite ≤ 8 minutes on the CPU — {minutes:.1f} min",
                     f"- {each_met}: every notebook ≤ 90 s — the slowest, {slowest[0]}, {slowest[1]:.0f} s",
                     ""]
    lines += ["## Targets", "", *verdicts]
    path = Path(__file__).resolve().parent / "RESULTS.md"
    path.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
