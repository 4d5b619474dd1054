"""Speech and text: the ten digits spoken by eSpeak NG (waveforms) and words of three languages (character
indices), vendored and verified."""

from __future__ import annotations

import functools
import io
from pathlib import Path

import numpy as np
import torch

from helpers import _assets
from helpers._checks import check_choice
from helpers.data._files import _expected_sums, _verified_bytes

SPOKEN_DIGITS: tuple[str, ...] = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"
)
SAMPLE_RATE = 8000
SPOKEN_TEST_SPEED = 165  # the clips spoken at 165 words per minute are the test split
LANGUAGES: tuple[str, ...] = ("english", "spanish", "dutch")




@functools.lru_cache(maxsize=2)
def _spoken_digits_arrays(folder: str) -> dict[str, np.ndarray]:
    path = Path(folder)
    sums = _expected_sums(path)
    name = "spoken_digits.npz"
    if name not in sums:
        raise ValueError(f"{path / 'SHA256SUMS'} has no entry for {name}; {_assets.restore_hint(path)}")
    raw = _verified_bytes(path / name, sums[name], "spoken-digits")
    with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


def spoken_digits(
    split: str = "train", *, root: str | Path | None = None, with_settings: bool = False
) -> tuple[torch.Tensor, ...]:
    """The ten digits spoken by the eSpeak NG synthesiser (``helpers/assets/data/spoken-digits``, made by
    ``scripts/make_spoken_digits.py``): 1 s clips at 8 kHz, 4 accents × 2 voices × 3 speeds × 2 pitches
    per digit. The clips spoken at 165 words per minute are the ``"test"`` split (160 clips), the others
    (130 and 200 wpm) the ``"train"`` split (320 clips) — the test speed is never heard in training.

    Returns ``(waveforms, labels)``: float32 ``N×8000`` in [−1, 1] and int64 ``N`` (the digit); with
    ``with_settings=True`` also ``settings``, a list of ``(accent, variant, speed, pitch)`` per clip. The
    file's SHA-256 is checked on first load; each call returns fresh tensors.
    """
    check_choice(split, "split", ("train", "test"))
    if not isinstance(with_settings, bool):
        raise TypeError(f"with_settings must be a bool; got {type(with_settings).__name__}")
    folder = _assets.check_folder(root, "root") if root is not None else _assets.data_dir("spoken-digits")
    arrays = _spoken_digits_arrays(str(folder.resolve()))
    table = [(str(a), str(v), int(s), int(p)) for a, v, s, p in arrays["settings"].tolist()]
    settings = [table[i] for i in arrays["setting"].tolist()]
    keep = np.array([(s[2] == SPOKEN_TEST_SPEED) == (split == "test") for s in settings])
    waveforms = torch.from_numpy(arrays["audio"][keep].astype(np.float32) / 32768.0)
    labels = torch.from_numpy(arrays["label"][keep].astype(np.int64))
    if with_settings:
        return waveforms, labels, [s for s, k in zip(settings, keep) if k]
    return waveforms, labels


@functools.lru_cache(maxsize=2)
def _word_lists(folder: str) -> dict[str, list[str]]:
    path = Path(folder)
    sums = _expected_sums(path)
    lists = {}
    for language in LANGUAGES:
        name = f"{language}.txt"
        if name not in sums:
            raise ValueError(f"{path / 'SHA256SUMS'} has no entry for {name}; {_assets.restore_hint(path)}")
        lists[language] = _verified_bytes(path / name, sums[name], "words").decode("utf-8").split()
    return lists


def words(
    split: str = "train", *, root: str | Path | None = None, as_strings: bool = False
) -> tuple[torch.Tensor | list[str], torch.Tensor]:
    """Words of three languages (``LANGUAGES``: English, Spanish, Dutch; 4 000 each) from Debian's word
    lists (``helpers/assets/data/words``, made by ``scripts/make_words.py``; licences in its ``NOTICE``).

    A fixed shuffle (seed 0) puts 80 % of each language in ``"train"`` (9 600 words) and 20 % in ``"test"``
    (2 400). Returns ``(tokens, labels)``: int64 ``N×12`` character indices (``helpers.text.encode``) and
    int64 ``N`` (the language); with ``as_strings=True`` the words themselves instead of the tokens.
    """
    from helpers.text import encode

    check_choice(split, "split", ("train", "test"))
    if not isinstance(as_strings, bool):
        raise TypeError(f"as_strings must be a bool; got {type(as_strings).__name__}")
    folder = _assets.check_folder(root, "root") if root is not None else _assets.data_dir("words")
    chosen, labels = [], []
    for language, word_list in _word_lists(str(folder.resolve())).items():
        order = torch.randperm(len(word_list), generator=torch.Generator().manual_seed(0)).tolist()
        cut = int(0.8 * len(word_list))
        part = order[:cut] if split == "train" else order[cut:]
        chosen += [word_list[i] for i in part]
        labels += [LANGUAGES.index(language)] * len(part)
    return (chosen if as_strings else encode(chosen)), torch.tensor(labels, dtype=torch.int64)
