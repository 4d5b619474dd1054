"""Side-by-side timing: interleaved repetitions after a warm-up, median and min–max, ratio ours ÷ theirs."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass
class Timing:
    name: str
    ours: list[float]
    theirs: list[float] | None = None  # None: nothing to compare with (a widget update, say)

    @property
    def ratio(self) -> float:
        return statistics.median(self.ours) / statistics.median(self.theirs) if self.theirs else float("nan")

    def row(self) -> str:
        def cell(times: list[float] | None) -> str:
            if not times:
                return "—"
            return f"{1e3 * statistics.median(times):8.1f} ms ({1e3 * min(times):.1f}–{1e3 * max(times):.1f})"

        ratio = f"{self.ratio:.2f}" if self.theirs else "—"
        return f"| {self.name} | {cell(self.ours)} | {cell(self.theirs)} | {ratio} |"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn: Callable[[], object], device: torch.device) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def compare(name: str, ours: Callable[[], object], theirs: Callable[[], object], *, device: torch.device,
            repeats: int | None = None, warmup: int = 2, budget: float = 3.0) -> Timing:
    """Time ``ours`` and ``theirs`` alternately, in the order ABBA ABBA … (so that drifts in machine load,
    and whatever the function run just before leaves in the caches and the allocator, hit both alike).
    Without ``repeats``, as many (even, 6 to 40) as fit in about ``budget`` seconds a side, so that quick
    calls get more repetitions and their medians steady."""
    for _ in range(warmup - 1):
        ours()
        theirs()
    slowest = max(_timed(ours, device), _timed(theirs, device))  # the last warm-up, timed
    if repeats is None:
        repeats = 2 * min(20, max(3, round(budget / slowest / 2)))
    times_ours, times_theirs = [], []
    pair = ((ours, times_ours), (theirs, times_theirs))
    for repeat in range(repeats):
        for fn, times in pair if repeat % 2 == 0 else pair[::-1]:
            times.append(_timed(fn, device))
    return Timing(name, times_ours, times_theirs)


def measure(name: str, fn: Callable[[], object], *, device: torch.device, repeats: int = 7,
            warmup: int = 1) -> Timing:
    """Time ``fn`` alone (for what has no counterpart in the peer libraries)."""
    for _ in range(warmup):
        fn()
    return Timing(name, [_timed(fn, device) for _ in range(repeats)])


def check_close(name: str, ours: torch.Tensor, theirs: torch.Tensor, rtol: float) -> None:
    """Refuse to time two functions that do not compute the same thing."""
    error = float((ours - theirs).norm() / theirs.norm().clamp_min(1e-30))
    if error > rtol:
        raise AssertionError(f"{name}: outputs differ (relative error {error:.2e} > {rtol:g}); not timing it")


def cli(run: Callable[[torch.device], list[Timing]], doc: str, theirs: str) -> None:
    """The command line of one benchmark module: ``--device``, then its table."""
    import argparse

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    device = torch.device(parser.parse_args().device)
    print(f"device {device}, torch threads {torch.get_num_threads()}\n")
    print(HEADER.replace("theirs", theirs))
    for timing in run(device):
        print(timing.row())


HEADER = "| what | ours: median (min–max) | theirs: median (min–max) | ours ÷ theirs |\n|---|---:|---:|---:|"
