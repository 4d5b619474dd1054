"""Compute tests/data/mtcnn_reference.json: what facenet-pytorch's own MTCNN detects in scikit-image's photos.

Run once by the maintainers, in a throw-away environment (facenet-pytorch pins torch < 2.3 in its metadata
and its cascade fails under NumPy 2, so the course never imports it; ``helpers.faces`` rebuilds the
cascade and ``tests/test_faces.py`` compares it with these numbers):

    python3 -m venv /tmp/fnp
    /tmp/fnp/bin/pip install "numpy<2" pillow scikit-image torch==2.14.1 torchvision==0.29.1
    /tmp/fnp/bin/pip install --no-deps facenet-pytorch==2.6.0
    /tmp/fnp/bin/pip install requests tqdm    # imported by facenet_pytorch/__init__.py, not by MTCNN
    /tmp/fnp/bin/python scripts/make_mtcnn_reference.py

Under torch 2.14.1 and NumPy 1.26 its code runs unchanged (pip warns that its metadata wants torchvision
0.17). Each photo goes in as its uint8 H×W×3 array, the way facenet-pytorch's documentation feeds it (a grey
photo has its one channel repeated three times), through ``MTCNN(keep_all=True).detect`` with every default:
smallest face 20 pixels, thresholds 0.6, 0.7, 0.7, pyramid factor 0.709, the largest face first.
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
import skimage
import torch
from facenet_pytorch import MTCNN
from skimage import data

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "mtcnn_reference.json"
PHOTOS = {  # name in the reference → how skimage.data gives it
    "astronaut": data.astronaut,
    "camera": data.camera,
    "chelsea": data.chelsea,
    "coffee": data.coffee,
    "rocket": data.rocket,
    "motorcycle_left": lambda: data.stereo_motorcycle()[0],
}


def rgb(image: np.ndarray) -> np.ndarray:
    """``image`` as uint8 H×W×3 (a grey photo's channel repeated)."""
    return np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image[..., :3]


def main() -> None:
    torch.set_num_threads(1)
    detector = MTCNN(keep_all=True)
    results = {}
    for name, load in PHOTOS.items():
        image = np.ascontiguousarray(rgb(load()))
        boxes, probs = detector.detect(image)
        found = boxes is not None
        results[name] = {
            "shape": list(image.shape),
            "boxes": [[float(v) for v in box] for box in boxes] if found else [],
            "probs": [float(p) for p in probs] if found else [],
        }
        print(name, image.shape, results[name]["probs"], file=sys.stderr)
    reference = {
        "made_by": "scripts/make_mtcnn_reference.py",
        "versions": {"facenet-pytorch": version("facenet-pytorch"), "torch": torch.__version__,
                     "numpy": np.__version__, "scikit-image": skimage.__version__},
        "settings": {"min_face_size": 20, "thresholds": [0.6, 0.7, 0.7], "factor": 0.709,
                     "order": "largest box first"},
        "photos": results,
    }
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(reference, indent=1) + "\n")
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
