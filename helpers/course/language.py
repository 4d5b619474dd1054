"""The language a student reads the checks in, and the checks' messages in it (the stdlib's ``gettext``).

``grading`` writes each message as ``_("... {name} ...", name=value)``: the English template is looked up in
the catalog of the language chosen at that call, then its named placeholders are filled, so that a
translator may reorder them. A title or hint defined as data is marked with ``N_`` where it is written and
translated with ``_`` where it is shown. The language, at each call:

1. ``HELPERS_LANG`` (``en``, ``zh-TW`` / ``zh_TW``, ``zh-CN`` / ``zh_CN``) where it is set (``make lab
   LANG=zh_TW`` sets it);
2. else the notebook's path in ``JPY_SESSION_NAME``, which Jupyter Server gives a kernel it starts: one under
   ``zh-TW/`` or ``zh-CN/`` is read in that language, any other in English;
3. else the current folder (a kernel runs in its notebook's folder): under ``zh-TW/`` or ``zh-CN/``;
4. else English.

The catalog is ``i18n/zh_TW/grading.po`` (msgid: the English template; msgstr: its 繁體中文); the 简体中文 one
is derived from it by ``mainland.to_mainland``. A student's install has no polib: ``python -m
helpers.course.translation build`` compiles both (``messages``) to
``helpers/course/locale/LANG/LC_MESSAGES/grading.mo``, package data, which :func:`catalog` reads.
"""

from __future__ import annotations

import functools
import gettext
import os
import unicodedata
from pathlib import Path
from typing import Any

DOMAIN = "grading"
LOCALE = Path(__file__).resolve().parent / "locale"
FOLDERS = {"zh-TW": "zh_TW", "zh-CN": "zh_CN"}  # the course's one table: a notebook folder → its language
LANGUAGES = {"en": "en", **FOLDERS, **{lang: lang for lang in FOLDERS.values()}}  # what HELPERS_LANG takes


def _from_path(path: str) -> str:
    parts = Path(path).parts
    return next((lang for folder, lang in FOLDERS.items() if folder in parts), "en")


def current() -> str:
    """The language of the messages now: ``"en"``, ``"zh_TW"`` or ``"zh_CN"`` (see the module's docstring)."""
    chosen = os.environ.get("HELPERS_LANG", "")
    if chosen:
        if chosen not in LANGUAGES:
            raise ValueError(f"HELPERS_LANG must be one of {', '.join(LANGUAGES)}; got {chosen!r}")
        return LANGUAGES[chosen]
    session = os.environ.get("JPY_SESSION_NAME", "")
    if session:
        return _from_path(session)
    try:
        return _from_path(os.getcwd())
    except OSError:  # the current folder was removed
        return "en"


def catalog(lang: str) -> gettext.NullTranslations:
    """The compiled messages of ``lang`` (English: the templates themselves)."""
    if not isinstance(lang, str) or lang not in LANGUAGES.values():
        raise ValueError(f"lang must be one of {sorted(set(LANGUAGES.values()))}; got {lang!r}")
    return _compiled(lang)


@functools.cache
def _compiled(lang: str) -> gettext.NullTranslations:
    if lang == "en":
        return gettext.NullTranslations()
    path = LOCALE / lang / "LC_MESSAGES" / f"{DOMAIN}.mo"
    try:
        with path.open("rb") as file:
            return gettext.GNUTranslations(file)
    except OSError as error:
        raise FileNotFoundError(f"the {lang} messages {path} are missing ({error}): in a clone run "
                                "`python -m helpers.course.translation build`, else reinstall") from None


def _(template: str, **values: Any) -> str:
    """``template`` in the current language, its ``{named}`` placeholders filled with ``values`` (a template
    given no values is returned as translated, braces and all)."""
    text = catalog(current()).gettext(template) if template else template  # gettext("") is the header
    return text.format(**values) if values else text


def N_(text: str) -> str:  # noqa: N802 — gettext's name for "translate later"
    """Mark ``text`` for the catalog without translating it here; ``_(text)`` translates it where shown."""
    return text


def width(text: str) -> int:
    """The columns ``text`` takes in a monospaced font, where a CJK character takes two (for tables)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str; got {type(text).__name__}")
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


__all__ = ["DOMAIN", "FOLDERS", "LANGUAGES", "LOCALE", "N_", "_", "catalog", "current", "width"]
