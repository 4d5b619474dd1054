"""Generate helpers/assets/data/words/: words of three languages from Debian's word lists, for a
language-ID task.

Run once by the maintainers (students load the committed files with ``helpers.data.words``):

    apt-get install wamerican wspanish wdutch
    python scripts/make_words.py

Only lists whose licence allows redistribution are used (see helpers/assets/data/words/NOTICE): English
(wamerican, SCOWL/Ispell: permissive), Spanish (wspanish: public domain) and Dutch (wdutch, OpenTaal: BSD
or CC BY 3.0). From each list the script keeps lower-case words of 3–12 letters written in the shared
alphabet, drops any word found in more than one list (a word the task cannot decide), and samples 4 000
per language with a fixed seed. The files are sorted, UTF-8, one word a line.
"""

from __future__ import annotations

import hashlib
import random
import sys
from pathlib import Path

SOURCES = {"english": "/usr/share/dict/american-english", "spanish": "/usr/share/dict/spanish",
           "dutch": "/usr/share/dict/dutch"}
ALPHABET = "abcdefghijklmnopqrstuvwxyzáéíñóúüäëïöè"
PER_LANGUAGE = 4000
OUT = Path(__file__).resolve().parent.parent / "helpers" / "assets" / "data" / "words"


def read(path: str) -> set[str]:
    words = set()
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        word = line.strip()
        if word == word.lower() and 3 <= len(word) <= 12 and set(word) <= set(ALPHABET):
            words.add(word)
    return words


def main() -> int:
    lists = {language: read(path) for language, path in SOURCES.items()}
    rng = random.Random(2018)
    OUT.mkdir(parents=True, exist_ok=True)
    sums = []
    for language, words in lists.items():
        others = set().union(*(w for other, w in lists.items() if other != language))
        unique = sorted(words - others)
        chosen = sorted(rng.sample(unique, PER_LANGUAGE))
        text = "\n".join(chosen) + "\n"
        (OUT / f"{language}.txt").write_text(text, encoding="utf-8")
        sums.append(f"{hashlib.sha256(text.encode()).hexdigest()}  {language}.txt\n")
        print(f"{language}: {len(words)} usable, {len(unique)} in no other list, kept {PER_LANGUAGE}")
    (OUT / "SHA256SUMS").write_text("".join(sums))
    return 0


if __name__ == "__main__":
    sys.exit(main())
