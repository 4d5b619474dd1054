"""Generate helpers/assets/data/spoken-digits/: the ten English digits spoken by the eSpeak NG synthesiser.

Run once by the maintainers (students load the committed file with ``helpers.data.spoken_digits``):

    apt-get install espeak-ng            # Debian / Ubuntu; the script calls the `espeak-ng` program
    python scripts/make_spoken_digits.py

Every digit is spoken in every *setting*: 4 accents × 2 voice variants (male, female) × 3 speeds × 2 pitches
= 48 settings, so 480 clips. Each clip is trimmed of silence, resampled from eSpeak's 22 050 Hz to 8 kHz,
scaled to a random peak in [0.3, 0.9], placed at a random offset in a 1 s window, and given light white
noise (σ = 0.002); then stored as 16-bit integers. The randomness comes from a fixed seed, so the output
is the same on every run with the same eSpeak NG version (1.51 made the committed file).
"""

from __future__ import annotations

import hashlib
import io
import itertools
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-029")
VARIANTS = ("m3", "f2")
SPEEDS = (130, 165, 200)  # words per minute
PITCHES = (35, 65)  # eSpeak's 0–99 scale
RATE = 8000
LENGTH = RATE  # 1 s
NOISE = 0.002
OUT = Path(__file__).resolve().parent.parent / "helpers" / "assets" / "data" / "spoken-digits"


def speak(word: str, voice: str, speed: int, pitch: int) -> np.ndarray:
    """eSpeak NG's waveform for ``word`` as float64 in [-1, 1] at 8 kHz, leading and trailing silence cut."""
    with tempfile.NamedTemporaryFile(suffix=".wav") as f:
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", f.name, word],
                       check=True, capture_output=True)
        with wave.open(f.name) as w:
            rate, raw = w.getframerate(), w.readframes(w.getnframes())
    x = np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768.0
    loud = np.flatnonzero(np.abs(x) > 0.01 * np.abs(x).max())
    x = x[loud[0] : loud[-1] + 1]
    return resample_poly(x, RATE, rate)  # 22 050 → 8 000 Hz with an anti-aliasing filter


def main() -> int:
    rng = np.random.default_rng(2018)
    settings = list(itertools.product(ACCENTS, VARIANTS, SPEEDS, PITCHES))
    clips, labels, setting_index = [], [], []
    for digit, word in enumerate(DIGITS):
        for s, (accent, variant, speed, pitch) in enumerate(settings):
            x = speak(word, f"{accent}+{variant}", speed, pitch)
            if len(x) > LENGTH:
                raise RuntimeError(f"{word!r} by {accent}+{variant} at {speed} wpm lasts "
                                   f"{len(x) / RATE:.2f} s > 1 s")
            clip = np.zeros(LENGTH)
            offset = rng.integers(0, LENGTH - len(x) + 1)
            clip[offset : offset + len(x)] = x / np.abs(x).max() * rng.uniform(0.3, 0.9)
            clip += NOISE * rng.standard_normal(LENGTH)
            clips.append(np.clip(np.round(clip * 32767), -32768, 32767).astype(np.int16))
            labels.append(digit)
            setting_index.append(s)
    table = np.array(settings, dtype=[("accent", "U16"), ("variant", "U4"), ("speed", "i2"), ("pitch", "i2")])
    buffer = io.BytesIO()
    np.savez_compressed(buffer, audio=np.stack(clips), label=np.array(labels, dtype=np.int8),
                        setting=np.array(setting_index, dtype=np.int8), settings=table)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "spoken_digits.npz").write_bytes(buffer.getvalue())
    digest = hashlib.sha256(buffer.getvalue()).hexdigest()
    (OUT / "SHA256SUMS").write_text(f"{digest}  spoken_digits.npz\n")
    print(f"wrote {len(clips)} clips ({len(buffer.getvalue()) / 1e6:.1f} MB) to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
