"""Shared fixtures: tiny models and images for fast tests, and the devices to run on."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from torch import nn

from helpers.models import Normalize
from tests.oracle_models import oracle_cnn, oracle_images

# One thread: the suite shares two cores with nbval's kernels, and small tensors gain nothing from more.
torch.set_num_threads(1)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def data_copy_of(name: str, tmp_path: Path) -> Path:
    """A writable copy of the vendored data set ``name`` in ``tmp_path`` (an installed package's files
    may be read-only), for tests that damage a file."""
    from helpers.data import DATA_DIR

    folder = tmp_path / name
    shutil.copytree(DATA_DIR / name, folder)
    for f in folder.iterdir():
        f.chmod(0o644)
    return folder


def tiny_cnn(channels: int = 1, classes: int = 5, seed: int = 0) -> nn.Sequential:
    """A small CNN on 12×12 images with the layers the course uses (conv, pool, dense)."""
    torch.manual_seed(seed)
    return nn.Sequential(
        Normalize((0.5,) * channels, (0.25,) * channels),
        nn.Conv2d(channels, 4, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(4 * 6 * 6, 16),
        nn.ReLU(),
        nn.Dropout(0.2),
        nn.Linear(16, classes),
    )


def tiny_batch(n: int = 6, channels: int = 1, classes: int = 5, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, channels, 12, 12, generator=g), torch.randint(classes, (n,), generator=g)


@pytest.fixture(params=DEVICES)
def device(request) -> torch.device:
    return torch.device(request.param)


@pytest.fixture(scope="module")
def model() -> nn.Module:
    """The oracle tests' CNN (``tests/oracle_models.py``), one per test module."""
    return oracle_cnn()


@pytest.fixture(scope="module")
def x() -> torch.Tensor:
    """The oracle tests' images, one batch per test module."""
    return oracle_images()

