"""The vendored files of a data set, read only after their SHA-256 matches the folder's ``SHA256SUMS``."""

from __future__ import annotations

import hashlib
from pathlib import Path

from helpers import _assets
from helpers._checks import read_sums


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
