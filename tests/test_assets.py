"""HELPERS_DATA_DIR and HELPERS_MODELS_DIR point the library at copies kept elsewhere, checked (issue 22).

The variables are read when helpers is imported, so each case runs in a fresh interpreter.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import _assets

ROOT = Path(__file__).resolve().parent.parent


def _python(code: str, **variables: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in (_assets.DATA_ENV, _assets.MODELS_ENV)}
    env.update(PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", HELPERS_DEVICE="cpu", **variables)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)


def test_the_package_finds_its_own_files():
    assert _assets.ASSETS_DIR == ROOT / "helpers" / "assets"
    assert _assets.data_dir("fashion-mnist") == ROOT / "helpers" / "assets" / "data" / "fashion-mnist"
    assert (_assets.models_dir() / "SHA256SUMS").is_file() and (_assets.models_dir() / "MODELS.md").is_file()


def test_data_and_models_are_read_from_the_folders_the_variables_name(tmp_path):
    data, models = tmp_path / "data", tmp_path / "models"
    shutil.copytree(_assets.ASSETS_DIR / "data" / "fashion-mnist", data / "fashion-mnist")
    shutil.copytree(_assets.ASSETS_DIR / "models", models)
    (data / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz").unlink()  # proves which folder is read
    code = (
        "from helpers import data, zoo\n"
        "print(data.DATA_DIR, zoo.MODELS_DIR, zoo.load('shapes_cnn', device='cpu').training)\n"
        "data.fashion_mnist('test')\n"
    )
    result = _python(code, HELPERS_DATA_DIR=str(data), HELPERS_MODELS_DIR=str(models))
    assert result.stdout.split() == [str(data), str(models), "False"], result.stderr
    assert f"t10k-labels-idx1-ubyte.gz is missing from {data / 'fashion-mnist'}" in result.stderr
    assert f"{data} comes from HELPERS_DATA_DIR: copy the file there again" in result.stderr
    assert "git" not in result.stderr.splitlines()[-1]


@pytest.mark.parametrize("variable, make_value, message", [
    ("HELPERS_DATA_DIR", lambda tmp: tmp / "nowhere", "HELPERS_DATA_DIR names {tmp}/nowhere, which does not"),
    ("HELPERS_DATA_DIR", lambda tmp: tmp / "file.txt", "HELPERS_DATA_DIR names {tmp}/file.txt, which is a"),
    ("HELPERS_MODELS_DIR", lambda tmp: tmp, "HELPERS_MODELS_DIR names {tmp}, which has no SHA256SUMS file"),
])
def test_a_bad_folder_is_refused_naming_the_variable(tmp_path, variable, make_value, message):
    (tmp_path / "file.txt").write_text("x")
    result = _python("import helpers._assets", **{variable: str(make_value(tmp_path))})
    assert result.returncode != 0
    assert message.format(tmp=tmp_path.resolve()) in result.stderr.splitlines()[-1], result.stderr
