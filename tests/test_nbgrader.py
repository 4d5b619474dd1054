"""The real nbgrader on the course: generate_assignment with its default settings, and autograde's scores.

A temporary course holds one assignment of two small notebooks annotated by ``helpers.course.marking``: an
exercise notebook (the FGSM exercise) and a homework notebook (the saliency exercise and a written answer).
Three students submit it: the solution, the blank student version, and a half-done one whose FGSM is right and
whose saliency is fitted to the visible tests only (the hidden tests catch it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from helpers.course import marking
from helpers.course import release as rel

pytest.importorskip("nbgrader")

POINTS = {"fgsm": 2, "saliency": 3, "hw_small/answer_1": 4}

FGSM = """def my_fgsm(model, x, y, *, eps):
    ### BEGIN SOLUTION
    x_req = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(F.cross_entropy(model(x_req), y, reduction="sum"), x_req)
    return (x + eps * grad.sign()).clamp(0, 1).detach()
    ### END SOLUTION"""
SALIENCY = """def my_saliency(model, x, target):
    ### BEGIN SOLUTION
    return explain.saliency(model, x, target)
    ### END SOLUTION"""
# right on the visible tests' batch sizes (3 and 2), wrong elsewhere: what a hidden test is for
SALIENCY_FITTED = """def my_saliency(model, x, target):
    if len(x) in (2, 3):
        return explain.saliency(model, x, target)
    return torch.zeros_like(x)"""
IMPORTS = ("import torch\nimport torch.nn.functional as F\n\n"
           "from helpers import explain\nfrom helpers.course import grading")


def _check(name: str, function: str) -> str:
    return (f'grading.check("{name}", {function})\n### BEGIN HIDDEN TESTS\n'
            f'grading.check("{name}", {function}, hidden=True)\n### END HIDDEN TESTS')


def _notebook(name: str, *cells: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(cells=list(cells))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for number, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{number:02d}"
    return marking.annotate(nb, name, POINTS)


def _course(root: Path) -> None:
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    source = root / "source" / "ps1"
    source.mkdir(parents=True)
    exercise = _notebook("ex_small.ipynb", md("# Exercises"), code(IMPORTS), md("### FGSM"), code(FGSM),
                         code(_check("fgsm", "my_fgsm")))
    homework = _notebook("hw_small.ipynb", md("# Homework"), code(IMPORTS), md("## Task 1 · saliency"),
                         code(SALIENCY), code(_check("saliency", "my_saliency")),
                         md("## Question · why? (graded by your instructor)"),
                         md("### BEGIN SOLUTION\nBecause the gradient says so.\n### END SOLUTION"))
    nbformat.write(exercise, source / "ex_small.ipynb")
    nbformat.write(homework, source / "hw_small.ipynb")


def _nbgrader(root: Path, *args: str) -> subprocess.CompletedProcess:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"  # nbgrader runs alembic
    env = {**os.environ, "PYTHONPATH": str(rel.NOTEBOOKS_DIR.parent), "OMP_NUM_THREADS": "1", "PATH": path}
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _submit(root: Path, student: str, fill: dict[str, str]) -> None:
    """The student version, with each stubbed cell that starts like a key of ``fill`` replaced by its
    value."""
    folder = root / "submitted" / student / "ps1"
    folder.mkdir(parents=True)
    for path in sorted((root / "release" / "ps1").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            for start, text in fill.items():
                if cell.source.startswith(start) and cell.metadata["nbgrader"].get("solution"):
                    cell.source = text
        nbformat.write(nb, folder / path.name)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    from nbgrader.api import Gradebook

    root = tmp_path_factory.mktemp("course")
    _course(root)
    _nbgrader(root, "generate_assignment", "ps1")  # default settings: nbgrader's own checks on
    solved = {"def my_fgsm": FGSM, "def my_saliency": SALIENCY, "YOUR ANSWER HERE": "The gradient says so."}
    _submit(root, "solution", solved)  # the marker lines are comments
    _submit(root, "blank", {})
    _submit(root, "half", {"def my_fgsm": FGSM, "def my_saliency": SALIENCY_FITTED})
    _nbgrader(root, "autograde", "ps1")
    scores = {}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        for student in ("solution", "blank", "half"):
            grades = {}
            for name in ("ex_small", "hw_small"):
                notebook = gradebook.find_submission_notebook(name, "ps1", student)
                grades |= {g.name: (g.auto_score, g.max_score, g.needs_manual_grade) for g in notebook.grades}
            scores[student] = grades
    return root, scores


def test_the_generated_version_carries_the_metadata_and_no_solution(graded):
    root, _ = graded
    student = nbformat.read(root / "release" / "ps1" / "hw_small.ipynb", as_version=4)
    text = nbformat.writes(student)
    assert "explain.saliency(model" not in text and "hidden=True" not in text and "Because" not in text
    meta = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"] for c in student.cells}
    assert meta["check_saliency"]["points"] == 3 and meta["check_saliency"]["grade"]
    assert meta["answer_1"]["points"] == 4 and meta["answer_1"]["solution"]
    given = [m for k, m in meta.items() if k.startswith("given_")]
    assert all(m["locked"] for m in given), "a homework's given cells are locked"


def test_the_solution_gets_every_automatic_point_and_awaits_the_instructor(graded):
    _, scores = graded
    assert scores["solution"] == {"check_fgsm": (2, 2, False), "check_saliency": (3, 3, False),
                                  "answer_1": (None, 4, True)}


def test_a_blank_submission_gets_zero(graded):
    _, scores = graded
    assert scores["blank"] == {"check_fgsm": (0, 2, False), "check_saliency": (0, 3, False),
                               "answer_1": (0, 4, False)}


def test_a_half_done_submission_gets_exactly_the_right_exercises_points(graded):
    """FGSM right (2 points); saliency right on the visible tests only, which the hidden tests catch (0)."""
    _, scores = graded
    assert {k: v[0] for k, v in scores["half"].items() if k.startswith("check_")} == {"check_fgsm": 2,
                                                                                       "check_saliency": 0}


def test_nbgrader_and_the_release_make_the_same_student_notebooks(tmp_path):
    """generate_assignment on the course's real notebooks, with default settings, writes what
    helpers.course.release writes: the same cells, sources and metadata (nbgrader also clears the outputs
    the release keeps)."""
    course = tmp_path / "course"
    (course / "source" / "all").mkdir(parents=True)
    for path in rel.NOTEBOOKS_DIR.glob("*.ipynb"):
        (course / "source" / "all" / path.name).write_bytes(path.read_bytes())
    _nbgrader(course, "generate_assignment", "all")
    rel.release(tmp_path / "release", html=False)
    for path in sorted(rel.NOTEBOOKS_DIR.glob("*.ipynb")):
        ours = nbformat.read(tmp_path / "release" / "student" / path.name, as_version=4)
        theirs = nbformat.read(course / "release" / "all" / path.name, as_version=4)
        assert ours.metadata == theirs.metadata, path.name
        assert len(ours.cells) == len(theirs.cells), path.name
        for index, (a, b) in enumerate(zip(ours.cells, theirs.cells)):
            for key in set(a) | set(b):
                if key not in ("outputs", "execution_count"):
                    assert a.get(key) == b.get(key), f"{path.name}, cell {index}: {key}"
