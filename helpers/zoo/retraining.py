"""Reproduce a zoo checkpoint from its recipe (``python -m helpers.zoo train NAME``)."""

from __future__ import annotations

import hashlib
import io
import platform
import time
from pathlib import Path

import torch
from torch import nn

from helpers import zoo
from helpers._checks import check_device
from helpers.runtime import device as default_device
from helpers.runtime import seed_everything


def retrain(name: str, *, device: str | torch.device | None = None, progress: bool = True,
            seed: int | None = None, out: str | Path | None = None) -> nn.Module:
    """Train zoo model ``name`` from its recipe, save the checkpoint and record its SHA-256.

    On the CPU, with the same number of threads, the same recipe reproduces the same weights bit for
    bit (with another thread count or on another device the result is equally good, not bit-identical).
    ``seed`` replaces the recipe's seed and ``out`` writes the checkpoint to that file instead, leaving
    the zoo untouched — an instructor's private copy, such as a homework 6 black box that students
    never had.
    """
    recipe = zoo._recipe(name)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise TypeError(f"seed must be an int; got {type(seed).__name__}")
    dev = check_device(device) or default_device()
    generator = seed_everything(recipe.seed if seed is None else seed)
    model = recipe.build().to(dev)
    images, labels = recipe.data.train()
    if recipe.subset is not None:
        images, labels = images[: recipe.subset], labels[: recipe.subset]
    start = time.perf_counter()
    recipe.training(model, images, labels, recipe, epochs=recipe.epochs, lr=recipe.lr,
                    batch_size=recipe.batch_size, generator=generator, progress=progress)
    seconds = time.perf_counter() - start
    model.eval()

    buffer = io.BytesIO()
    torch.save({key: value.detach().cpu() for key, value in model.state_dict().items()}, buffer)
    if out is not None:
        Path(out).write_bytes(buffer.getvalue())
        return model
    _save(name, buffer.getvalue())
    info = zoo._read_info()
    info.setdefault(name, {})["training"] = {
        "seconds": round(seconds, 1),
        "device": str(dev) if dev.type != "cpu" else f"cpu ({torch.get_num_threads()} threads)",
        "machine": platform.machine(),
        "torch": torch.__version__,
    }
    zoo._write_info(info)
    return model


def _save(name: str, checkpoint: bytes) -> None:
    """Replace zoo model ``name``'s checkpoint (written whole, then renamed) and its line in SHA256SUMS."""
    zoo.MODELS_DIR.mkdir(exist_ok=True)
    path = zoo.checkpoint_path(name)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(checkpoint)
    tmp.replace(path)
    sums = zoo._read_sums()
    sums[path.name] = hashlib.sha256(checkpoint).hexdigest()
    zoo._sums_file().write_text("".join(f"{digest}  {file}\n" for file, digest in sorted(sums.items())))
