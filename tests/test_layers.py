"""DESIGN.md's dependency rule, checked on the source: every import inside ``helpers`` (a function's lazy
import included) goes to a lower layer. ``explain`` and ``attacks`` share a layer, so neither imports the
other; ``defenses`` sits above ``attacks`` (adversarial training needs an attack); the zoo and the widgets
above all three; ``course`` above everything."""

from __future__ import annotations

import ast
from pathlib import Path

import helpers

ROOT = Path(helpers.__file__).resolve().parent

LAYERS = [
    {"_checks"},
    {"_contract", "_assets", "runtime", "text", "audio", "imaging", "training"},
    {"models", "data", "viz"},
    {"faces"},
    {"explain", "attacks"},
    {"defenses"},
    {"zoo", "widgets"},
    {"course"},
]
RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}


def _unit(module: str) -> str:
    """helpers.X.Y → X: the top-level module or package of ``helpers`` that ``module`` belongs to."""
    return module.split(".")[1]


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported helpers module) for every import statement in ``path``, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("helpers"):
            names = [f"helpers.{a.name}" for a in node.names] if node.module == "helpers" else [node.module]
            found += [(node.lineno, name) for name in names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("helpers.")]
    return found


def test_every_unit_of_helpers_has_a_layer():
    units = {p.stem if p.is_file() else p.name for p in ROOT.iterdir()
             if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()}
    assert units == set(RANK), f"give these a layer in LAYERS (and DESIGN.md): {sorted(units ^ set(RANK))}"


def test_imports_go_down_the_layers_only():
    wrong = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT.parent)
        if len(relative.parts) == 2 and relative.name == "__init__.py":
            continue  # helpers/__init__.py names the package's parts
        here = _unit(".".join(relative.with_suffix("").parts))
        for line, module in _imports(path):
            there = _unit(module)
            if there != here and RANK[there] >= RANK[here]:
                wrong.append(f"{relative}:{line} imports {module} ({there} is not below {here})")
    assert not wrong, "\n".join(wrong)


def test_the_check_catches_a_lazy_import_upwards(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from helpers.defenses.filters import jpeg\n    return jpeg\n")
    assert _imports(source) == [(2, "helpers.defenses.filters")]


def _body_lines(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """The lines of a function's body after its docstring."""
    body = function.body
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    return body[-1].end_lineno - body[0].lineno + 1 if body else 0


def test_modules_and_functions_stay_short():
    """DESIGN's size rule: no module of ``helpers`` over 320 lines, at most 3 functions whose body (after the
    docstring) runs over 40 lines — split by concern before a file or a function outgrows one reading."""
    long_modules, long_functions = [], []
    for path in sorted(ROOT.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > 320:
            long_modules.append(f"{path.relative_to(ROOT.parent)}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _body_lines(node) > 40:
                long_functions.append(f"{path.relative_to(ROOT.parent)}:{node.lineno} {node.name} "
                                      f"({_body_lines(node)} lines)")
    assert not long_modules, "split these by concern: " + "; ".join(long_modules)
    assert len(long_functions) <= 3, "more than 3 functions over 40 body lines: " + "; ".join(long_functions)
