"""`pip install` of the repository gives a working library from any folder (issue 22).

Builds the sdist from a copy of the source tree, the wheel from that sdist (as `python -m build` and
`pip install <repository URL>` do), installs the wheel into a fresh virtual environment and, from an
empty folder with PYTHONPATH unset, loads the data, evaluates a zoo model, runs an attack and an
attribution. Nothing is downloaded: the build uses this environment's setuptools
(`--no-build-isolation`) and `--no-index`, and the new environment reuses this one's torch.
"""

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import textwrap
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SKIP = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "release",
                              "notebooks", "benchmarks", ".ipynb_checkpoints", ".pytest_cache", ".hypothesis",
                              "*.tmp")

SMOKE = textwrap.dedent('''
    import sys
    from pathlib import Path

    import torch

    torch.set_num_threads(1)
    import helpers

    venv = Path(sys.argv[1])
    assert venv in Path(helpers.__file__).resolve().parents, f"helpers came from {helpers.__file__}"
    from helpers import _assets, attacks, defenses, explain, zoo  # every subpackage is in the wheel
    from helpers.zoo.card import model_card
    from helpers.data import fashion_mnist
    from helpers.training import accuracy

    assert venv in _assets.ASSETS_DIR.parents and _assets._CHECKOUT is None, _assets.ASSETS_DIR
    x, y = fashion_mnist("test")  # read from the package, SHA-256 checked
    assert x.shape == (10_000, 1, 28, 28) and torch.bincount(y).tolist() == [1000] * 10
    model = zoo.load("fmnist_cnn", device="cpu")
    clean = accuracy(model, x[:1000], y[:1000])
    assert clean >= 0.9, clean  # MODELS.md: 93.09 % on the whole test split
    x_adv = attacks.fgsm(model, x[:200], y[:200], eps=0.1)
    fooled = attacks.success_rate(model, x_adv, y[:200])
    assert fooled >= 0.5 and float((x_adv - x[:200]).abs().max()) <= 0.1 + 1e-6, fooled
    saliency = explain.saliency(model, x[:8], y[:8])
    assert saliency.shape == (8, 1, 28, 28) and torch.isfinite(saliency).all() and saliency.abs().sum() > 0
    assert "fmnist_cnn" in model_card() and defenses.median_filter(x[:2], size=3).shape == (2, 1, 28, 28)

    # The checks speak Chinese from the package's compiled messages, with no polib installed.
    import os
    from helpers.course import grading
    os.environ["HELPERS_LANG"] = "zh-TW"
    try:
        grading.check("saliency", 3)
    except grading.ExerciseFailed as failure:
        assert str(failure) == "saliency：請傳入函式本身，而不是 int", str(failure)
    else:
        raise AssertionError("a number passed as the answer was not refused")
    # A file missing from an installed package: the message says to reinstall, not to run git.
    (zoo.MODELS_DIR / "shapes_cnn.pt").unlink()
    try:
        zoo.load("shapes_cnn", device="cpu")
    except FileNotFoundError as error:
        message = str(error)
    else:
        raise AssertionError("a missing checkpoint was not reported")
    assert "reinstall" in message and "git" not in message, message
    print(f"OK {helpers.__file__} clean {clean:.3f} fooled {fooled:.3f}")
''')


def _run(*command, **options) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, **options)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def _package_files(names, prefix: str = "") -> set[str]:
    """The files under helpers/ in a list of archive names, relative to the archive's top."""
    return {n[len(prefix):] for n in names if n.startswith(prefix + "helpers/") and not n.endswith("/")}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(source copy, sdist, wheel) built without network from a copy of the repository."""
    tmp = tmp_path_factory.mktemp("build")
    source, dist = tmp / "source", tmp / "dist"
    shutil.copytree(ROOT, source, ignore=SKIP)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    build_sdist = f"from setuptools import build_meta; print(build_meta.build_sdist({str(dist)!r}))"
    sdist = _run(sys.executable, "-c", build_sdist, cwd=source, env=env).stdout.strip().splitlines()[-1]
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
         "-w", str(dist), str(dist / sdist), cwd=tmp, env=env)
    (wheel,) = dist.glob("helpers-*.whl")
    return source, dist / sdist, wheel


def test_sdist_and_wheel_hold_every_module_data_file_and_checkpoint(built):
    source, sdist, wheel = built
    expected = {p.relative_to(source).as_posix() for p in (source / "helpers").rglob("*") if p.is_file()}
    for folder in ("helpers/assets/data/fashion-mnist", "helpers/assets/models"):
        lines = (source / folder / "SHA256SUMS").read_text().splitlines()
        listed = [line.split()[1] for line in lines if line.strip()]
        assert listed and {f"{folder}/{name}" for name in listed} <= expected
    assert {"helpers/attacks/whitebox.py", "helpers/explain/relevance/rules.py",
            "helpers/defenses/smoothing.py", "helpers/zoo/__init__.py", "helpers/zoo/recipes.py",
            "helpers/zoo/__main__.py",
            "helpers/assets/data/fashion-mnist/COPYRIGHT", "helpers/assets/models/MODELS.md",
            "helpers/assets/models/zoo.json", "helpers/course/locale/zh_TW/LC_MESSAGES/grading.mo",
            "helpers/course/locale/zh_CN/LC_MESSAGES/grading.mo"} <= expected
    with zipfile.ZipFile(wheel) as archive:
        assert _package_files(archive.namelist()) == expected
    with tarfile.open(sdist) as archive:
        names = [member.name for member in archive.getmembers() if member.isfile()]
        assert _package_files(names, f"{sdist.name.removesuffix('.tar.gz')}/") == expected
    assert wheel.stat().st_size < 100e6


def test_readme_states_the_wheels_size(built):
    """README's figure is the wheel's measured size (to 0.5 MB: builds differ in timestamps, compression)."""
    _, _, wheel = built
    stated = re.search(r"The wheel \(`make wheel` writes it to `dist/`\) is \*\*([0-9.]+) MB\*\*",
                       (ROOT / "README.md").read_text())
    assert stated, "README's section on JupyterHub no longer states the wheel's size"
    size = wheel.stat().st_size / 1e6
    assert abs(float(stated.group(1)) - size) <= 0.5, f"README {stated.group(1)} MB, wheel {size:.1f} MB"


def test_the_installed_wheel_works_from_an_empty_folder(built, tmp_path):
    _, _, wheel = built
    venv, work = tmp_path / "venv", tmp_path / "work"
    work.mkdir()
    # pip >= 22.3 installs into another environment (--python), which spares the new one a pip of its own.
    pip_can_target = tuple(int(part) for part in version("pip").split(".")[:2]) >= (22, 3)
    _run(sys.executable, "-m", "venv", *(["--without-pip"] if pip_can_target else []), str(venv))
    python = venv / "bin" / "python"
    where = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    purelib = Path(_run(str(python), "-c", where).stdout.strip())
    # Reuse this environment's torch & co. A plain path in a .pth file is appended to sys.path after the new
    # site-packages, and the .pth files it holds (this environment's editable install of helpers) are not run.
    ours = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (purelib / "_reuse_course_env.pth").write_text("".join(f"{folder}\n" for folder in ours))
    pip = [str(python), "-m", "pip"]
    if pip_can_target:
        pip = [sys.executable, "-m", "pip", "--python", str(python)]
    _run(*pip, "install", "--no-deps", "--no-index", "-q", "--disable-pip-version-check", str(wheel))
    (work / "smoke.py").write_text(SMOKE)
    unset = ("PYTHONPATH", "HELPERS_DATA_DIR", "HELPERS_MODELS_DIR")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", HELPERS_DEVICE="cpu", PYTHONNOUSERSITE="1")
    result = _run(str(python), "smoke.py", str(venv.resolve()), cwd=work, env=env)
    assert result.stdout.startswith(f"OK {purelib / 'helpers'}"), result.stdout
