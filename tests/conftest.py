"""Shared fixtures: tiny models and images for fast tests, and the devices to run on."""

from __future__ import annotations

import json
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


# ------------------------------------------------------------------------------- make test's scheduling
# `make test` runs pytest-xdist workers, one per core. A test file or a notebook is one unit of work, given
# whole to one worker (nbval needs a notebook's cells in one kernel, and a file's module fixtures are built
# once), except that each student-version run (test_student_versions.py) is a unit of its own. Units go out
# longest first, so that no worker is left with a long one while the others idle. Their lengths are those
# of a measured `make test` run, written to tests/timings.json by scripts/record_test_timings.py; a unit
# not listed is short. A stale figure only costs time, never a result.
TIMINGS = Path(__file__).with_name("timings.json")
SECONDS: dict[str, float] = json.loads(TIMINGS.read_text())["seconds"] if TIMINGS.exists() else {}
# the units that execute whole notebooks, in a kernel, nbgrader or JupyterLab: `make quick` leaves them out
STUDENT_RUNS = "tests/test_student_versions.py::test_student_version_"
NOTEBOOK_RUNS = ("notebooks/", STUDENT_RUNS, "tests/test_browser.py", "tests/test_nbgrader.py",
                 "tests/test_readme.py")


def unit_of(nodeid: str) -> str:
    """The unit a test belongs to: its file or notebook, or ``student/NAME`` for a student-version run."""
    if nodeid.startswith(STUDENT_RUNS):
        return "student/" + nodeid.rsplit("[", 1)[-1].rstrip("]")
    return nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(config, items):
    """Longest unit first (a stable sort: a file's or a notebook's items keep their order); the units
    that run notebooks are marked ``notebooks``."""
    items.sort(key=lambda item: -SECONDS.get(unit_of(item.nodeid), 0))
    for item in items:
        if item.nodeid.startswith(NOTEBOOK_RUNS):
            item.add_marker(pytest.mark.notebooks)


def pytest_configure(config):
    if config.pluginmanager.hasplugin("xdist"):  # absent, or `-p no:xdist`: the suite runs in one process
        config.pluginmanager.register(_Scheduling(), "course-scheduling")


class _Scheduling:
    """The xdist hook, registered only where xdist runs (pytest refuses a hook it does not know)."""

    @staticmethod
    def pytest_xdist_make_scheduler(config, log):
        if config.getoption("dist") not in ("loadfile", "loadscope"):
            return None  # another --dist asked for on the command line: xdist's own
        from xdist.scheduler import LoadScopeScheduling

        class LongestFirst(LoadScopeScheduling):
            """xdist's load-by-scope scheduling, with our units, handed out in the collection's order."""

            def _split_scope(self, nodeid: str) -> str:
                return unit_of(nodeid)

        config.option.loadscopereorder = False  # xdist would sort the units by their number of tests
        return LongestFirst(config, log)
