"""The course's data: Fashion-MNIST (vendored, verified) and a synthetic "shapes" set with masks.

Both return images as float32 ``N×C×H×W`` tensors in [0, 1] and labels as int64 ``N``.

The data sets, one module per kind: ``fashion`` (Fashion-MNIST and its tagged "Clever Hans" variant),
``synthetic`` (the shapes), ``speech_text`` (spoken digits, words) and ``photos``; all are imported from
here.
"""

from helpers import _assets
from helpers.data.fashion import (
    FASHION_CLASSES,
    TAG,
    TAG_CLASSES,
    TAG_FRACTION,
    add_tag,
    fashion_mnist,
    tag_mask,
    tagged_fashion_mnist,
)
from helpers.data.photos import PHOTOS, photo
from helpers.data.speech_text import LANGUAGES, SAMPLE_RATE, SPOKEN_DIGITS, spoken_digits, words
from helpers.data.synthetic import SHAPE_CLASSES, shapes, shapes_split

DATA_DIR = _assets.DATA_ROOT  # helpers/assets/data, or $HELPERS_DATA_DIR (see helpers/_assets.py)

__all__ = [
    "DATA_DIR",
    "FASHION_CLASSES",
    "SHAPE_CLASSES",
    "TAG",
    "TAG_CLASSES",
    "TAG_FRACTION",
    "add_tag",
    "fashion_mnist",
    "shapes",
    "shapes_split",
    "SPOKEN_DIGITS",
    "SAMPLE_RATE",
    "LANGUAGES",
    "spoken_digits",
    "words",
    "tag_mask",
    "tagged_fashion_mnist",
    "PHOTOS",
    "photo",
]
