"""The spoken digits and the word lists: vendored, checksummed, loaded in the tensor contract."""

import hashlib
from collections import Counter

import pytest
import torch

from helpers.data import DATA_DIR, LANGUAGES, SAMPLE_RATE, SPOKEN_DIGITS, spoken_digits, words
from helpers.text import ALPHABET, decode, encode
from tests.conftest import data_copy_of


def _sums(folder):
    pairs = (line.split() for line in (folder / "SHA256SUMS").read_text().splitlines() if line.strip())
    return {name: digest for digest, name in pairs}


@pytest.mark.parametrize("folder, files", [
    ("spoken-digits", {"spoken_digits.npz"}),
    ("words", {"english.txt", "spanish.txt", "dutch.txt"}),
])
def test_files_match_their_checksums_and_carry_a_licence(folder, files):
    path = DATA_DIR / folder
    sums = _sums(path)
    assert set(sums) == files
    for name, digest in sums.items():
        assert hashlib.sha256((path / name).read_bytes()).hexdigest() == digest
    assert "licen" in (path / "NOTICE").read_text().lower()


@pytest.mark.parametrize("split, n", [("train", 320), ("test", 160)])
def test_spoken_digits_shapes_dtypes_and_range(split, n):
    x, y = spoken_digits(split)
    assert x.shape == (n, SAMPLE_RATE) and x.dtype == torch.float32
    assert y.shape == (n,) and y.dtype == torch.int64
    assert -1.0 <= float(x.min()) and float(x.max()) <= 1.0
    assert torch.bincount(y, minlength=10).tolist() == [n // 10] * 10  # balanced
    assert len(SPOKEN_DIGITS) == 10


def test_spoken_digits_every_setting_speaks_every_digit_once():
    seen = Counter()
    for split in ("train", "test"):
        _, y, settings = spoken_digits(split, with_settings=True)
        assert len(settings) == len(y)
        assert {s[2] for s in settings} == ({165} if split == "test" else {130, 200})
        seen.update(zip(settings, y.tolist()))
    assert len(seen) == 48 * 10 and set(seen.values()) == {1}  # 4 accents × 2 voices × 3 speeds × 2 pitches
    accents = {s[0] for s, _ in seen}
    assert accents == {"en-us", "en-gb", "en-gb-scotland", "en-029"}


def test_spoken_digits_clips_are_speech_plus_light_noise():
    x, _ = spoken_digits("test")
    peaks = x.abs().amax(1)
    # scaled to a peak in [0.3, 0.9] plus noise
    assert float(peaks.min()) > 0.25 and float(peaks.max()) < 0.95
    quietest = x.unfold(1, 400, 400).square().mean(2).sqrt().amin(1)  # the quietest 50 ms of each clip
    assert float(quietest.max()) < 0.004  # silence around the word is only the light noise (σ = 0.002)


def test_spoken_digits_returns_fresh_tensors():
    x, y = spoken_digits("train")
    x.zero_()
    y.zero_()
    x2, y2 = spoken_digits("train")
    assert float(x2.abs().max()) > 0 and int(y2.max()) == 9


@pytest.mark.parametrize("split, n", [("train", 9600), ("test", 2400)])
def test_words_shapes_and_balance(split, n):
    tokens, y = words(split)
    assert tokens.shape == (n, 12) and tokens.dtype == torch.int64
    assert y.dtype == torch.int64 and torch.bincount(y).tolist() == [n // 3] * 3
    assert 0 <= int(tokens.min()) and int(tokens.max()) < len(ALPHABET)
    assert (tokens[:, 0] != 0).all() and (tokens[:, 2] != 0).all()  # every word has at least 3 letters


def test_words_splits_are_disjoint_and_decode_to_the_files():
    train, _ = words("train", as_strings=True)
    test, labels = words("test", as_strings=True)
    assert not set(train) & set(test)
    english = set((DATA_DIR / "words" / "english.txt").read_text(encoding="utf-8").split())
    assert all(w in english for w, lang in zip(test, labels.tolist()) if lang == LANGUAGES.index("english"))
    assert decode(words("test")[0][:50]) == test[:50]


def test_encode_rejects_foreign_letters():
    with pytest.raises(ValueError, match=r"words\[1\] = 'straße' must have 1–12 letters"):
        encode(["strasse", "straße"])
    with pytest.raises(TypeError, match="words must be a list of strings"):
        encode("word")


@pytest.fixture
def words_copy(tmp_path):
    return data_copy_of("words", tmp_path)


def test_corrupted_word_list_is_named(words_copy):
    path = words_copy / "dutch.txt"
    path.write_text(path.read_text(encoding="utf-8") + "extra\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"words file dutch\.txt is corrupted.*put the file back"):
        words("test", root=words_copy)


def test_corrupted_clips_are_named(tmp_path):
    folder = data_copy_of("spoken-digits", tmp_path)
    raw = bytearray((folder / "spoken_digits.npz").read_bytes())
    raw[5000] ^= 0xFF
    (folder / "spoken_digits.npz").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"spoken_digits\.npz is corrupted.*put the file back"):
        spoken_digits("test", root=folder)
