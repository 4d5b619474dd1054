"""Where the course's vendored files are: the data sets and the zoo's checkpoints, found through the package.

They live inside the package, in ``helpers/assets/data/<data set>/`` and ``helpers/assets/models/``,
ship in its wheel as package data, and are located with ``importlib.resources``, so a clone, an
editable install and a plain ``pip install`` of the repository all find them. Every folder holds a
``SHA256SUMS`` against which its loader checks each file.

Two environment variables, read when ``helpers`` is first imported, point elsewhere:
``HELPERS_DATA_DIR`` names a folder laid out like ``helpers/assets/data`` (one sub-folder per data set,
e.g. ``fashion-mnist/``) and ``HELPERS_MODELS_DIR`` one laid out like ``helpers/assets/models``.

A new data set needs one line in its loader: ``folder = data_dir("its-folder-name")``.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

DATA_ENV = "HELPERS_DATA_DIR"
MODELS_ENV = "HELPERS_MODELS_DIR"
SUMS = "SHA256SUMS"

_package = files(__package__ or "helpers")
if not isinstance(_package, Path):
    raise ImportError(
        f"helpers is installed as {_package!r}, not as a folder of files; the course reads its data and "
        "models from files, so install it unpacked (pip does)"
    )
ASSETS_DIR: Path = _package.resolve() / "assets"
"""The folder inside the installed package that holds ``data/`` and ``models/``."""

# A clone (or an editable install of one): restore files with git. Anything else is an installed copy.
_CHECKOUT: Path | None = ASSETS_DIR.parent.parent if (ASSETS_DIR.parent.parent / ".git").exists() else None


def _override(variable: str, *, needs_sums: bool) -> Path | None:
    """The folder named by environment ``variable``, checked; ``None`` where it is unset or empty."""
    value = os.environ.get(variable, "").strip()
    if not value:
        return None
    return check_folder(value, variable, needs_sums=needs_sums)


def check_folder(folder: str | os.PathLike, name: str, *, needs_sums: bool = True) -> Path:
    """``folder`` as an absolute Path, after checking it is an existing directory holding ``SHA256SUMS``.

    ``name`` is what the folder was given as (an argument or an environment variable) for the error.
    """
    if not isinstance(folder, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path (str or os.PathLike); got {type(folder).__name__}")
    path = Path(folder).expanduser().resolve()
    if not path.exists():
        raise FileNotFoundError(f"{name} names {path}, which does not exist")
    if not path.is_dir():
        raise NotADirectoryError(f"{name} names {path}, which is a file, not a folder")
    if needs_sums and not (path / SUMS).is_file():
        raise FileNotFoundError(
            f"{name} names {path}, which has no {SUMS} file; the folder must hold the files together with "
            f"their {SUMS}, laid out like the package's own folders in {ASSETS_DIR}"
        )
    return path


_OVERRIDES = {  # the folders the environment names instead of the package's, checked at import
    DATA_ENV: _override(DATA_ENV, needs_sums=False),
    MODELS_ENV: _override(MODELS_ENV, needs_sums=True),
}
DATA_ROOT: Path = _OVERRIDES[DATA_ENV] or ASSETS_DIR / "data"
"""The folder holding one sub-folder per vendored data set: ``$HELPERS_DATA_DIR`` or the package's own."""
MODELS_ROOT: Path = _OVERRIDES[MODELS_ENV] or ASSETS_DIR / "models"
"""The zoo's checkpoints, SHA256SUMS, zoo.json and MODELS.md: ``$HELPERS_MODELS_DIR`` or the package's."""


def data_dir(name: str) -> Path:
    """The folder of the vendored data set ``name`` (e.g. ``"fashion-mnist"``), checked to hold SHA256SUMS."""
    folder = DATA_ROOT / name
    if not (folder / SUMS).is_file():
        raise FileNotFoundError(f"{folder / SUMS} is missing; {restore_hint(folder)}")
    return folder


def models_dir() -> Path:
    """The zoo's folder (``MODELS_ROOT``)."""
    return MODELS_ROOT


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def restore_hint(path: str | os.PathLike) -> str:
    """How to get back a missing or damaged vendored file or folder ``path``, fitting where it lives."""
    path = Path(path).resolve()
    for variable, root in _OVERRIDES.items():
        if root is not None and _inside(path, root):
            return (
                f"{root} comes from {variable}: copy the file there again (the package holds a copy in "
                f"{ASSETS_DIR}), or unset {variable} to use the package's own files"
            )
    if _inside(path, ASSETS_DIR):
        if _CHECKOUT is not None:
            relative = path.relative_to(_CHECKOUT).as_posix()
            return f"restore it with `git checkout -- {relative}` (it is part of the repository)"
        return (
            f"the installed package at {ASSETS_DIR.parent} is incomplete: reinstall it with "
            "`pip install --force-reinstall --no-deps <the wheel or repository URL it was installed from>`"
        )
    folder = path if path.is_dir() else path.parent
    return f"put the file back in {folder} (the package holds a copy in {ASSETS_DIR})"
