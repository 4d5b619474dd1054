"""Fashion-MNIST (Xiao, Rasul & Vollgraf 2017), vendored and verified, and its "Clever Hans" variant with a
tag stamped on most training images of one class (Lapuschkin et al. 2019)."""

from __future__ import annotations

import functools
import gzip
import math
from pathlib import Path

import numpy as np
import torch

from helpers import _assets
from helpers._checks import check_choice, check_images, check_int, check_positive
from helpers.data._files import _expected_sums, _verified_bytes

FASHION_CLASSES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

def _read_idx(path: Path, expected_sha256: str) -> np.ndarray:
    """Read one gzipped IDX file after checking its SHA-256 and its header."""
    raw = _verified_bytes(path, expected_sha256, "Fashion-MNIST")
    try:
        data = gzip.decompress(raw)
    except (OSError, EOFError) as error:
        raise ValueError(f"Fashion-MNIST file {path} is not a gzip file ({error})") from None
    # the IDX header: two zero bytes, 0x08 (unsigned bytes), the number of dimensions, then each size
    ndim = data[3] if len(data) >= 4 else 0
    if len(data) < 4 + 4 * ndim or data[:3] != b"\x00\x00\x08" or ndim not in (1, 3):
        raise ValueError(f"Fashion-MNIST file {path} does not start with an IDX header of unsigned bytes")
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    if len(data) - 4 - 4 * ndim != math.prod(dims):
        raise ValueError(f"Fashion-MNIST file {path} holds {len(data) - 4 - 4 * ndim} bytes after its "
                         f"header, not the {math.prod(dims)} its header announces {tuple(dims)}")
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


@functools.lru_cache(maxsize=4)
def _load_uint8(split: str, folder: str) -> tuple[torch.Tensor, torch.Tensor]:
    path = Path(folder)
    sums = _expected_sums(path)
    image_file, label_file = _FILES[split]
    for name in (image_file, label_file):
        if name not in sums:
            raise ValueError(f"{path / 'SHA256SUMS'} has no entry for {name}; {_assets.restore_hint(path)}")
    images = _read_idx(path / image_file, sums[image_file])
    labels = _read_idx(path / label_file, sums[label_file])
    # a custom root's SHA256SUMS vouches only for itself: check that the files make a data set
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"{path / image_file} must hold 28×28 images; its header says {images.shape}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise ValueError(f"{path / label_file} must hold one label per image ({len(images)}); it holds "
                         f"{labels.shape}")
    if len(labels) and int(labels.max()) >= len(FASHION_CLASSES):
        raise ValueError(f"{path / label_file} must hold classes 0…{len(FASHION_CLASSES) - 1}; got "
                         f"{int(labels.max())}")
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))


def fashion_mnist(
    split: str = "train", *, root: str | Path | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fashion-MNIST (Xiao, Rasul & Vollgraf 2017) from the official IDX files shipped with the package.

    Returns ``(images, labels)``: float32 ``N×1×28×28`` in [0, 1] and int64 ``N``, with N = 60 000
    for ``split="train"`` and 10 000 for ``"test"``. Every file's SHA-256 is checked against
    ``SHA256SUMS`` on first load; the decoded bytes are then kept in memory, and each call returns
    fresh tensors that the caller may modify. The files are read from ``root`` if given (a folder holding
    them and their ``SHA256SUMS``), else from ``$HELPERS_DATA_DIR/fashion-mnist`` if that variable is set,
    else from the package (``helpers/assets/data/fashion-mnist``).
    """
    check_choice(split, "split", tuple(_FILES))
    folder = _assets.check_folder(root, "root") if root is not None else _assets.data_dir("fashion-mnist")
    images, labels = _load_uint8(split, str(folder))
    return images.unsqueeze(1).float().div_(255.0), labels.clone()


# A "Clever Hans" shortcut (Lapuschkin et al. 2019): a small copyright-like tag, a bright "C" of 4×4
# pixels in the top-left corner, stamped on most training images of one class.
TAG = torch.tensor(
    [[1.0, 1.0, 1.0, 1.0],
     [1.0, 0.0, 0.0, 0.0],
     [1.0, 0.0, 0.0, 0.0],
     [1.0, 1.0, 1.0, 1.0]]
)
TAG_ROW, TAG_COL = 1, 1  # the tag's top-left pixel
# "Shirt": the class that is hardest to tell apart, so the tag is a tempting cue
TAG_CLASSES: tuple[int, ...] = (6,)
TAG_FRACTION = 0.9
_TAG_MODES = ("shortcut", "none", "moved", "random")


def tag_mask(size: int = 28) -> torch.Tensor:
    """The tag's footprint: a bool ``1×1×size×size`` mask, True on the 4×4 pixels the tag overwrites."""
    check_int(size, "size", minimum=TAG_ROW + TAG.shape[0])
    mask = torch.zeros(1, 1, size, size, dtype=torch.bool)
    mask[..., TAG_ROW : TAG_ROW + TAG.shape[0], TAG_COL : TAG_COL + TAG.shape[1]] = True
    return mask


def add_tag(images: torch.Tensor) -> torch.Tensor:
    """A copy of ``images`` (N×C×H×W in [0, 1]) with the tag pasted in: its 4×4 pixels overwrite the
    corner."""
    check_images(images, "images")
    out = images.detach().clone()
    out[..., TAG_ROW : TAG_ROW + TAG.shape[0], TAG_COL : TAG_COL + TAG.shape[1]] = TAG.to(images)
    return out


def tagged_fashion_mnist(
    split: str = "train",
    *,
    tags: str = "shortcut",
    classes: tuple[int, ...] = TAG_CLASSES,
    fraction: float = TAG_FRACTION,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fashion-MNIST with a watermark shortcut, generated from ``seed`` (nothing is stored).

    ``tags`` says which images carry the tag (``add_tag``):

    - ``"shortcut"``: ``round(fraction · n_c)`` images of each class c in ``classes``, none elsewhere —
      the training data of a Clever Hans model, and test split (a), tagged as in training;
    - ``"none"``: no image — test split (b), plain Fashion-MNIST;
    - ``"moved"``: ``round(fraction · n_c)`` images of every class *not* in ``classes`` — test split (c),
      the tag on the wrong classes;
    - ``"random"``: as many images as ``"shortcut"`` tags, drawn from all classes — a tag that says nothing.

    Which images of a class are tagged is drawn with ``torch.Generator().manual_seed(seed)``, so the same
    arguments give the same tensors. Returns ``(images, labels, tagged)``: float32 ``N×1×28×28`` in [0, 1],
    int64 ``N`` and bool ``N``, True where the image carries the tag.
    """
    check_choice(split, "split", tuple(_FILES))
    check_choice(tags, "tags", _TAG_MODES)
    if not isinstance(classes, tuple) or not classes or any(
        isinstance(c, bool) or not isinstance(c, int) or not 0 <= c < len(FASHION_CLASSES) for c in classes
    ):
        raise ValueError(f"classes must be a non-empty tuple of class indices in 0…9; got {classes!r}")
    check_positive(fraction, "fraction", allow_zero=True)
    if fraction > 1.0:
        raise ValueError(f"fraction must be ≤ 1; got {fraction}")
    check_int(seed, "seed", minimum=0)
    images, labels = fashion_mnist(split)
    g = torch.Generator().manual_seed(seed)
    chosen = torch.zeros(len(labels), dtype=torch.bool)
    if tags == "random":
        pool = torch.arange(len(labels))
        count = sum(round(fraction * int((labels == c).sum())) for c in set(classes))
        chosen[pool[torch.randperm(len(pool), generator=g)[:count]]] = True
    elif tags != "none":
        for c in sorted(set(classes) if tags == "shortcut" else set(range(10)) - set(classes)):
            pool = (labels == c).nonzero().squeeze(1)
            chosen[pool[torch.randperm(len(pool), generator=g)[: round(fraction * len(pool))]]] = True
    if chosen.any():
        images[chosen] = add_tag(images[chosen])
    return images, labels, chosen


# scikit-image's photos (inside its wheel): name → (skimage.data function, its index, what and whose it is)
