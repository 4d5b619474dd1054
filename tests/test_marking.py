"""helpers.course.marking: the committed notebooks carry exactly the metadata it writes; points agree
everywhere; the hidden tests catch an answer fitted to the visible ones."""

from __future__ import annotations

import re

import nbformat
import pytest
import torch

from helpers.course import grading, marking
from helpers.course import release as rel
from helpers.course.exercises import EXERCISES, QUESTIONS

SOURCES = sorted(rel.NOTEBOOKS_DIR.glob("*.ipynb"))
HEADING_POINTS = re.compile(r"^#+ .*\((\d+) points?\b", re.MULTILINE)


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_committed_notebooks_are_what_the_tool_writes(source):
    """Fails after a merge that lost or changed metadata: run
    `python -m helpers.course.marking notebooks/*.ipynb`."""
    text = source.read_text(encoding="utf-8")
    assert nbformat.writes(marking.annotate(nbformat.reads(text, as_version=4), source.name)) + "\n" == text
    assert marking.main(["--check", str(source)]) == 0


def test_every_exercise_is_graded_and_homework_cells_are_locked():
    kinds = {"solution": 0, "check": 0, "answer": 0}
    for source in SOURCES:
        nb = nbformat.read(source, as_version=4)
        for index, cell in enumerate(nb.cells):
            meta = cell.metadata.get("nbgrader")
            where = f"{source.name}, cell {index}"
            if "### BEGIN SOLUTION" in cell.source:
                assert meta and meta["solution"], where
                kinds["answer" if cell.cell_type == "markdown" else "solution"] += 1
                assert meta["grade"] == (cell.cell_type == "markdown"), where
            elif meta and meta["grade"]:
                kinds["check"] += 1
                assert meta["locked"] and cell.source.startswith(f"# ✎ {meta['points']} point"), where
            elif source.name.startswith("hw"):
                assert meta and meta["locked"] and not meta["solution"], f"{where}: a given cell is locked"
            else:
                assert meta is None, where
    assert kinds["solution"] >= kinds["check"] >= 10 and kinds["answer"] >= 2


def test_every_exercise_has_its_heading_and_instructions_numbered_through_the_course():
    """Before each solution code cell, the nearest Markdown heading announces it — '### Exercise N — …' in
    the lecture notebooks, N running 1, 2, … in file order, or in a homework a heading with its points — and
    instructions follow the heading (an edit that drops them fails here)."""
    number = 0
    for source in SOURCES:
        nb = nbformat.read(source, as_version=4)
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or "### BEGIN SOLUTION" not in cell.source:
                continue
            lines = [line for c in nb.cells[:index] if c.cell_type == "markdown"
                     for line in c.source.splitlines()]
            at = max(i for i, line in enumerate(lines) if line.startswith("#"))
            heading, instructions = lines[at].lstrip("#"), "\n".join(lines[at + 1 :])
            where = f"{source.name}, cell {index}"
            if source.name.startswith("hw"):
                assert HEADING_POINTS.match(lines[at]), f"{where}: under {heading!r}, which gives no points"
                continue
            match = re.match(r" Exercise (\d+) — \S", heading)
            assert match, f"{where}: the exercise's heading is {heading!r}"
            if int(match.group(1)) != number:  # one heading may announce a function and its check cells
                number += 1
                assert int(match.group(1)) == number, f"{where}: exercise {match.group(1)}, expected {number}"
            assert len(instructions.strip()) > 40, f"{where}: no instructions under {heading!r}"
    assert number >= 10


def test_points_come_from_the_table_and_headings_agree():
    """Each '(N points)' in a heading is the sum of the graded cells up to the next heading; the first cell's
    total line is the sum over the notebook; every key of POINTS is used."""
    used = set()
    for source in SOURCES:
        nb = nbformat.read(source, as_version=4)
        stated, total = None, 0
        graded = [cell.metadata.get("nbgrader", {}) for cell in nb.cells]
        for index, (cell, meta) in enumerate(zip(nb.cells, graded)):
            heading = (cell.cell_type == "markdown" and re.match(r"^#+ ", cell.source)
                       and "BEGIN SOLUTION" not in cell.source)
            if heading:
                if stated is not None:
                    assert stated[1] == stated[2], f"{source.name}, cell {stated[0]} says {stated[1]} points"
                match = HEADING_POINTS.search(cell.source)
                stated = [index, int(match.group(1)), 0] if match else None
            if meta.get("grade"):
                total += meta["points"]
                if stated is not None:
                    stated[2] += meta["points"]
            if meta.get("grade") and cell.cell_type == "code":
                used.update(marking._checks(cell.source))
            elif meta.get("grade"):
                used.add(f"{source.stem}/{meta['grade_id']}")
        if stated is not None:
            assert stated[1] == stated[2], f"{source.name}, cell {stated[0]} says {stated[1]} points"
        first = next(c for c in nb.cells if c.cell_type == "markdown").source
        if total:
            assert re.search(rf"\*\*Points:\*\* {total}\b", first), source.name
        else:
            assert "**Points:**" not in first, source.name
    assert used == set(marking.POINTS)


def test_annotating_is_idempotent_and_removes_stale_metadata():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Title"),
        nbformat.v4.new_code_cell("def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION"),
        nbformat.v4.new_code_cell('grading.check("fgsm", f)'),
        nbformat.v4.new_code_cell("x = 1"),
    ])
    nb.cells[3].metadata["nbgrader"] = {"grade": True, "grade_id": "old", "points": 9}
    once = marking.annotate(nb, "a.ipynb")
    assert marking.annotate(once, "a.ipynb") == once
    assert "nbgrader" not in once.cells[3].metadata
    assert once.cells[2].source == ('# ✎ 1 point, checked automatically when graded\n'
                                    'grading.check("fgsm", f)')
    assert once.cells[0].source == "# Title\n\n**Points:** 1, checked automatically when graded."
    assert nb.cells[0].source == "# Title", "the notebook passed in is left as it was"


def test_a_graded_cell_without_points_is_an_error_naming_it():
    answer = nbformat.v4.new_markdown_cell("### BEGIN SOLUTION\nA\n### END SOLUTION")
    nb = nbformat.v4.new_notebook(cells=[answer])
    with pytest.raises(marking.MarkingError, match=r"new\.ipynb, cell 0: no points for 'new/answer_1'"):
        marking.annotate(nb, "new.ipynb")


def test_release_checksums_are_nbgraders():
    pytest.importorskip("nbgrader")
    from nbgrader.utils import compute_checksum

    for source in SOURCES:
        student, _ = rel.student_version(nbformat.read(source, as_version=4), source.name)
        for cell in student.cells:
            if "nbgrader" in cell.metadata:
                assert cell.metadata["nbgrader"]["checksum"] == compute_checksum(cell)


def _fitted(exercise_id: str):
    """An answer right on the visible tests only: it looks each visible input up and returns the reference."""
    exercise = EXERCISES[exercise_id]
    known = [args for args, _ in exercise.cases()]

    def answer(*args, **kwargs):
        for known_args in known:
            if all(not isinstance(a, torch.Tensor) or (a.shape == b.shape and torch.equal(a, b))
                   for a, b in zip(args, known_args)):
                return exercise.reference(*args, **kwargs)
        return torch.zeros_like(args[1] if isinstance(args[0], torch.nn.Module) else args[0])

    return answer


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_hidden_tests_catch_an_answer_fitted_to_the_visible_ones(exercise_id, capsys):
    fitted = _fitted(exercise_id)
    grading.check(exercise_id, fitted)  # passes what the student sees
    with pytest.raises(grading.ExerciseFailed, match="hidden test"):
        grading.check(exercise_id, fitted, hidden=True)
    reference = EXERCISES[exercise_id].reference
    capsys.readouterr()
    grading.check(exercise_id, reference, hidden=True)  # the reference passes, silently
    assert capsys.readouterr().out == ""


def test_each_task_is_one_entry_whose_points_marking_reads():
    """An exercise or a question is one entry of ``exercises`` (its cases, hidden cases and points in it):
    the names do not clash, and POINTS holds each entry's points."""
    assert not set(EXERCISES) & set(QUESTIONS)
    for table in (EXERCISES, QUESTIONS):
        assert all(marking.POINTS[name] == task.points for name, task in table.items())
    assert all(exercise.cases() and exercise.hidden() for exercise in EXERCISES.values())


def test_hidden_is_refused_for_a_question():
    with pytest.raises(ValueError, match="hidden: exercise 'hw5_deletion' has no hidden tests"):
        grading.check("hw5_deletion", {}, hidden=True)


def test_judge_points_is_a_third_per_baseline_beaten():
    baselines = {"simple": [0.8], "medium": [0.7], "strong": [0.5, 0.55]}
    points = [grading.judge_points(grading.Judgement(accuracy, 0.9, baselines, 12))
              for accuracy in (0.9, 0.75, 0.6, 0.4)]
    assert points == [0.0, 2.0, 4.0, 6.0] and marking.POINTS["judge"] == 6
