"""``make bench``: every benchmark in one process, written to benchmarks/RESULTS.md with the machine's description.

    python -m benchmarks.run [--device cpu|cuda] [--no-notebooks]

On the CPU, and on the GPU too where one is present (unless ``--device`` names one); then the notebook
suite (on the CPU, as ``make test`` runs it).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
from pathlib import Path

import torch

from benchmarks import bench_attacks, bench_course, bench_explain
from benchmarks.harness import HEADER


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
    return (f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} with {torch.get_num_threads()} threads, "
            f"GPU: {gpu}, Python {platform.python_version()}")


def _section(device: torch.device) -> list[str]:
    return [
        f"## Attribution on `{device}` (vs Captum and Zennit)",
        "",
        HEADER.replace("theirs", "Captum / Zennit"),
        *(t.row() for t in bench_explain.run(device)),
        "",
        f"## Attacks on `{device}` (vs torchattacks, and PGD vs the bare loop of its forward and backward passes)",
        "",
        HEADER.replace("theirs", "torchattacks / bare loop"),
        *(t.row() for t in bench_attacks.run(device)),
        "",
        f"## Certification and widgets on `{device}`",
        "",
        HEADER.replace("theirs", "plain loop"),
        *(t.row() for t in bench_course.run(device)),
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cpu, and cuda where present)")
    parser.add_argument("--no-notebooks", dest="notebooks", action="store_false", help="skip the notebook suite")
    args = parser.parse_args()
    devices = ([torch.device(args.device)] if args.device else
               [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else []))
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` on {datetime.date.today().isoformat()}: {machine()}.",
        "Each row: the same model (`fmnist_cnn`, or `fmnist_cnn_noise` for certification), the same 64 test images",
        "and the same settings for both sides, outputs checked equal (or successful) first; warm-up runs, then",
        "interleaved repetitions; median and min–max. A ratio below 1 means ours is faster.",
        "",
    ]
    for device in devices:
        lines += _section(device)
    if args.notebooks:
        lines += ["## The notebook suite (CPU, each in a fresh kernel)", "",
                  *bench_course.notebook_table(bench_course.run_notebooks()), ""]
    path = Path(__file__).resolve().parent / "RESULTS.md"
    path.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
