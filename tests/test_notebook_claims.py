"""Prose stays true of the outputs: every measured number in a notebook's Markdown is printed by its code.

A number in a Markdown cell — a decimal such as ``0.531`` or a percentage such as ``67 %`` — must be
accounted for by the same notebook: printed in some output (to the precision the prose gives: ``0.53``
is accounted for by a printed ``0.5312``, ``85 %`` by ``0.8506``), or written in a code cell, where it is
a parameter the code sets (``eps=0.05``). What is neither must be on the short allow-list below: values
of the theory, not measurements. Whole numbers (lecture numbers, years, image counts, "3 bits") are
not checked; the assertions in the notebooks guard the qualitative claims.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))

# Values that are theory, not measurement: no output needs to print them.
ALLOWED = {
    "0.5",  # one half: probabilities, grey, the midpoint of [0, 1]
    "1.0",  # the unit of pixel values and correlations
    "0.0",
}
# Per notebook: constants of the library that the prose quotes, not measurements.
ALLOWED_IN = {
    "03_layerwise_relevance_propagation": {"0.353", "0.81"},  # Normalize's σ, and (0 − μ)/σ for a black pixel
    "08_real_world_attacks": {"1.1", "1.2"},  # random_transforms' scale 0.9–1.1, brightness 0.8–1.2
    "10_proactive_defenses": {"0.53"},  # the certificate's cap σΦ⁻¹(α^(1/n)) for σ = 0.25, n = 400, α = 0.001
}

# A decimal with a digit after the point, or a number followed by a percent sign.
NUMBER = re.compile(r"(?<![\w.])(\d+\.\d+|\d+(?:\.\d+)?\s?%)")
# Not prose: links, image data, HTML tags and colour codes.
SKIP = re.compile(r"\]\([^)]*\)|<[^>]+>|#[0-9a-fA-F]{3,8}\b|arXiv:\d+\.\d+|\d+\.\d+\.\d+")
OUTPUT_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def _text(cell_outputs: list[dict]) -> str:
    parts = []
    for out in cell_outputs:
        if "text" in out:
            parts.append("".join(out["text"]))
        data = out.get("data", {})
        for kind in ("text/plain", "text/html", "text/markdown"):
            if kind in data:
                parts.append("".join(data[kind]))
    return "\n".join(parts)


def _numbers(text: str) -> list[float]:
    return [float(m) for m in OUTPUT_NUMBER.findall(text)]


def _in_code(digits: str, code: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(digits)}(?![\d])", code) is not None


def _accounted(token: str, printed: list[float], code: str, allowed: set[str]) -> bool:
    percent = token.endswith("%")
    digits = token.rstrip("%").strip()
    value = float(digits)
    if digits in allowed or _in_code(digits, code) or (percent and _in_code(f"{value / 100:g}", code)):
        return True
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    tolerance = 0.5 * 10.0 ** -decimals + 1e-9
    scales = (100.0, 1.0) if percent else (1.0,)  # a percentage may be printed as 0.67 or as 67 %
    return any(abs(p * scale - value) <= tolerance for p in printed for scale in scales)


def unaccounted(path: Path) -> list[str]:
    """The Markdown numbers of the notebook at ``path`` that no output prints and no code cell sets."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    printed = _numbers("\n".join(_text(c.get("outputs", [])) for c in cells if c["cell_type"] == "code"))
    missing = []
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        prose = SKIP.sub(" ", "".join(cell["source"]))
        for token in NUMBER.findall(prose):
            if not _accounted(token, printed, code, ALLOWED | ALLOWED_IN.get(path.stem, set())):
                missing.append(f"cell {index}: {token}")
    return missing


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_number_in_the_prose_is_printed(path: Path) -> None:
    missing = unaccounted(path)
    assert not missing, f"{path.name}: numbers in Markdown that no output prints: {missing}"


def test_the_check_can_fail(tmp_path: Path) -> None:
    notebook = {
        "cells": [
            {"cell_type": "code", "source": ["eps = 0.05\n", "print(0.5312)"],
             "outputs": [{"output_type": "stream", "name": "stdout", "text": ["0.5312\n"]}]},
            {"cell_type": "markdown", "source": ["At ε = 0.05 it scores 0.53 (53 %), not 0.62 or 70 %."]},
        ]
    }
    path = tmp_path / "claims.ipynb"
    path.write_text(json.dumps(notebook), encoding="utf-8")
    assert unaccounted(path) == ["cell 1: 0.62", "cell 1: 70 %"]
