"""The grading messages' catalog: ``i18n/zh_TW/grading.po`` kept in step with the code, compiled to ``.mo``.

Every message a student reads from ``grading`` (and the titles and hints of ``exercises``) is written in the
code as ``_("template")`` or ``N_("template")`` (``language``). :func:`templates` reads them off the source
with ``ast``; the catalog has one entry per template (msgid: the English template; msgstr: its 繁體中文,
with the same ``{named}`` placeholders, which a translation may reorder, and the same numbers).
``python -m helpers.course.translation update`` brings the catalog in step (a new message gets an empty
entry, a vanished one turns obsolete), ``build`` compiles it for zh_TW and, converted by
``mainland.to_mainland``, for zh_CN into ``helpers/course/locale/LANG/LC_MESSAGES/grading.mo`` (package data,
read at run time with the stdlib's ``gettext``: students have no polib), and ``check`` names every message
without a current translation and every ``.mo`` that is not what the build writes.
"""

from __future__ import annotations

import ast
import copy
import re
import string
from pathlib import Path

import polib

from helpers.course import catalogs
from helpers.course.language import DOMAIN, FOLDERS, LOCALE
from helpers.course.mainland import I18N, to_mainland

PACKAGE = Path(__file__).resolve().parent
LANGS = tuple(FOLDERS.values())  # the catalog's language, then the one derived from it
NUMBER = re.compile(r"\d+(?:\.\d+)?")


def templates(package: Path = PACKAGE) -> dict[str, list[str]]:
    """Every message marked ``_("...")`` or ``N_("...")`` in the modules of ``package``: template → where
    (``grading.py:63``), in file and line order."""
    found = []
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("_", "N_")
                    and node.args and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)):
                found.append((path.name, node.lineno, node.args[0].value))
    out: dict[str, list[str]] = {}
    for name, line, text in sorted(found):
        out.setdefault(text, []).append(f"{name}:{line}")
    return out


def placeholders(text: str) -> list[str]:
    """The ``{named}`` fields of a template, with their conversion and format (``{got:.6g}``), sorted."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str (a message template); got {type(text).__name__}")
    return sorted(f"{{{name}{'!' + conv if conv else ''}{':' + spec if spec else ''}}}"
                  for _, name, spec, conv in string.Formatter().parse(text) if name is not None)


def catalog_path(i18n: Path = I18N) -> Path:
    return i18n / LANGS[0] / f"{DOMAIN}.po"


def mo_path(lang: str, locale: Path = LOCALE) -> Path:
    return locale / lang / "LC_MESSAGES" / f"{DOMAIN}.mo"


def update(po: polib.POFile | None, found: dict[str, list[str]]) -> polib.POFile:
    """The catalog ``po`` (``None``: none yet; not modified) in step with the templates ``found``
    (``catalogs.merge``), each entry's occurrences the files only: a line moved by an unrelated edit
    changes nothing."""
    texts = {text: [(name, "") for name in sorted({w.split(":")[0] for w in where})]
             for text, where in found.items()}
    return catalogs.merge(po, texts, catalogs.new_catalog("grading", LANGS[0]))


def problems(po: polib.POFile, found: dict[str, list[str]]) -> list[str]:
    """Every template of ``found`` without a current translation in ``po``, or whose translation lost or
    gained a placeholder or a number; one line each, naming the message and where it is."""
    entries = {e.msgid: e for e in po if not e.obsolete}
    out = []
    for text, where in found.items():
        entry, at = entries.get(text), f"{where[0]}: {text!r}"
        if entry is None or not entry.msgstr or "fuzzy" in entry.flags:
            why = ("no entry (run `update`)" if entry is None else "fuzzy" if entry.msgstr
                   else "not translated")
            out.append(f"{at}: {why}")
        elif placeholders(text) != placeholders(entry.msgstr):
            out.append(f"{at}: the placeholders {placeholders(entry.msgstr)} of its translation are not "
                       f"the English's {placeholders(text)}")
        elif sorted(NUMBER.findall(text)) != sorted(NUMBER.findall(entry.msgstr)):
            out.append(f"{at}: the numbers of its translation differ from the English's")
    return out


def compiled(po: polib.POFile, lang: str) -> bytes:
    """The ``.mo`` of the zh_TW catalog ``po`` for ``lang``: its current translations (neither empty, fuzzy
    nor obsolete: those stay English), converted by ``mainland.to_mainland`` for zh_CN."""
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}; got {lang!r}")
    out = copy.deepcopy(po)
    out.metadata["Language"] = lang
    for entry in out.translated_entries():
        entry.msgstr = to_mainland(entry.msgstr) if lang == "zh_CN" else entry.msgstr
    return out.to_binary()


def built(i18n: Path = I18N, locale: Path = LOCALE) -> dict[Path, bytes]:
    """The ``.mo`` files the build writes (path → bytes); none where ``i18n`` has no grading catalog."""
    path = catalog_path(i18n)
    if not path.exists():
        return {}
    po = polib.pofile(str(path), wrapwidth=0)
    return {mo_path(lang, locale): compiled(po, lang) for lang in LANGS}


def update_file(i18n: Path = I18N, package: Path = PACKAGE) -> list[str]:
    """Bring ``i18n/zh_TW/grading.po`` in step with the code (where it exists); one line if it changed."""
    path = catalog_path(i18n)
    if not path.exists():
        return []
    before = polib.pofile(str(path), wrapwidth=0)
    after = update(before, templates(package))
    if str(after) == path.read_text(encoding="utf-8"):
        return []
    after.save(str(path))
    live = [e for e in after if not e.obsolete]
    return [f"{path}: {len(live)} messages, {sum(not e.msgstr for e in live)} untranslated"]


def check(i18n: Path = I18N, locale: Path = LOCALE, package: Path = PACKAGE) -> list[str]:
    """What is out of step (where ``i18n`` has the grading catalog): messages, then ``.mo`` files."""
    path = catalog_path(i18n)
    if not path.exists():
        return []
    po, found = polib.pofile(str(path), wrapwidth=0), templates(package)
    out = [f"{path}: not in step with the code (run `update`)"] if str(update(po, found)) != str(po) else []
    out += [f"{path}, {problem}" for problem in problems(po, found)]
    return out + [f"{mo}: not what the build writes (run `build`)" for mo, data in built(i18n, locale).items()
                  if not mo.exists() or mo.read_bytes() != data]


__all__ = ["LANGS", "built", "catalog_path", "check", "compiled", "mo_path", "placeholders", "problems",
           "templates", "update", "update_file"]
