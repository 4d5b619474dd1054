"""The code is ruff-clean: the library, the tests, the benchmarks, the scripts and the notebooks' code cells
(the paths and the rules of `make lint`, configured in pyproject.toml)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PATHS = ["helpers", "tests", "benchmarks", "scripts", "notebooks"]


def test_make_lint_checks_these_paths():
    lint = re.search(r"^lint:.*\n\t(.*)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert lint and lint.group(1).split()[-len(PATHS):] == PATHS, "make lint and this test: the same paths"


def test_ruff_finds_nothing():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", *PATHS], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, f"ruff check {' '.join(PATHS)}:\n{result.stdout}{result.stderr}"
