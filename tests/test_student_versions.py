"""Each notebook as a student receives it (``helpers.course.release.student_version``): run, it fails only
where the student has work to do.

Executed in a fresh kernel up to its last exercise: the only errors are NotImplementedError in the stubbed
cells and ExerciseFailed in the check cells (each of which fails: no ✔ before the work is done); every
other cell runs. The cells after the last exercise are the solution's own cells, which nbval runs in
``make test``; they are read instead of run (in notebook 06 that saves re-running 100 s of attacks): none
of them may use a name that an exercise or a check cell binds or changes, that only a solution binds, or
that a cell using such a name binds in turn (``_tainted_reads``). The reading sees names, not what a call
does in place (a solution that trains a model passed to it, or draws from torch's global generator): such
a dependency changes the tail's outputs, which an exercise left undone does anyway, but raises nothing.
"""

from __future__ import annotations

import ast

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager
from nbclient import NotebookClient

from helpers.course import marking
from helpers.course import release as rel

WITH_EXERCISES = [p for p in sorted(rel.NOTEBOOKS_DIR.glob("*.ipynb"))
                  if "### BEGIN SOLUTION" in p.read_text(encoding="utf-8")]


def _root(node: ast.expr) -> str | None:
    """The variable under ``a.b[c].d``: what an assignment to it changes."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


class _Names(ast.NodeVisitor):
    """The names a cell reads (anywhere, function bodies included) and the global names it binds or
    changes (an assignment, a def, an import, ``except … as``; ``x.a = …`` or ``x[i] = …`` changes ``x``,
    also from inside a function); a local of a function, a lambda or a comprehension binds nothing."""

    def __init__(self) -> None:
        self.read: set[str] = set()
        self.bound: set[str] = set()
        self.depth = 0

    def bind(self, name: str | None) -> None:
        if name and self.depth == 0:
            self.bound.add(name)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self.read.add(node.id)
        else:
            self.bind(node.id)

    def _changed(self, node: ast.Attribute | ast.Subscript) -> None:
        if not isinstance(node.ctx, ast.Load) and (root := _root(node)):
            self.read.add(root)
            self.bound.add(root)
        self.generic_visit(node)

    visit_Attribute = visit_Subscript = _changed

    def visit_AugAssign(self, node: ast.AugAssign) -> None:  # n += 1 reads n too
        self.read.add(_root(node.target) or "")
        self.generic_visit(node)

    def _scope(self, node: ast.AST) -> None:
        self.bind(getattr(node, "name", None))
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = visit_Lambda = _scope
    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _scope

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        self.bind(node.name)
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            self.bind((alias.asname or alias.name).split(".")[0])

    visit_ImportFrom = visit_Import

    def visit_Call(self, node: ast.Call) -> None:
        """IPython's magics arrive as strings (``get_ipython().run_line_magic('time', 'y = f(x)')``): the
        code in them is read as well."""
        if (isinstance(node.func, ast.Attribute) and node.func.attr in ("run_line_magic", "run_cell_magic")
                and all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in node.args)):
            magic, *text = (a.value for a in node.args)
            if node.func.attr == "run_cell_magic":
                line, code = text
                if magic == "capture" and line.split():  # %%capture out binds out
                    self.bind(line.split()[-1])
            else:
                code = text[0]
            words = code.split(" ")
            for start in range(len(words)):  # options first (%timeit -n 3 -r 2 …): drop words until it parses
                try:
                    tree = ast.parse(" ".join(words[start:]))
                except SyntaxError:
                    continue
                self.visit(tree)
                break
        self.generic_visit(node)


def _names(source: str) -> tuple[set[str], set[str]]:
    """(names read, global names bound or changed) of a code cell, as ``_Names`` counts them."""
    names = _Names()
    names.visit(ast.parse(TransformerManager().transform_cell(source)))
    return names.read, names.bound


def _tainted_reads(cells: list[nbformat.NotebookNode], exercises: set[int], start: int,
                   owed: set[str] = frozenset()) -> list[str]:
    """Where a code cell from index ``start`` on reads a tainted name: one that an exercise cell (stub or
    check) binds, that only the solutions bind (``owed``), or that a cell reading a tainted name binds in
    turn — earlier cells included, until nothing changes (a function defined before an exercise may call
    what the exercise defines)."""
    names = {i: _names(c.source) for i, c in enumerate(cells) if c.cell_type == "code"}
    tainted = set(owed).union(*(names[i][1] for i in exercises if i in names))  # code cells
    growing = True
    while growing:
        growing = False
        for i, (read, bound) in names.items():
            if i not in exercises and read & tainted and not bound <= tainted:
                tainted |= bound
                growing = True
    return [f"cell {i} uses {sorted(read & tainted)}, which the exercises compute"
            for i, (read, _) in names.items() if i >= start and i not in exercises and read & tainted]


def test_the_static_reading_catches_a_cell_that_needs_an_exercise():
    code = nbformat.v4.new_code_cell
    cells = [code("import torch\nx = torch.ones(2)"), code("def f(x):\n    raise NotImplementedError()"),
             code("grading.check('f', f)"), code("g = lambda v: f(v) + 1"), code("print(x)"),
             code("%time y = g(x)")]
    assert _tainted_reads(cells, {1, 2}, start=4) == ["cell 5 uses ['g'], which the exercises compute"]
    assert _tainted_reads(cells[:5], {1, 2}, start=4) == []
    # a helper defined before the exercise that calls it; an object the exercise changes; a name only the
    # solution binds; a magic with options; a counter updated in place
    cells = [code("def helper():\n    return f(1)"), code("stats = {}\nn = 0"),
             code("def f(x):\n    raise NotImplementedError()\nstats['f'] = 1\nn += 1"),
             code("%timeit -n 3 -r 2 helper()"), code("print(stats)"), code("print(answer)"), code("n += 1")]
    assert _tainted_reads(cells, {2}, start=3, owed={"answer"}) == [
        f"cell {i} uses {names}, which the exercises compute"
        for i, names in ((3, ["helper"]), (4, ["stats"]), (5, ["answer"]), (6, ["n"]))]


def test_the_static_reading_binds_globals_only():
    """A function's locals, a comprehension's variable and a lambda's argument are not the notebook's."""
    read, bound = _names("def f(a):\n    grad = a * 2\n    return grad\nys = [i for i in range(3)]\n"
                         "h = lambda t: t\ntry:\n    pass\nexcept ValueError as e:\n    pass\n")
    assert bound == {"f", "ys", "h", "e"} and {"a", "grad", "i", "range", "t", "ValueError"} <= read
    assert _names("%%capture out\nz = w")[1] == {"out", "z"}


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
    owed = set().union(*(_names(solution.cells[i].source)[1] for i in changed
                         if solution.cells[i].cell_type == "code"))  # what the solutions bind
    assert not _tainted_reads(nb.cells + tail, exercises, start=last + 1, owed=owed), source.name
