"""繁體中文 (Taiwan) → 简体中文 (mainland usage): OpenCC's ``tw2sp`` with the course's reviewed overrides.

The zh-CN edition is never translated by hand: :func:`to_mainland` converts the zh-TW text. OpenCC
turns characters, variants and Taiwan phrases into mainland ones (程式 → 程序, 資料 → 数据); where it is
wrong for this course (黑箱 → 黑盒, 查詢 → 查询 not 查找), a phrase of ``i18n/zh_CN_overrides.tsv`` — each
row with its reason — takes precedence, the longest phrase first. Code, LaTeX, link targets, URLs and
HTML are copied as they are.
"""

from __future__ import annotations

import csv
import functools
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["I18N", "INLINE_CODE", "MATHS", "OVERRIDES", "PROTECTED", "Overrides", "TranslationError",
           "read_overrides", "to_mainland"]

I18N = Path(__file__).resolve().parent.parent.parent / "i18n"
OVERRIDES = I18N / "zh_CN_overrides.tsv"
INLINE_CODE = re.compile(r"`(?:[^`\n]|\n(?![ \t]*\n))+`")  # a code span may wrap, not span a paragraph
MATHS = re.compile(r"\$\$.+?\$\$|\$[^$\n]+\$", re.S)


class TranslationError(ValueError):
    """A notebook cell without a current translation, or a catalog or table that cannot be read."""


# Never converted: fenced code, inline code, LaTeX, link targets, bare URLs, HTML tags and comments.
PROTECTED = re.compile(rf"```.*?```|~~~.*?~~~|{INLINE_CODE.pattern}|{MATHS.pattern}|\]\([^)\s]*\)"
                       r"|https?://[^\s)>\]]+|<!--.*?-->|<[^>\n]+>", re.S)


@dataclass(frozen=True)
class Overrides:
    """The reviewed corrections to OpenCC: zh_TW phrase → zh_CN phrase, the longest phrase first."""

    table: dict[str, str]
    reasons: dict[str, str]

    @functools.cached_property
    def pattern(self) -> re.Pattern[str] | None:
        phrases = sorted(self.table, key=lambda p: (-len(p), p))
        return re.compile("|".join(map(re.escape, phrases))) if phrases else None


def read_overrides(path: Path = OVERRIDES) -> Overrides:
    """The table at ``path``: a header line, then ``zh_TW<TAB>zh_CN<TAB>reason`` rows, each one filled."""
    table, reasons = {}, {}
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    if not rows or rows[0] != ["zh_TW", "zh_CN", "reason"]:
        raise TranslationError(f"{path}: the first line must be the header zh_TW, zh_CN, reason")
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != 3 or not all(cell.strip() for cell in row):
            raise TranslationError(f"{path}, line {line}: expected zh_TW, zh_CN and a reason; got {row}")
        if row[0] in table:
            raise TranslationError(f"{path}, line {line}: {row[0]!r} is listed twice")
        table[row[0]], reasons[row[0]] = row[1], row[2]
    return Overrides(table, reasons)


@functools.cache
def _opencc():
    import opencc

    return opencc.OpenCC("tw2sp")


@functools.cache
def _default_overrides() -> Overrides:
    return read_overrides()


def to_mainland(text: str, overrides: Overrides | None = None) -> str:
    """``text`` in 繁體中文 (Taiwan) → 简体中文 (mainland usage).

    OpenCC's ``tw2sp`` (characters, variants and Taiwan → mainland phrases: 程式 → 程序, 資料 → 数据)
    converts the prose; an override phrase (``i18n/zh_CN_overrides.tsv``, longest first) takes precedence
    over it where it occurs. Code, LaTeX, URLs and HTML (``PROTECTED``) are copied untouched.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str; got {type(text).__name__}")
    if overrides is not None and not isinstance(overrides, Overrides):
        raise TypeError("overrides must be an Overrides (read_overrides()) or None; got "
                        f"{type(overrides).__name__}")
    overrides = _default_overrides() if overrides is None else overrides
    return _outside(PROTECTED, text, lambda prose: _outside(overrides.pattern, prose, _opencc().convert,
                                                            lambda phrase: overrides.table[phrase]))


def _outside(pattern: re.Pattern[str] | None, text: str, convert, keep=lambda span: span) -> str:
    """``convert`` applied to the stretches of ``text`` between matches of ``pattern``, ``keep`` to those."""
    if pattern is None:
        return convert(text) if text else text
    pieces, last = [], 0
    for match in pattern.finditer(text):
        pieces += [convert(text[last:match.start()]) if match.start() > last else "", keep(match.group(0))]
        last = match.end()
    pieces.append(convert(text[last:]) if last < len(text) else "")
    return "".join(pieces)
