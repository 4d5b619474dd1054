"""The course's data: Fashion-MNIST (vendored, verified) and a synthetic "shapes" set with masks.

Both return images as float32 ``N×C×H×W`` tensors in [0, 1] and labels as int64 ``N``.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import math
from pathlib import Path

import numpy as np
import torch

from helpers import _assets
from helpers._checks import check_choice, check_images, check_int, check_positive, read_sums

DATA_DIR = _assets.DATA_ROOT  # helpers/assets/data, or $HELPERS_DATA_DIR (see helpers/_assets.py)

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

SHAPE_CLASSES: tuple[str, ...] = ("square", "circle", "triangle", "cross")

_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def _expected_sums(folder: Path) -> dict[str, str]:
    sums_file = folder / "SHA256SUMS"
    if not sums_file.is_file():
        raise FileNotFoundError(f"{sums_file} is missing; {_assets.restore_hint(folder)}")
    return read_sums(sums_file)


def _verified_bytes(path: Path, expected_sha256: str, what: str) -> bytes:
    """The bytes of ``path`` after checking their SHA-256 against the expected sum."""
    if not path.is_file():
        raise FileNotFoundError(
            f"{what} file {path.name} is missing from {path.parent}; {_assets.restore_hint(path)}"
        )
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != expected_sha256:
        raise ValueError(
            f"{what} file {path.name} is corrupted: SHA-256 {digest[:12]}… does not match "
            f"{expected_sha256[:12]}… in SHA256SUMS; {_assets.restore_hint(path)}"
        )
    return raw


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


def _segment_distance(px: torch.Tensor, py: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
    """Distance from pixel centres (px, py) to segments ``ends`` = N×4 (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = (ends[:, i, None, None] for i in range(4))
    dx, dy = x1 - x0, y1 - y0
    t = (((px - x0) * dx + (py - y0) * dy) / (dx * dx + dy * dy).clamp_min(1e-6)).clamp(0, 1)
    return torch.hypot(px - (x0 + t * dx), py - (y0 + t * dy))


def shapes(
    n: int, *, size: int = 32, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A synthetic colour data set whose class is decided by one object, with its exact mask.

    Each image has a dark, noisy background, two thin line segments as distractors (they appear in
    every class, so they carry no class information) and, drawn last, one filled object: a square,
    circle, triangle or cross (``SHAPE_CLASSES``) of random position, size and bright colour.

    Returns ``(images, labels, masks)``: float32 ``N×3×size×size`` in [0, 1], int64 ``N`` and bool
    ``N×1×size×size`` marking exactly the class object's pixels. The same ``seed`` gives the same
    tensors; it exists so the course can *measure* whether an explanation points at the right pixels.
    """
    check_int(n, "n", minimum=1)
    check_int(size, "size", minimum=16)
    check_int(seed, "seed", minimum=0)
    g = torch.Generator().manual_seed(seed)

    def uniform(*shape: int, low: float = 0.0, high: float = 1.0) -> torch.Tensor:
        return low + (high - low) * torch.rand(*shape, generator=g)

    labels = torch.randint(len(SHAPE_CLASSES), (n,), generator=g)
    radius = uniform(n, low=0.14, high=0.24) * size  # half the object's extent, in pixels
    centre = uniform(n, 2) * (size - 2 * radius[:, None] - 2) + radius[:, None] + 1
    background = uniform(n, 3, 1, 1, high=0.3)
    object_colour = uniform(n, 3, 1, 1, low=0.55, high=1.0)
    line_colour = uniform(n, 2, 3, 1, 1, low=0.3, high=1.0)
    line_ends = uniform(n, 2, 4) * (size - 1)
    noise = uniform(n, 3, size, size, low=-0.05, high=0.05)

    coords = torch.arange(size, dtype=torch.float32)
    py, px = coords[:, None], coords[None, :]
    dx = px - centre[:, 0, None, None]
    dy = py - centre[:, 1, None, None]
    r = radius[:, None, None]
    bar = r / 3
    candidates = torch.stack(
        [
            (dx.abs() <= r) & (dy.abs() <= r),  # square
            dx**2 + dy**2 <= r**2,  # circle
            (dy.abs() <= r) & (dx.abs() <= (dy + r) / 2),  # triangle, apex up
            ((dx.abs() <= r) & (dy.abs() <= bar)) | ((dx.abs() <= bar) & (dy.abs() <= r)),  # cross
        ],
        dim=1,
    )
    masks = candidates[torch.arange(n), labels].unsqueeze(1)

    images = background + noise
    for k in range(2):  # two distractor lines per image (a loop over 2 lines, not over images)
        on_line = (_segment_distance(px, py, line_ends[:, k]) <= 0.6).unsqueeze(1)
        images = torch.where(on_line, line_colour[:, k], images)
    images = torch.where(masks, object_colour, images).clamp(0.0, 1.0)
    return images.contiguous(), labels, masks.contiguous()


def shapes_split(split: str, n: int | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The course's fixed shapes splits: ``"train"`` (seed 0, 20 000 images) and ``"test"``
    (seed 1, 2 000 images) — disjoint seeds, so the test images are never seen in training."""
    check_choice(split, "split", ("train", "test"))
    default, seed = (20_000, 0) if split == "train" else (2_000, 1)
    return shapes(default if n is None else n, seed=seed)


SPOKEN_DIGITS: tuple[str, ...] = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"
)
SAMPLE_RATE = 8000
SPOKEN_TEST_SPEED = 165  # the clips spoken at 165 words per minute are the test split
LANGUAGES: tuple[str, ...] = ("english", "spanish", "dutch")




@functools.lru_cache(maxsize=2)
def _spoken_digits_arrays(folder: str) -> dict[str, np.ndarray]:
    path = Path(folder)
    sums = _expected_sums(path)
    name = "spoken_digits.npz"
    if name not in sums:
        raise ValueError(f"{path / 'SHA256SUMS'} has no entry for {name}; {_assets.restore_hint(path)}")
    raw = _verified_bytes(path / name, sums[name], "spoken-digits")
    with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


def spoken_digits(
    split: str = "train", *, root: str | Path | None = None, with_settings: bool = False
) -> tuple[torch.Tensor, ...]:
    """The ten digits spoken by the eSpeak NG synthesiser (``helpers/assets/data/spoken-digits``, made by
    ``scripts/make_spoken_digits.py``): 1 s clips at 8 kHz, 4 accents × 2 voices × 3 speeds × 2 pitches
    per digit. The clips spoken at 165 words per minute are the ``"test"`` split (160 clips), the others
    (130 and 200 wpm) the ``"train"`` split (320 clips) — the test speed is never heard in training.

    Returns ``(waveforms, labels)``: float32 ``N×8000`` in [−1, 1] and int64 ``N`` (the digit); with
    ``with_settings=True`` also ``settings``, a list of ``(accent, variant, speed, pitch)`` per clip. The
    file's SHA-256 is checked on first load; each call returns fresh tensors.
    """
    check_choice(split, "split", ("train", "test"))
    if not isinstance(with_settings, bool):
        raise TypeError(f"with_settings must be a bool; got {type(with_settings).__name__}")
    folder = _assets.check_folder(root, "root") if root is not None else _assets.data_dir("spoken-digits")
    arrays = _spoken_digits_arrays(str(folder.resolve()))
    table = [(str(a), str(v), int(s), int(p)) for a, v, s, p in arrays["settings"].tolist()]
    settings = [table[i] for i in arrays["setting"].tolist()]
    keep = np.array([(s[2] == SPOKEN_TEST_SPEED) == (split == "test") for s in settings])
    waveforms = torch.from_numpy(arrays["audio"][keep].astype(np.float32) / 32768.0)
    labels = torch.from_numpy(arrays["label"][keep].astype(np.int64))
    if with_settings:
        return waveforms, labels, [s for s, k in zip(settings, keep) if k]
    return waveforms, labels


@functools.lru_cache(maxsize=2)
def _word_lists(folder: str) -> dict[str, list[str]]:
    path = Path(folder)
    sums = _expected_sums(path)
    lists = {}
    for language in LANGUAGES:
        name = f"{language}.txt"
        if name not in sums:
            raise ValueError(f"{path / 'SHA256SUMS'} has no entry for {name}; {_assets.restore_hint(path)}")
        lists[language] = _verified_bytes(path / name, sums[name], "words").decode("utf-8").split()
    return lists


def words(
    split: str = "train", *, root: str | Path | None = None, as_strings: bool = False
) -> tuple[torch.Tensor | list[str], torch.Tensor]:
    """Words of three languages (``LANGUAGES``: English, Spanish, Dutch; 4 000 each) from Debian's word
    lists (``helpers/assets/data/words``, made by ``scripts/make_words.py``; licences in its ``NOTICE``).

    A fixed shuffle (seed 0) puts 80 % of each language in ``"train"`` (9 600 words) and 20 % in ``"test"``
    (2 400). Returns ``(tokens, labels)``: int64 ``N×12`` character indices (``helpers.text.encode``) and
    int64 ``N`` (the language); with ``as_strings=True`` the words themselves instead of the tokens.
    """
    from helpers.text import encode

    check_choice(split, "split", ("train", "test"))
    if not isinstance(as_strings, bool):
        raise TypeError(f"as_strings must be a bool; got {type(as_strings).__name__}")
    folder = _assets.check_folder(root, "root") if root is not None else _assets.data_dir("words")
    chosen, labels = [], []
    for language, word_list in _word_lists(str(folder.resolve())).items():
        order = torch.randperm(len(word_list), generator=torch.Generator().manual_seed(0)).tolist()
        cut = int(0.8 * len(word_list))
        part = order[:cut] if split == "train" else order[cut:]
        chosen += [word_list[i] for i in part]
        labels += [LANGUAGES.index(language)] * len(part)
    return (chosen if as_strings else encode(chosen)), torch.tensor(labels, dtype=torch.int64)


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
