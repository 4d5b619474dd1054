"""What each exercise is worth, and the nbgrader cell metadata that says so.

    python -m helpers.course.marking notebooks/*.ipynb          # write the metadata and points lines in place
    python -m helpers.course.marking --check notebooks/*.ipynb  # exit 1 if a notebook differs from that

The points live in one table, ``POINTS``: each exercise's and homework question's from its entry in
``exercises``, the written answers' and homework 6's judge's here. Everything else is read off the cells, in
order:

- a code cell with ``### BEGIN SOLUTION`` is a **solution** cell (``solution: true``): the student's to edit;
- the next code cell calling ``grading.check("name", …)`` or ``grading.judge(…)`` is its **test** cell
  (``grade: true``, locked), worth the sum of its checks' points; its first line tells the student so;
- a Markdown cell with ``### BEGIN SOLUTION`` is a **written answer**, graded by the instructor
  (``solution: true, grade: true``), worth ``POINTS["<notebook>/answer_<k>"]`` for the notebook's k-th answer;
- in a homework notebook (``hw*.ipynb``) every other cell is **read-only** (``locked: true``): nbgrader
  restores it before grading. In a lecture notebook the student may change every other cell.

The notebook's first Markdown cell ends with a line giving the total. Grade ids are stable:
``check_<name>`` and ``code_<name>`` after the first check of the test cell, ``answer_<k>``,
``given_<cell id>``. Running it again changes nothing; only cell metadata and the tool's own points lines
are ever written.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import re
import sys
from collections.abc import Mapping
from pathlib import Path

import nbformat

from helpers.course.exercises import EXERCISES, QUESTIONS

BEGIN_SOLUTION = "### BEGIN SOLUTION"
CHECK = re.compile(r"""\bgrading\.check\(\s*["'](\w+)["']""")
JUDGE = re.compile(r"\bgrading\.judge\(")
TOTAL_LINE = re.compile(r"\n*^\*\*Points:\*\* .*\Z", re.MULTILINE)  # the first Markdown cell's last line
SCHEMA_VERSION = 3  # nbgrader's cell-metadata schema

# What each graded cell is worth. An exercise's or a homework question's points are in its entry in
# ``exercises``; the written answers and homework 6's judge (a third per baseline beaten) are not exercises.
POINTS: dict[str, int] = {
    **{name: task.points for table in (EXERCISES, QUESTIONS) for name, task in table.items()},
    "hw5_explain/answer_1": 2,
    "judge": 6,
    "hw6_attack/answer_1": 2,
}


class MarkingError(ValueError):
    """A graded cell has no points in ``POINTS``; the message names the notebook, the cell and the key."""


def _points(table: Mapping[str, int], key: str, where: str) -> int:
    if key not in table:
        raise MarkingError(f"{where}: no points for {key!r} — an exercise or a question gets its points in "
                           "its entry in helpers/course/exercises.py, another graded cell in POINTS "
                           "(helpers/course/marking.py)")
    return table[key]


def _meta(grade_id: str, *, solution: bool = False, grade: bool = False, locked: bool = False,
          points: int | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": SCHEMA_VERSION,
            "solution": solution, "task": False}
    if grade:
        meta["points"] = points
    return meta


def _checks(source: str) -> list[str]:
    """The names a test cell checks, each once (a hidden test repeats the visible check's name)."""
    return list(dict.fromkeys(CHECK.findall(source) + (["judge"] if JUDGE.search(source) else [])))


def _cell_id(cell: nbformat.NotebookNode, index: int) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", cell.get("id") or str(index))


def _plural(points: int) -> str:
    return f"{points} point{'s' if points != 1 else ''}"


def roles(nb: nbformat.NotebookNode, name: str, points: Mapping[str, int] = POINTS) -> list[dict | None]:
    """The nbgrader metadata each cell of ``nb`` (the notebook file ``name``) should carry (None: none), read
    off the cells, with the points of ``points``."""
    if not isinstance(name, str):
        raise TypeError(f"name must be the notebook's file name, a str; got {type(name).__name__}")
    homework = name.startswith("hw")
    stem = Path(name).stem
    found: list[dict | None] = [None] * len(nb.cells)
    pending: list[int] = []  # solution code cells waiting for their test cell
    answers = 0
    for index, cell in enumerate(nb.cells):
        where = f"{name}, cell {index}"
        if cell.cell_type == "code" and BEGIN_SOLUTION in cell.source:
            pending.append(index)
        elif cell.cell_type == "markdown" and BEGIN_SOLUTION in cell.source:
            answers += 1
            key = f"answer_{answers}"
            worth = _points(points, f"{stem}/{key}", where)
            found[index] = _meta(key, solution=True, grade=True, points=worth)
        elif cell.cell_type == "code" and pending and _checks(cell.source):
            names = _checks(cell.source)
            worth = sum(_points(points, check, where) for check in names)
            found[index] = _meta(f"check_{names[0]}", grade=True, locked=True, points=worth)
            for number, solution in enumerate(pending, start=1):
                suffix = f"_{number}" if len(pending) > 1 else ""
                found[solution] = _meta(f"code_{names[0]}{suffix}", solution=True)
            pending = []
        elif homework:
            found[index] = _meta(f"given_{_cell_id(cell, index)}", locked=True)
    for solution in pending:  # a solution without a test cell: still the student's to write
        found[solution] = _meta(f"code_{_cell_id(nb.cells[solution], solution)}", solution=True)
    return found


def _with_points_line(source: str, points: int) -> str:
    lines = source.split("\n")
    if lines[0].startswith("# ✎ "):
        lines = lines[1:]
    return "\n".join([f"# ✎ {_plural(points)}, checked automatically when graded", *lines])


def total_line(found: list[dict | None], cells: list) -> str | None:
    """The sentence giving the notebook's total, or None when nothing in it is graded."""
    graded = [(meta["points"], cell.cell_type) for meta, cell in zip(found, cells) if meta and meta["grade"]]
    if not graded:
        return None
    auto = sum(p for p, kind in graded if kind == "code")
    manual = sum(p for p, kind in graded if kind == "markdown")
    if not manual:
        return f"**Points:** {auto}, checked automatically when graded."
    if not auto:
        return f"**Points:** {manual}, graded by your instructor."
    return (f"**Points:** {auto + manual} in all — {auto} checked automatically, "
            f"{manual} graded by your instructor.")


def annotate(nb: nbformat.NotebookNode, name: str,
             points: Mapping[str, int] = POINTS) -> nbformat.NotebookNode:
    """A copy of ``nb`` with each cell's nbgrader metadata, the test cells' points lines and the total."""
    nb = copy.deepcopy(nb)
    found = roles(nb, name, points)
    for cell, meta in zip(nb.cells, found):
        if meta is None:
            cell.metadata.pop("nbgrader", None)
            continue
        cell.metadata["nbgrader"] = nbformat.from_dict(meta)
        if cell.cell_type == "code" and meta["grade"]:
            cell.source = _with_points_line(cell.source, meta["points"])
    total = total_line(found, nb.cells)
    first = next((cell for cell, meta in zip(nb.cells, found)
                  if cell.cell_type == "markdown" and not (meta and meta["solution"])), None)
    if first is not None:
        body = TOTAL_LINE.sub("", first.source)
        first.source = body + (f"\n\n{total}" if total else "")
    return nb


def checksum(cell: nbformat.NotebookNode) -> str:
    """nbgrader's checksum of a graded, solution or locked cell (``nbgrader.utils.compute_checksum``): MD5 of
    the source, the type, the three flags, the grade id and, for a grade cell, the points as a float."""
    meta = cell.metadata["nbgrader"]
    solution, grade = bool(meta.get("solution")), bool(meta.get("grade"))
    locked = False if solution else (True if grade else bool(meta.get("locked")))
    parts = [cell.source, cell.cell_type, str(grade), str(solution), str(locked), meta["grade_id"]]
    if grade:
        parts.append(str(float(meta["points"])))
    return hashlib.md5("".join(parts).encode("utf-8")).hexdigest()


def lock_for_students(nb: nbformat.NotebookNode) -> None:
    """What ``nbgrader generate_assignment`` adds to a student version, in place (its LockCells and
    ComputeChecksums with the default settings): solution cells cannot be deleted, test and read-only cells
    can be neither deleted nor edited, and every nbgrader cell carries its type and checksum."""
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        if meta is None or not (meta.get("grade") or meta.get("solution") or meta.get("locked")):
            continue
        cell.metadata["deletable"] = False
        if not meta.get("solution") and (meta.get("grade") or meta.get("locked")):
            cell.metadata["editable"] = False
        meta["cell_type"] = cell.cell_type
        meta["checksum"] = checksum(cell)
    nb.metadata.pop("celltoolbar", None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.course.marking",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", help="notebooks to annotate in place")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if one would change")
    args = parser.parse_args(argv)
    stale = []
    for name in args.notebooks:
        path = Path(name)
        before = path.read_text(encoding="utf-8")
        try:
            nb = annotate(nbformat.reads(before, as_version=4), path.name)
        except MarkingError as error:
            print(f"marking: {error}", file=sys.stderr)
            return 1
        after = nbformat.writes(nb) + "\n"
        if after != before:
            stale.append(name)
            if not args.check:
                path.write_text(after, encoding="utf-8")
    verb = "would change" if args.check else "annotated"
    for name in stale:
        print(f"{name}: {verb}")
    return 1 if args.check and stale else 0


__all__ = ["POINTS", "MarkingError", "annotate", "checksum", "lock_for_students", "main", "roles",
           "total_line"]


if __name__ == "__main__":
    sys.exit(main())
