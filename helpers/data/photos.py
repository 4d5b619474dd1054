"""Photos for the real-world notebooks: scikit-image's, which ship inside its wheel."""

from __future__ import annotations

import numpy as np
import torch

from helpers._checks import check_choice

# scikit-image's photos (inside its wheel): name → (skimage.data function, its index, what and whose it is)
PHOTOS: dict[str, tuple[str, int | None, str]] = {
    "astronaut": ("astronaut", None, "Eileen Collins, NASA portrait; public domain"),
    "camera": ("camera", None, "a cameraman (grey); CC0, Lav Varshney"),
    "chelsea": ("chelsea", None, "Chelsea the cat; CC0, Stefan van der Walt"),
    "coffee": ("coffee", None, "a coffee cup; CC0, Rachel Michetti"),
    "rocket": ("rocket", None, "DSCOVR's launch on Falcon 9; SpaceX, public domain"),
    "motorcycle_left": ("stereo_motorcycle", 0, "left image of Middlebury 2014's stereo pair 'motorcycle' "
                        "(Scharstein et al. 2014); shipped by scikit-image (BSD-3-Clause), no licence of its "
                        "own"),
}


def photo(name: str) -> torch.Tensor:
    """scikit-image's photo ``name`` (a key of ``PHOTOS``; what it shows and its licence are the value) as a
    float32 ``3×H×W`` tensor in [0, 1]. A grey photo ("camera") has its one channel repeated three times.

    The photos ship inside scikit-image's wheel (``skimage.data``), so nothing is downloaded.
    """
    function, index, _ = PHOTOS[check_choice(name, "name", tuple(PHOTOS))]
    from skimage import data as skimage_data  # imported here: a second or so, only for the photos

    image = getattr(skimage_data, function)()
    image = np.asarray(image if index is None else image[index])
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    return torch.from_numpy(np.ascontiguousarray(image[..., :3])).permute(2, 0, 1).float().div(255)
