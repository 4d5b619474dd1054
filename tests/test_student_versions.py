"""Each notebook as a student receives it (``helpers.release.student_version``): run, it fails only where
the student has work to do.

Executed in a fresh kernel up to its last exercise: the only errors are NotImplementedError in the stubbed
cells and ExerciseFailed in the check cells (each of which fails: no ✔ before the work is done); every
other cell runs. The cells after the last exercise are the solution's own cells, which nbval runs in
``make test``; in the student version they can only fail through what the exercises were to compute, so
they are read instead of run: none of them may use a name bound in an exercise or a check cell, or bound
from one (``_tainted_reads``). In notebook 06 that saves re-running 100 s of attacks.
"""

from __future__ import annotations

import ast

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager
from nbclient import NotebookClient

from helpers import marking
from helpers import release as rel

WITH_EXERCISES = [p for p in sorted(rel.NOTEBOOKS_DIR.glob("*.ipynb"))
                  if "### BEGIN SOLUTION" in p.read_text(encoding="utf-8")]


def _names(source: str) -> tuple[set[str], set[str]]:
    """(names read, names bound) anywhere in a code cell, function bodies and the code that a magic such
    as ``%time`` runs included."""
    tree = ast.parse(TransformerManager().transform_cell(source))
    read, bound = set(), set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("run_line_magic", "run_cell_magic") and node.args
                and all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in node.args)):
            code = node.args[-1].value  # a line magic's line, a cell magic's cell
            try:
                inner = _names(code)
            except SyntaxError:  # options before the code (%timeit -n 3 …): the line without them
                inner = _names(code.split(" ", 2)[-1]) if code.startswith("-") else (set(), set())
            read |= inner[0]
            bound |= inner[1]
        elif isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return read, bound


def _tainted_reads(cells: list[nbformat.NotebookNode], exercises: set[int], start: int) -> list[str]:
    """Where a code cell from index ``start`` on reads a name that an exercise cell (stub or check) binds,
    or that a cell reading such a name binds in turn."""
    tainted: set[str] = set()
    found = []
    for index, cell in enumerate(cells):
        if cell.cell_type != "code":
            continue
        read, bound = _names(cell.source)
        if index in exercises or read & tainted:
            if index >= start and index not in exercises:
                found.append(f"cell {index} uses {sorted(read & tainted)}, which the exercises compute")
            tainted |= bound
    return found


def test_the_static_reading_catches_a_cell_that_needs_an_exercise():
    code = nbformat.v4.new_code_cell
    cells = [code("import torch\nx = torch.ones(2)"), code("def f(x):\n    raise NotImplementedError()"),
             code("grading.check('f', f)"), code("g = lambda v: f(v) + 1"), code("print(x)"),
             code("%time y = g(x)")]
    assert _tainted_reads(cells, {1, 2}, start=4) == ["cell 5 uses ['g'], which the exercises compute"]
    assert _tainted_reads(cells[:5], {1, 2}, start=4) == []


@pytest.mark.parametrize("source", WITH_EXERCISES, ids=lambda p: p.stem)
def test_student_version_fails_only_where_the_student_has_work_to_do(source, tmp_path):
    solution = marking.annotate(nbformat.read(source, as_version=4), source.name, marking.POINTS)
    nb, changed = rel.student_version(solution, source.name)
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    checks = {i for i in code if rel.GRADING_CALL.search(nb.cells[i].source)}
    exercises = set(changed) | checks
    last = max(exercises)
    tail = nb.cells[last + 1 :]
    nb.cells = nb.cells[: last + 1]
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [(i, o.ename) for i, c in enumerate(nb.cells) if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error"]
    for index, name in errors:
        allowed = ({"NotImplementedError"} if index in changed else set()) | (
            {"ExerciseFailed"} if index in checks else set())
        assert name in allowed, f"{source.name}, cell {index}: unexpected {name}"
    grading_checks = {i for i in checks if "grading.check(" in nb.cells[i].source}
    assert grading_checks == {i for i, name in errors if name == "ExerciseFailed"}, \
        "every check fails until the student has done the exercise"
    assert not _tainted_reads(nb.cells + tail, exercises, start=last + 1), source.name
