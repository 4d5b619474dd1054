"""Make a teaching release: student notebooks generated from the solutions (``make release``).

    python -m helpers.course.release --out DIR [--execute] [--lang en|zh-TW|zh-CN]

The instructor keeps one set of notebooks, with solutions, in ``notebooks/``. For each of them the
release writes to ``DIR`` (in English; ``--lang zh-TW`` writes ``DIR/student/zh-TW/`` and
``DIR/solution/zh-TW/`` instead, ``zh-CN`` alike, beside the English):

- ``student/NAME.ipynb`` — code between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` replaced by
  ``# YOUR CODE HERE`` / ``raise NotImplementedError()``, a Markdown answer between the same markers by
  ``YOUR ANSWER HERE``, hidden tests between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``
  removed; the outputs of the changed cells cleared, and those of the cells that grade them
  (``grading.check(...)``, ``grading.judge(...)``), so that no "✔ passed" greets a student who has
  not started; everything else kept as it is;
- ``solution/NAME.ipynb`` — the executed solution: the committed notebook, whose outputs ``make test``
  reproduces with nbval (``--execute`` runs it again instead);
- ``student/NAME.html`` and ``solution/NAME.html`` — nbconvert's HTML rendering of both.

Both versions carry the nbgrader cell metadata of ``helpers.course.marking`` (points, solution, test and
read-only cells), and the student version what ``nbgrader generate_assignment`` adds to it (locks and
checksums), so that it is the notebook nbgrader would hand out — except for the outputs of untouched cells,
which nbgrader clears — and a student's copy can be autograded with nbgrader. The release never writes
into ``notebooks/``; a marker without its partner, or one inside another block, is an error naming the
notebook and the cell; running it twice gives byte-identical files.

A Chinese release (``--lang zh-TW`` or ``zh-CN``) is made from the same English solutions: each is marked,
then its Markdown is replaced by the catalog's translation (``translation.translate_notebook``, strictly: a
Markdown cell without a current translation is an error naming the notebook and the cell, never left in
English), then stubbed and locked as above. Code, stubs, outputs and nbgrader metadata are the English
release's (the checksums of read-only Markdown cells are those of their translated text), so nbgrader
grades it alike; copied outputs stay English (``--execute`` runs it with ``HELPERS_LANG`` set). A student's
notebook path then names its language (``zh-TW/``), which the checks follow (``language``). It needs polib
and opencc (the ``[instructor]`` extra).
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import nbformat

from helpers.course import language, marking
from helpers.course.execute import execute_node

NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
ANSWER_STUB = "YOUR ANSWER HERE"
GRADING_CALL = re.compile(r"\bgrading\.(check|judge)\(")
LANGS = ("en", *language.FOLDERS)


class ReleaseError(ValueError):
    """A notebook's markers are malformed; the message names the notebook and the cell."""


@dataclass(frozen=True)
class Block:
    """One solution or hidden-test region of a cell: its kind and its lines, markers excluded."""

    kind: str  # "solution" or "hidden"
    lines: tuple[str, ...]


_ANY_MARKER = re.compile(r"#+\s*(begin|end)\s+(solution|hidden\s+tests)\b", re.IGNORECASE)


def _marker(line: str, where: str = "", number: int = 0) -> str | None:
    for marker in (BEGIN_HIDDEN, END_HIDDEN, BEGIN_SOLUTION, END_SOLUTION):  # hidden first: longer prefix
        if marker in line:
            return marker
    near = _ANY_MARKER.search(line)
    if near:  # "### Begin Solution" would leak the solution to students: refuse it
        raise ReleaseError(f"{where}, line {number}: {near.group()!r} is not a marker; write it exactly as "
                           f"{BEGIN_SOLUTION!r}, {END_SOLUTION!r}, {BEGIN_HIDDEN!r} or {END_HIDDEN!r}")
    return None


def split_cell(source: str, cell_type: str, where: str) -> tuple[str, list[Block]]:
    """The student's source of one cell and the blocks taken out of it.

    A solution block becomes the stub at the indentation of its ``BEGIN`` line; a hidden-test block
    disappears. Raises ``ReleaseError`` naming ``where`` on a nested or unbalanced marker.
    """
    for name, value in (("source", source), ("cell_type", cell_type), ("where", where)):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a str; got {type(value).__name__}")
    out: list[str] = []
    blocks: list[Block] = []
    open_kind: str | None = None
    body: list[str] = []
    for number, line in enumerate(source.splitlines(), start=1):
        marker = _marker(line, where, number)
        if marker is None:
            (body if open_kind else out).append(line)
            continue
        kind = "hidden" if "HIDDEN" in marker else "solution"
        if marker.startswith("### BEGIN"):
            if open_kind is not None:
                raise ReleaseError(f"{where}, line {number}: {marker!r} inside an open {open_kind} block "
                                   "(blocks cannot nest)")
            open_kind, body = kind, []
            if kind == "solution":
                indent = line[: len(line) - len(line.lstrip())]
                if cell_type == "code":
                    out.extend(indent + stub for stub in CODE_STUB)
                else:
                    out.append(ANSWER_STUB)
        else:
            if open_kind != kind:
                raise ReleaseError(f"{where}, line {number}: {marker!r} without a matching "
                                   f"{(BEGIN_HIDDEN if kind == 'hidden' else BEGIN_SOLUTION)!r}")
            blocks.append(Block(kind, tuple(body)))
            open_kind = None
    if open_kind is not None:
        end = END_HIDDEN if open_kind == "hidden" else END_SOLUTION
        raise ReleaseError(f"{where}: a {open_kind} block is never closed (missing {end!r})")
    if not blocks:
        return source, []
    return "\n".join(out), blocks


def student_version(nb: nbformat.NotebookNode, name: str,
                    points: Mapping[str, int] = marking.POINTS) -> tuple[nbformat.NotebookNode, list[int]]:
    """The student notebook made from solution notebook ``nb`` (left untouched) and the indices of the
    cells whose source changed; ``points``: what each exercise is worth (``helpers.course.marking``)."""
    if not isinstance(nb, nbformat.NotebookNode) or "cells" not in nb:
        raise TypeError(f"nb must be a notebook read with nbformat.read; got {type(nb).__name__}")
    if not isinstance(name, str):
        raise TypeError(f"name must be the notebook's file name, a str; got {type(name).__name__}")
    student = marking.annotate(nb, name, points)
    return student, _stub(student, name)


def _stub(student: nbformat.NotebookNode, name: str) -> list[int]:
    """Stub and lock the marked notebook ``student`` in place; return the indices of the changed cells."""
    changed: list[int] = []
    for index, cell in enumerate(student.cells):
        source, blocks = split_cell(cell.source, cell.cell_type, f"{name}, cell {index}")
        if blocks:
            cell.source = source
            changed.append(index)
        if cell.cell_type == "code" and (blocks or GRADING_CALL.search(cell.source)):
            cell.outputs, cell.execution_count = [], None
    marking.lock_for_students(student)
    return changed


def _translator(lang: str) -> Callable[[nbformat.NotebookNode, str], nbformat.NotebookNode]:
    """Notebook, name → its ``lang`` edition, strictly (a Markdown cell without a current translation raises
    ``ReleaseError`` naming the notebook and the cell); the identity for English."""
    if lang == "en":
        return lambda nb, name: nb
    try:
        from helpers.course import translation
        if lang == "zh-CN":
            import opencc  # noqa: F401 — mainland.to_mainland's converter
    except ImportError as missing:
        raise ReleaseError(f"--lang {lang} needs polib and opencc ({missing}): "
                           "pip install -e '.[instructor]'") from None

    def translate(nb: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
        try:
            edition = translation.edition(translation.read_catalog(translation.catalog_path(name)),
                                          language.FOLDERS[lang])
            return translation.translate_notebook(nb, edition, name=name)
        except translation.TranslationError as error:
            raise ReleaseError(f"{lang}: {error}") from None

    return translate


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _html(nb: nbformat.NotebookNode) -> str:
    """nbconvert's HTML, with the random element ids it gives widget views numbered in order instead,
    so that the same notebook always renders to the same bytes.

    An explorer's static picture is preferred to its widget view: without a kernel the widget's controls
    could not redraw anything, and its scripts would have to come from a CDN, which a classroom may not reach.
    """
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    default = HTMLExporter().default_config["NbConvertBase"]["display_data_priority"]
    priority = [kind for kind in default if kind != WIDGET_VIEW] + [WIDGET_VIEW]
    exporter = HTMLExporter(config=Config({"NbConvertBase": {"display_data_priority": priority}}))
    body, _ = exporter.from_notebook_node(nb)
    names: dict[str, str] = {}
    return _UUID.sub(lambda m: names.setdefault(m.group(), f"output-view-{len(names)}"), body)


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _write_if_changed(path: Path, text: str, notebooks: Path) -> None:
    """Write ``path``, unless it resolves (through any symlink) into the source ``notebooks``."""
    if _inside(path.resolve(), notebooks.resolve()):
        raise ReleaseError(f"{path} resolves to {path.resolve()}, inside {notebooks.resolve()}: "
                           "the release never writes into the source notebooks "
                           "(is a folder of the release a symlink?)")
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def _check_out(out: Path, notebooks: Path) -> Path:
    out, notebooks = out.resolve(), notebooks.resolve()
    if out == notebooks or notebooks in out.parents:
        raise ReleaseError(f"--out {out} is inside {notebooks}: "
                           "the release never writes into the source notebooks")
    if out.exists() and not out.is_dir():
        raise ReleaseError(f"--out {out} exists and is not a folder")
    return out


def _prepare_folders(folders: list[Path], notebooks: Path, expected: set[str]) -> None:
    """Make ``folders`` (``out/student`` and ``out/solution``, or their ``zh-TW/``), after checking that none
    resolves into ``notebooks``, and remove from them any notebook or HTML file not in ``expected``: a
    notebook removed from the course leaves nothing behind."""
    for folder in folders:
        if _inside(folder.resolve(), notebooks.resolve()):
            raise ReleaseError(f"{folder} resolves to {folder.resolve()}, inside {notebooks.resolve()}: "
                               "the release never writes into the source notebooks (is it a symlink?)")
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.iterdir():
            if stale.suffix in (".ipynb", ".html") and stale.name not in expected:
                stale.unlink()


def release(out: str | Path, *, notebooks: str | Path = NOTEBOOKS_DIR, execute: bool = False,
            html: bool = True, points: Mapping[str, int] = marking.POINTS,
            lang: str = "en") -> dict[str, list[int]]:
    """Write the student and solution versions (and their HTML) of every notebook in ``notebooks`` to
    ``out`` in language ``lang`` (``LANGS``); return, per notebook, the indices of the cells stubbed.

    Every notebook is checked (and translated) before anything is written, so a malformed marker or a
    missing translation leaves ``out`` as it was.
    """
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {', '.join(LANGS)}; got {lang!r}")
    for name, flag in (("execute", execute), ("html", html)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be True or False; got {flag!r}")
    for name, path in (("out", out), ("notebooks", notebooks)):
        if not isinstance(path, (str, Path)):
            raise TypeError(f"{name} must be a folder path (str or Path); got {type(path).__name__}")
    notebooks = Path(notebooks)
    out = _check_out(Path(out), notebooks)
    sources = sorted(notebooks.glob("*.ipynb"))
    if not sources:
        raise ReleaseError(f"no notebooks found in {notebooks}")
    made, translate = {}, _translator(lang)
    for path in sources:
        english = marking.annotate(nbformat.read(path, as_version=4), path.name, points)
        solution = translate(english, path.name)
        student = copy.deepcopy(solution)
        made[path.name] = (solution, student, _stub(student, path.name))

    expected = {p.name for p in sources} | ({p.with_suffix(".html").name for p in sources} if html else set())
    sub = "" if lang == "en" else lang  # a Chinese release: student/zh-TW/, as notebooks/zh-TW/
    _prepare_folders([out / kind / sub for kind in ("student", "solution")], notebooks, expected)
    for path in sources:
        solution, student, _ = made[path.name]
        if execute:
            execute_node(solution, path.parent, env=None if lang == "en" else {"HELPERS_LANG": lang})
        for kind, nb in (("student", student), ("solution", solution)):
            target = out / kind / sub / path.name
            _write_if_changed(target, nbformat.writes(nb) + "\n", notebooks)
            if html:
                _write_if_changed(target.with_suffix(".html"), _html(nb), notebooks)
    return {name: changed for name, (_, _, changed) in made.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.course.release",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder to write the release to (not inside notebooks/)")
    parser.add_argument("--notebooks", default=str(NOTEBOOKS_DIR),
                        help="the solution notebooks (default: %(default)s)")
    parser.add_argument("--execute", action="store_true",
                        help="re-execute the solutions instead of copying their outputs")
    parser.add_argument("--no-html", dest="html", action="store_false", help="skip the HTML renderings")
    parser.add_argument("--lang", choices=LANGS, default="en",
                        help="the release's language: the Chinese editions' catalogs (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        changed = release(args.out, notebooks=args.notebooks, execute=args.execute, html=args.html,
                          lang=args.lang)
    except (ReleaseError, marking.MarkingError) as error:
        print(f"release: {error}", file=sys.stderr)
        return 1
    for name, cells in changed.items():
        what = f"{len(cells)} exercise cell(s) stubbed" if cells else "no exercises"
        print(f"{name}: {what}")
    sub = "" if args.lang == "en" else f"/{args.lang}"
    print(f"release written to {Path(args.out).resolve()}/student{sub} and /solution{sub}")
    return 0


__all__ = ["LANGS", "NOTEBOOKS_DIR", "Block", "ReleaseError", "main", "release", "split_cell",
           "student_version"]


if __name__ == "__main__":
    sys.exit(main())
