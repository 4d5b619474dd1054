"""The face detector of notebook 08c: one detection and one step of the adversarial glasses.

    python -m benchmarks.bench_faces [--device cpu|cuda]

Nothing in the peer libraries does the glasses step, and ``tests/test_faces.py`` already checks the detector
against facenet-pytorch's numbers, so these rows are timed alone.
"""

from __future__ import annotations

import torch

from benchmarks.harness import cli, measure
from helpers import data, faces
from helpers.attacks import glasses


def run(device: torch.device) -> list:
    nets = faces.mtcnn(device=device)
    photo = data.photo("astronaut")[None].to(device)
    frame, (top, bottom, left, right) = glasses.astronaut_glasses()
    scene = photo[:, :, top:bottom, left:right]
    (found,) = faces.detect(scene, networks=nets)
    mask = glasses.glasses_mask(found.boxes[0], *scene.shape[2:]).to(device)
    h, w = photo.shape[2:]
    return [
        measure(f"faces.detect, the {h}×{w} astronaut photo", lambda: faces.detect(photo, networks=nets),
                device=device, repeats=5),
        measure(f"adversarial_glasses, one step (4 camera changes of the {bottom - top}×{right - left} "
                "scene)",
                lambda: glasses.adversarial_glasses(scene, mask, steps=1,
                                                    generator=torch.Generator().manual_seed(0)),
                device=device, repeats=3),
    ]


if __name__ == "__main__":
    cli(run, __doc__, "—")
