"""The model zoo: small pretrained checkpoints, verified on load, each with the recipe that made it.

    python -m helpers.zoo list              # the model card
    python -m helpers.zoo train NAME|all    # reproduce checkpoints from their recipes
    python -m helpers.zoo train NAME --seed S --out PATH   # a private copy with another seed
    python -m helpers.zoo evaluate [--write]   # measure every model; --write updates MODELS.md

Checkpoints are plain state dicts loaded with ``torch.load(..., weights_only=True)``; their
SHA-256 sums live in ``SHA256SUMS`` beside them (``helpers/assets/models/``, or ``$HELPERS_MODELS_DIR``:
see ``helpers/_assets.py``) and a mismatch refuses the file.

This module loads; the rest of the zoo is one module per job: ``recipes`` (how each model is built and
trained), ``retraining`` (``retrain``: run a recipe), ``evaluation`` (``evaluate``: measure a model),
``card`` (``model_card``: MODELS.md) and ``__main__`` (the command line).
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
from pathlib import Path

import torch
from torch import nn

from helpers import _assets
from helpers._checks import check_device, read_sums
from helpers.runtime import device as default_device
from helpers.zoo.recipes import RECIPES, Recipe

MODELS_DIR = _assets.models_dir()  # helpers/assets/models, or $HELPERS_MODELS_DIR


def names() -> list[str]:
    """The names of the zoo's models."""
    return list(RECIPES)


def _recipe(name: object) -> Recipe:
    """The recipe of zoo model ``name``; an unknown name is refused, listing the known ones."""
    if not isinstance(name, str) or name not in RECIPES:
        raise ValueError(f"name: unknown zoo model {name!r}; known models: {', '.join(RECIPES)}")
    return RECIPES[name]


def checkpoint_path(name: str) -> Path:
    """Where zoo model ``name``'s checkpoint is: ``MODELS_DIR/NAME.pt``."""
    return MODELS_DIR / f"{_recipe(name).name}.pt"


def _sums_file() -> Path:
    return MODELS_DIR / "SHA256SUMS"


def _read_sums() -> dict[str, str]:
    """The checkpoints' SHA-256 sums, {file name: digest} (empty while there is no SHA256SUMS)."""
    return read_sums(_sums_file()) if _sums_file().is_file() else {}


def _info_file() -> Path:
    return MODELS_DIR / "zoo.json"


def _read_info() -> dict[str, dict]:
    """zoo.json: per model, how long its training took and what ``evaluate`` measured."""
    return json.loads(_info_file().read_text()) if _info_file().is_file() else {}


def _write_info(info: dict[str, dict]) -> None:
    _info_file().write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")


def load(name: str, device: str | torch.device | None = None) -> nn.Module:
    """The pretrained zoo model ``name`` in eval mode, on ``device`` (default: ``runtime.device()``).

    The checkpoint's SHA-256 must match the zoo's ``SHA256SUMS``; a tampered or truncated file is
    refused. Each call returns a fresh model that the caller may change freely.
    """
    recipe = _recipe(name)
    device = check_device(device)
    path = checkpoint_path(name)
    restore = f"{_assets.restore_hint(path)}; or rebuild it with `python -m helpers.zoo train {name}`"
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} for zoo model {name!r} is missing; {restore}")
    raw = path.read_bytes()
    expected = _read_sums().get(path.name)
    if expected is None:
        raise ValueError(f"{_sums_file()} has no entry for {path.name}; {restore}")
    digest = hashlib.sha256(raw).hexdigest()
    if digest != expected:
        raise ValueError(
            f"checkpoint {path.name} is corrupted or was modified: SHA-256 {digest[:12]}… does not "
            f"match {expected[:12]}… in {_sums_file()}; {restore}"
        )
    try:
        state = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
        model = recipe.build()
        model.load_state_dict(state)
    except (pickle.UnpicklingError, RuntimeError, EOFError, KeyError, TypeError) as error:
        # torch's own message would advise weights_only=False, which would run whatever code the file holds
        raise ValueError(
            f"checkpoint {path.name} is not a state dict of {recipe.build.__name__}() that can be "
            f"loaded safely ({type(error).__name__}); {restore}"
        ) from None
    return model.to(default_device() if device is None else device).eval()


__all__ = ["MODELS_DIR", "RECIPES", "Recipe", "checkpoint_path", "load", "names"]
