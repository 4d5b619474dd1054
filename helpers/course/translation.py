"""The course in Chinese: gettext catalogs of the notebooks' Markdown, and the notebooks built from them.

English is the source. ``i18n/zh_TW/NB.po`` holds one entry per distinct Markdown cell of
``notebooks/NB.ipynb`` (msgid: the English cell; msgstr: its 繁體中文 translation; ``#: NB.ipynb:K``: the
cells it stands for). The 简体中文 edition is derived from it by :func:`to_mainland`: OpenCC's
Taiwan-to-mainland phrase conversion (``tw2sp``) with the reviewed overrides of ``i18n/zh_CN_overrides.tsv``.
A translated notebook is the English one with every Markdown cell replaced by its translation; code cells,
outputs and metadata (nbgrader's included) are copied, never re-executed.

    python -m helpers.course.translation update   # after an English edit: new cells in, changed ones fuzzy
    python -m helpers.course.translation build    # notebooks/zh-TW/, notebooks/zh-CN/, README.zh-CN.md
    python -m helpers.course.translation check    # exit 1, naming notebook and cell, where out of step

A cell with no current translation (new, or its English changed since it was translated) is never passed
off as translated: the build keeps its English under a visible note, lists it, and ``check`` (and
``tests/test_translation.py``) fail on it. :func:`translate_notebook` alone refuses it unless asked to keep
the English (``helpers.course.release`` can translate a notebook strictly).
"""

from __future__ import annotations

import copy
import re
import sys
from collections.abc import Mapping
from pathlib import Path

import nbformat
import polib

from helpers.course import catalogs, language, messages
from helpers.course.mainland import I18N, INLINE_CODE, MATHS, TranslationError, to_mainland

__all__ = ["NOTEBOOKS", "FOLDERS", "SOURCE_LANG", "TranslationError", "build", "built", "catalog_path",
           "check", "code_and_outputs_differ", "differences", "edition", "gaps", "markdown_cells",
           "read_catalog", "translate_notebook", "translations", "update_catalog", "update_catalogs"]

ROOT = Path(__file__).resolve().parent.parent.parent
NOTEBOOKS = ROOT / "notebooks"
SOURCE_LANG = "zh_TW"  # the translated catalogs; zh_CN is derived from them
FOLDERS = {lang: folder for folder, lang in language.FOLDERS.items()}  # catalog language → notebooks/<it>/
README_TW, README_CN = ROOT / "README.zh-TW.md", ROOT / "README.zh-CN.md"
README_CN_HEADER = ("<!-- Written by `python -m helpers.course.translation build` from README.zh-TW.md"
                    " (OpenCC tw2sp + i18n/zh_CN_overrides.tsv): edit that file, not this one. -->\n")
# Shown above a cell whose English is kept because it has no current translation (then converted for zh_CN).
UNTRANSLATED_NOTE = "> **尚未翻譯**：這一段還沒有與英文原文同步的翻譯，以下保留英文原文。\n\n"


def markdown_cells(nb: nbformat.NotebookNode) -> list[tuple[int, str]]:
    """(index, text) of every Markdown cell with text: what the catalogs translate."""
    return [(k, cell.source) for k, cell in enumerate(nb.cells)
            if cell.cell_type == "markdown" and cell.source.strip()]


def catalog_path(name: str, lang: str = SOURCE_LANG, i18n: Path = I18N) -> Path:
    """``i18n/<lang>/<stem>.po`` for the notebook ``name`` (``"06_fgsm_and_iterative_attacks.ipynb"``)."""
    return i18n / lang / f"{Path(name).stem}.po"


def update_catalog(nb: nbformat.NotebookNode, po: polib.POFile | None, name: str,
                   lang: str = SOURCE_LANG) -> polib.POFile:
    """The catalog of notebook ``name`` brought in step with its English (``catalogs.merge``: msgmerge's
    rules): one entry per distinct Markdown text, in cell order, its occurrences ``name:K``; an edited cell
    keeps its old translation, flagged fuzzy. ``po`` (``None`` for a new notebook) is not modified."""
    texts: dict[str, list[tuple[str, str]]] = {}
    for k, text in markdown_cells(nb):
        texts.setdefault(text, []).append((name, str(k)))
    return catalogs.merge(po, texts, catalogs.new_catalog(Path(name).stem, lang))


def read_catalog(path: Path) -> polib.POFile:
    """The catalog at ``path`` (``wrapwidth=0``: one msgid line per source line, as the files are kept)."""
    try:
        return polib.pofile(str(path), wrapwidth=0)
    except (OSError, ValueError) as error:
        raise TranslationError(f"cannot read the catalog {path}: {error}") from error


def update_catalogs(notebooks: Path = NOTEBOOKS, i18n: Path = I18N) -> list[str]:
    """Run :func:`update_catalog` over every ``notebooks/*.ipynb``, and bring the grading messages' catalog in
    step with the code (``messages``); return one line per catalog changed."""
    changed = messages.update_file(i18n)
    for path in sorted(notebooks.glob("*.ipynb")):
        target = catalog_path(path.name, i18n=i18n)
        before = read_catalog(target) if target.exists() else None
        after = update_catalog(nbformat.read(path, as_version=4), before, path.name)
        # also when only the layout differs (a PO editor that wraps lines): one msgid line per source line
        if before is None or target.read_text(encoding="utf-8") != str(after):
            target.parent.mkdir(parents=True, exist_ok=True)
            after.save(str(target))
            live = [e for e in after if not e.obsolete]
            changed.append(f"{target}: {len(live)} entries, {sum(not e.msgstr for e in live)} untranslated, "
                           f"{sum('fuzzy' in e.flags for e in live)} fuzzy, "
                           f"{sum(e.obsolete for e in after)} obsolete")
    return changed


def translations(po: polib.POFile) -> dict[str, str]:
    """English → translation for the catalog's current entries (translated, not fuzzy, not obsolete)."""
    return {e.msgid: e.msgstr for e in po if e.msgstr and not e.obsolete and "fuzzy" not in e.flags}


def gaps(nb: nbformat.NotebookNode, po: polib.POFile) -> list[tuple[int, str]]:
    """(cell, why) for every Markdown cell of ``nb`` that has no current translation in ``po``."""
    entries = {e.msgid: e for e in po if not e.obsolete}
    found = []
    for k, text in markdown_cells(nb):
        entry = entries.get(text)
        if entry is None:
            found.append((k, "no entry in the catalog (new or changed English: run `update`)"))
        elif "fuzzy" in entry.flags:
            found.append((k, "fuzzy: its English changed since it was translated (see the entry's #| msgid)"))
        elif not entry.msgstr:
            found.append((k, "not translated yet"))
    return found


# ---------------------------------------------------------------------------------------- notebooks
def translate_notebook(nb: nbformat.NotebookNode, translated: Mapping[str, str], *, name: str = "notebook",
                       keep_english: bool = False, note: str = UNTRANSLATED_NOTE) -> nbformat.NotebookNode:
    """A copy of ``nb`` whose Markdown cells are replaced by ``translated[english]``; all else is copied.

    ``translated`` maps an English Markdown cell to its translation (:func:`translations` of a catalog, or
    :func:`edition` for either language). A cell missing from it raises :class:`TranslationError` naming
    ``name`` and every such cell, unless ``keep_english``: then the cell keeps its English below ``note``
    (the zh_CN edition passes it converted). ``nb`` is not modified.
    """
    missing = [k for k, text in markdown_cells(nb) if not translated.get(text)]
    if missing and not keep_english:
        raise TranslationError(f"{name}: no current translation of the Markdown cell(s) "
                               f"{', '.join(map(str, missing))}")
    out = copy.deepcopy(nb)
    for k, text in markdown_cells(nb):
        out.cells[k].source = translated.get(text) or note + text
    return out


def edition(po: polib.POFile, lang: str) -> dict[str, str]:
    """English → text of the ``lang`` edition: the catalog's translations, converted for ``zh_CN``."""
    if lang not in FOLDERS:
        raise ValueError(f"lang must be one of {sorted(FOLDERS)}; got {lang!r}")
    current = translations(po)
    return current if lang == SOURCE_LANG else {en: to_mainland(text) for en, text in current.items()}


def code_and_outputs_differ(english: nbformat.NotebookNode, translated: nbformat.NotebookNode) -> list[str]:
    """Where ``translated`` differs from ``english`` in anything but Markdown text: cells (their kind,
    code, outputs, metadata, attachments) and the notebook's metadata. Empty when only prose differs."""
    problems = []
    if english.metadata != translated.metadata:
        problems.append("the notebook's metadata differ")
    if len(english.cells) != len(translated.cells):
        return problems + [f"{len(translated.cells)} cells, the English has {len(english.cells)}"]
    for k, (a, b) in enumerate(zip(english.cells, translated.cells)):
        if a.cell_type == "markdown" and b.cell_type == "markdown":
            a, b = {**a, "source": ""}, {**b, "source": ""}
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                problems.append(f"cell {k}: its {key} differs from the English")
    return problems


# ---------------------------------------------------------------------------- what a translation keeps
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
LINK_TARGET = re.compile(r"\]\(([^)\s]+)\)")
HEADING = re.compile(r"^(#+) ", re.M)
MARKER = re.compile(r"^\s*(### (?:BEGIN|END) (?:SOLUTION|HIDDEN TESTS)|YOUR ANSWER HERE)\s*$", re.M)


def differences(english: str, translated: str) -> list[str]:
    """What ``translated`` lost or gained against ``english``: numbers (outside code and maths), inline
    code, maths, link targets, heading levels and nbgrader's marker lines, each compared as a multiset."""
    if not (isinstance(english, str) and isinstance(translated, str)):
        raise TypeError(f"english and translated must be str; got {type(english).__name__}, "
                        f"{type(translated).__name__}")
    prose = (lambda text: INLINE_CODE.sub("", MATHS.sub("", text)))
    found = []
    for label, pattern, strip in (("numbers", NUMBER, prose), ("inline code", INLINE_CODE, None),
                                  ("maths", MATHS, None), ("link targets", LINK_TARGET, None),
                                  ("heading levels", HEADING, None), ("nbgrader markers", MARKER, None)):
        a = sorted(pattern.findall(strip(english) if strip else english))
        b = sorted(pattern.findall(strip(translated) if strip else translated))
        if a != b:
            missing = sorted({x for x in a if a.count(x) > b.count(x)})
            extra = sorted({x for x in b if b.count(x) > a.count(x)})
            found.append(f"{label} differ from the English: missing {missing}, extra {extra}")
    return found


# --------------------------------------------------------------------------------------- the build
def built(notebooks: Path = NOTEBOOKS, i18n: Path = I18N) -> tuple[dict[Path, str], list[str]]:
    """What the build writes (path → text) and the cells it kept in English, one line each."""
    files, kept = {}, []
    for path in sorted(notebooks.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        target = catalog_path(path.name, i18n=i18n)
        po = read_catalog(target) if target.exists() else catalogs.new_catalog(path.stem, SOURCE_LANG)
        kept += [f"{path.name}, cell {k}: {why}" for k, why in gaps(nb, po)]
        for lang, folder in FOLDERS.items():
            note = UNTRANSLATED_NOTE if lang == SOURCE_LANG else to_mainland(UNTRANSLATED_NOTE)
            out = translate_notebook(nb, edition(po, lang), name=path.name, keep_english=True, note=note)
            files[notebooks / folder / path.name] = nbformat.writes(out) + "\n"
    readme = notebooks.parent / README_TW.name
    if readme.exists():  # its links to the zh-TW notebooks lead to the zh-CN ones
        text = to_mainland(readme.read_text("utf-8")).replace("](notebooks/zh-TW/", "](notebooks/zh-CN/")
        files[readme.with_name(README_CN.name)] = README_CN_HEADER + text
    return files, kept


def build(notebooks: Path = NOTEBOOKS, i18n: Path = I18N) -> list[str]:
    """Write ``notebooks/zh-TW/``, ``notebooks/zh-CN/``, ``README.zh-CN.md`` and the grading messages' ``.mo``
    files (``messages.built``); return the cells kept in English (no current translation), which ``check``
    and the tests fail on."""
    files, kept = built(notebooks, i18n)
    for mo, data in messages.built(i18n).items():
        if not mo.exists() or mo.read_bytes() != data:
            mo.parent.mkdir(parents=True, exist_ok=True)
            mo.write_bytes(data)
    for folder in FOLDERS.values():  # a notebook removed from English goes from the editions too
        for stale in set((notebooks / folder).glob("*.ipynb")) - set(files):
            stale.unlink()
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text("utf-8") != text:
            path.write_text(text, encoding="utf-8")
    return kept


def check(notebooks: Path = NOTEBOOKS, i18n: Path = I18N) -> list[str]:
    """Everything out of step, one line each naming the file and cell (or message: ``messages.check``); empty
    when the editions are current."""
    problems = messages.check(i18n)
    for path in sorted(notebooks.glob("*.ipynb")):
        target = catalog_path(path.name, i18n=i18n)
        nb = nbformat.read(path, as_version=4)
        po = read_catalog(target) if target.exists() else None
        if po is None or str(update_catalog(nb, po, path.name)) != str(po):
            problems.append(f"{target}: not in step with {path.name} (run `update`)")
        po = po if po is not None else catalogs.new_catalog(path.stem, SOURCE_LANG)
        problems += [f"{path.name}, cell {k}: {why}" for k, why in gaps(nb, po)]
        for e in po:
            if e.msgstr and not e.obsolete and "fuzzy" not in e.flags:
                problems += [f"{target}, {e.occurrences[0][0]} cell {e.occurrences[0][1]}: {d}"
                             for d in differences(e.msgid, e.msgstr)]
    files, _ = built(notebooks, i18n)
    for out, text in files.items():
        if not out.exists() or out.read_text("utf-8") != text:
            problems.append(f"{out.relative_to(notebooks.parent)}: not what the build writes (run `build`)")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in {"update", "build", "check"}:
        print(__doc__, file=sys.stderr)
        return 2
    if argv[0] == "update":
        print("\n".join(update_catalogs()) or "every catalog is in step with its notebook")
        return 0
    if argv[0] == "build":
        kept = build()
        print(f"wrote notebooks/{'/, notebooks/'.join(FOLDERS.values())}/, {README_CN.name} and the messages")
        if kept:
            print(f"{len(kept)} Markdown cells kept in English, with a note (no current translation):",
                  *kept, sep="\n  ", file=sys.stderr)
        return 0
    problems = check()
    print("\n".join(problems) or "the Chinese editions are in step with the English",
          file=sys.stderr if problems else sys.stdout)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
