import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers.data import DATA_DIR, FASHION_CLASSES, SHAPE_CLASSES, fashion_mnist, shapes, shapes_split
from tests.conftest import data_copy_of


@pytest.mark.parametrize("split, n", [("train", 60_000), ("test", 10_000)])
def test_fashion_mnist_shapes_and_range(split, n):
    x, y = fashion_mnist(split)
    assert x.shape == (n, 1, 28, 28) and x.dtype == torch.float32
    assert y.shape == (n,) and y.dtype == torch.int64
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    assert set(y.unique().tolist()) == set(range(len(FASHION_CLASSES)))
    # the official test split is balanced: 1 000 images per class
    if split == "test":
        assert torch.bincount(y).tolist() == [1000] * 10


def test_fashion_mnist_known_pixels():
    """The first training image is an ankle boot; its decoded bytes match the IDX header layout."""
    x, y = fashion_mnist("train")
    assert FASHION_CLASSES[int(y[0])] == "Ankle boot"
    assert abs(float(x.mean()) - 0.2860) < 1e-3 and abs(float(x.std()) - 0.3530) < 1e-3


def test_fashion_mnist_returns_fresh_tensors():
    x1, y1 = fashion_mnist("test")
    x1.zero_()
    y1.zero_()
    x2, y2 = fashion_mnist("test")
    assert float(x2.max()) > 0 and int(y2.max()) == 9


def test_unknown_split():
    with pytest.raises(ValueError, match="split must be one of 'train', 'test'; got 'validation'"):
        fashion_mnist("validation")


@pytest.fixture
def data_copy(tmp_path):
    return data_copy_of("fashion-mnist", tmp_path)


def test_corrupted_file_is_named(data_copy):
    target = data_copy / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(target.read_bytes())
    raw[100] ^= 0xFF
    target.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"t10k-labels-idx1-ubyte\.gz is corrupted.*put the file back"):
        fashion_mnist("test", root=data_copy)


def test_missing_file_is_named(data_copy):
    (data_copy / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match=r"t10k-images-idx3-ubyte\.gz is missing"):
        fashion_mnist("test", root=data_copy)


def test_a_damaged_file_in_the_checkout_is_restored_with_git():
    from helpers import _assets

    hint = _assets.restore_hint(DATA_DIR / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz")
    path = "helpers/assets/data/fashion-mnist/t10k-labels-idx1-ubyte.gz"
    assert hint.startswith(f"restore it with `git checkout -- {path}`")


@pytest.mark.parametrize("make_root, error, message", [
    (lambda tmp: tmp / "nowhere", FileNotFoundError, "root names .*nowhere, which does not exist"),
    (lambda tmp: tmp / "file.txt", NotADirectoryError, "root names .*file.txt, which is a file, not a"),
    (lambda tmp: tmp, FileNotFoundError, "root names .*, which has no SHA256SUMS file"),
    (lambda tmp: 3, TypeError, "root must be a path"),
])
def test_bad_root_is_named(tmp_path, make_root, error, message):
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(error, match=message):
        fashion_mnist("test", root=make_root(tmp_path))


def _idx(array, path: Path) -> None:
    """Write ``array`` as a gzipped IDX file of unsigned bytes (Fashion-MNIST's format)."""
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    path.write_bytes(gzip.compress(header + array.tobytes(), mtime=0))


def _sums(folder: Path) -> None:
    lines = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}\n" for p in sorted(folder.glob("*.gz"))]
    (folder / "SHA256SUMS").write_text("".join(lines))


@pytest.mark.parametrize(
    "images, labels, message",
    [
        ((10, 28, 28), [200, 255, 3], "one label per image"),
        ((3, 28, 28), [200, 255, 3], "classes 0…9"),
        ((3, 20, 20), [1, 2, 3], "28×28"),
    ],
)
def test_a_custom_fashion_mnist_root_is_checked_for_consistency(tmp_path, images, labels, message):
    """A root's own SHA256SUMS vouches only for itself: counts, label range and image size are checked."""
    _idx(np.zeros(images), tmp_path / "t10k-images-idx3-ubyte.gz")
    _idx(labels, tmp_path / "t10k-labels-idx1-ubyte.gz")
    _sums(tmp_path)
    with pytest.raises(ValueError, match=message):
        fashion_mnist("test", root=tmp_path)


def test_a_file_without_an_idx_header_is_refused(tmp_path):
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"not an idx file at all", mtime=0))
    _idx([1, 2], tmp_path / "t10k-labels-idx1-ubyte.gz")
    _sums(tmp_path)
    with pytest.raises(ValueError, match="IDX header"):
        fashion_mnist("test", root=tmp_path)


def test_shapes_contract():
    x, y, m = shapes(64, size=32, seed=3)
    assert x.shape == (64, 3, 32, 32) and x.dtype == torch.float32
    assert y.shape == (64,) and y.dtype == torch.int64
    assert m.shape == (64, 1, 32, 32) and m.dtype == torch.bool
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    assert set(y.tolist()) <= set(range(len(SHAPE_CLASSES)))
    assert (m.flatten(1).sum(1) > 10).all(), "every image has a visible class object"


def test_shapes_deterministic_per_seed():
    a = shapes(50, seed=7)
    b = shapes(50, seed=7)
    c = shapes(50, seed=8)
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert not torch.equal(a[0], c[0])


def test_shapes_mask_marks_the_object_colour():
    """Inside the mask every pixel has the object's single colour; the object is drawn last."""
    x, _, m = shapes(32, seed=1)
    for i in range(4):
        inside = x[i][:, m[i, 0]]
        assert torch.allclose(inside, inside[:, :1].expand_as(inside))
        assert float(inside.mean()) >= 0.55 - 1e-6  # objects are bright


def test_shapes_classes_balanced_and_object_decides_the_class():
    x, y, m = shapes(4000, seed=0)
    counts = torch.bincount(y, minlength=4)
    assert (counts > 900).all()
    # shape statistics differ by class: a cross fills less of its bounding box than a square
    fill = m.flatten(1).float().sum(1)
    assert fill[y == 3].mean() < fill[y == 0].mean()


def test_shapes_split_disjoint_seeds():
    xtr, _, _ = shapes_split("train", 10)
    xte, _, _ = shapes_split("test", 10)
    assert not torch.equal(xtr, xte)


@pytest.mark.parametrize("kwargs, message", [
    ({"n": 0}, "n must be ≥ 1"),
    ({"n": 4, "size": 8}, "size must be ≥ 16"),
    ({"n": 4, "seed": -1}, "seed must be ≥ 0"),
    ({"n": 2.5}, "n must be an int"),
])
def test_shapes_bad_input(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        shapes(**kwargs)


# --- the Clever Hans shortcut: tagged Fashion-MNIST (issue 20) ---------------------------------------------

from helpers.data import TAG, TAG_CLASSES, add_tag, tag_mask, tagged_fashion_mnist  # noqa: E402


def _carries_tag(x: torch.Tensor) -> torch.Tensor:
    return (x[:, 0, 1:5, 1:5] == TAG).flatten(1).all(1)


@pytest.mark.parametrize("split", ["train", "test"])
def test_tagged_split_composition_and_exact_placement(split):
    plain, labels = fashion_mnist(split)
    x, y, tagged = tagged_fashion_mnist(split, seed=3)
    assert torch.equal(y, labels) and x.dtype == torch.float32 and tagged.dtype == torch.bool
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    per_class = torch.bincount(labels, minlength=10)
    assert TAG_CLASSES == (6,)
    assert torch.bincount(y[tagged], minlength=10).tolist() == [
        round(0.9 * int(per_class[c])) if c == 6 else 0 for c in range(10)]
    # the tag is exactly TAG at rows 1-4, columns 1-4 of every tagged image; nothing else changed
    assert _carries_tag(x[tagged]).all()
    outside = ~tag_mask()
    assert torch.equal(x[:, outside[0]], plain[:, outside[0]])
    assert torch.equal(x[~tagged], plain[~tagged])


def test_tagged_test_splits_a_b_c():
    plain, labels = fashion_mnist("test")
    _, _, a = tagged_fashion_mnist("test", tags="shortcut")
    xb, _, b = tagged_fashion_mnist("test", tags="none")
    xc, _, c = tagged_fashion_mnist("test", tags="moved")
    assert int(a.sum()) == 900 and (labels[a] == 6).all()
    assert not b.any() and torch.equal(xb, plain)
    assert torch.bincount(labels[c], minlength=10).tolist() == [900] * 6 + [0] + [900] * 3
    assert _carries_tag(xc[c]).all()


def test_tagged_is_deterministic_and_the_seed_matters():
    x1, _, t1 = tagged_fashion_mnist("test", seed=1)
    x2, _, t2 = tagged_fashion_mnist("test", seed=1)
    _, _, t3 = tagged_fashion_mnist("test", seed=2)
    assert torch.equal(x1, x2) and torch.equal(t1, t2)
    assert not torch.equal(t1, t3) and int(t1.sum()) == int(t3.sum())


def test_random_tags_are_spread_over_the_classes():
    _, y, tagged = tagged_fashion_mnist("train", tags="random", seed=0)
    assert int(tagged.sum()) == 5400
    assert (torch.bincount(y[tagged], minlength=10) > 400).all()


def test_two_tagged_classes_and_fraction():
    _, y, tagged = tagged_fashion_mnist("test", classes=(0, 9), fraction=0.5)
    assert torch.bincount(y[tagged], minlength=10).tolist() == [500] + [0] * 8 + [500]


def test_tag_helpers():
    mask = tag_mask()
    assert mask.shape == (1, 1, 28, 28) and int(mask.sum()) == 16 and mask[0, 0, 1:5, 1:5].all()
    x = torch.full((2, 1, 28, 28), 0.5)
    tagged = add_tag(x)
    assert float(x.max()) == 0.5  # the input is untouched
    assert _carries_tag(tagged).all() and torch.equal(tagged[:, :, ~mask[0, 0]], x[:, :, ~mask[0, 0]])


@pytest.mark.parametrize("kwargs, message", [
    ({"tags": "all"}, "tags must be one of"),
    ({"classes": (10,)}, "classes must be a non-empty tuple"),
    ({"classes": ()}, "classes must be a non-empty tuple"),
    ({"fraction": 1.5}, "fraction must be ≤ 1"),
    ({"fraction": float("nan")}, "fraction must be ≥ 0"),
    ({"seed": -1}, "seed must be ≥ 0"),
])
def test_tagged_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tagged_fashion_mnist("test", **kwargs)
