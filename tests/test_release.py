"""The teaching release (helpers.course.release): student versions, solutions, HTML, and its refusals."""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path

import nbformat
import pytest

from helpers.course import release as rel

SOURCES = sorted(rel.NOTEBOOKS_DIR.glob("*.ipynb"))
WITH_EXERCISES = [p for p in SOURCES if "### BEGIN SOLUTION" in p.read_text(encoding="utf-8")]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> tuple[Path, dict[str, list[int]]]:
    out = tmp_path_factory.mktemp("release")
    return out, rel.release(out)


def _pair(out: Path, source: Path) -> tuple[nbformat.NotebookNode, nbformat.NotebookNode]:
    return nbformat.read(source, as_version=4), nbformat.read(out / "student" / source.name, as_version=4)


def test_every_notebook_has_both_versions_and_html(released):
    out, changed = released
    assert set(changed) == {p.name for p in SOURCES}
    for source in SOURCES:
        for kind in ("student", "solution"):
            assert (out / kind / source.name).is_file()
            html = (out / kind / source.with_suffix(".html").name).read_text(encoding="utf-8")
            assert html.startswith("<!DOCTYPE html>") and "</html>" in html
    # the course has exercises in these notebooks, and the homework notebooks are among them
    assert {"hw5_explain.ipynb", "hw6_attack.ipynb"} <= {p.name for p in WITH_EXERCISES}
    assert all(changed[p.name] for p in WITH_EXERCISES)


def test_html_shows_each_explorer_as_its_static_picture(released):
    """An explorer's output carries a PNG beside its widget view; the HTML shows the PNG (no kernel, no
    CDN)."""
    out, _ = released
    explorers = 0
    for source in SOURCES:
        solution = nbformat.read(source, as_version=4)
        html = (out / "solution" / source.with_suffix(".html").name).read_text(encoding="utf-8")
        for cell in solution.cells:
            for output in cell.get("outputs", []):
                data = output.get("data", {})
                if rel.WIDGET_VIEW in data and "image/png" in data:
                    explorers += 1
                    assert f"data:image/png;base64,{data['image/png']}" in html, source.name
                    view = f'"model_id": "{data[rel.WIDGET_VIEW]["model_id"]}"'
                    assert view not in html, source.name  # no view
    assert explorers >= 4  # notebooks 02, 03, 06 and 09


def test_no_solution_line_survives_and_no_marker_is_left(released):
    out, _ = released
    for source in SOURCES:
        solution, student = _pair(out, source)
        assert len(student.cells) == len(solution.cells)
        for index, (before, after) in enumerate(zip(solution.cells, student.cells)):
            kept, blocks = rel.split_cell(before.source, before.cell_type, f"{source.name}, cell {index}")
            outside = {line.strip() for line in kept.splitlines()}
            after_lines = {line.strip() for line in after.source.splitlines()}
            secret = {line.strip() for block in blocks for line in block.lines if line.strip()} - outside
            assert not secret & after_lines, f"{source.name}, cell {index} leaks {secret & after_lines}"
            assert "### BEGIN" not in after.source and "### END" not in after.source
            if any(b.kind == "solution" for b in blocks):
                stub = "raise NotImplementedError()" if before.cell_type == "code" else rel.ANSWER_STUB
                assert stub in after.source


def _without_locks(cell: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``cell`` less what nbgrader's generate_assignment adds to a student version (locks, checksums)."""
    cell = copy.deepcopy(cell)
    for key in ("deletable", "editable"):
        cell.metadata.pop(key, None)
    for key in ("checksum", "cell_type"):
        cell.metadata.get("nbgrader", {}).pop(key, None)
    return cell


def test_changed_and_grading_cells_lose_their_outputs_and_the_rest_is_kept(released):
    out, changed = released
    for source in SOURCES:
        solution, student = _pair(out, source)
        for index, (before, after) in enumerate(zip(solution.cells, student.cells)):
            if before.cell_type != "code":
                assert index in changed[source.name] or _without_locks(after) == before
                continue
            if index in changed[source.name] or rel.GRADING_CALL.search(before.source):
                assert after.outputs == [] and after.execution_count is None
            else:
                assert _without_locks(after) == before, (
                    f"{source.name}, cell {index} changed although it has no exercise"
                )


def test_solutions_are_the_committed_notebooks_whose_checks_pass(released):
    """The solution versions are the committed notebooks byte for byte (nbval re-executes exactly these in
    `make test`, failing on any error); here: no error output, and every check cell shows its ✔."""
    out, _ = released
    for source in SOURCES:
        solution = nbformat.read(out / "solution" / source.name, as_version=4)
        assert solution == nbformat.read(source, as_version=4)
        for index, cell in enumerate(solution.cells):
            if cell.cell_type != "code":
                continue
            assert not [o for o in cell.outputs if o.output_type == "error"], f"{source.name}, cell {index}"
            if "grading.check(" in cell.source:  # one ✔ per visible check; hidden checks pass silently
                text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
                visible, _ = rel.split_cell(cell.source, "code", f"{source.name}, cell {index}")
                assert text.count("✔") == visible.count("grading.check("), f"{source.name}, cell {index}"


def test_a_second_run_writes_identical_files(released):
    out, _ = released
    first = _snapshot(out)  # written from scratch by the fixture
    rel.release(out)  # again, over the files: a byte that came out differently is rewritten
    assert _snapshot(out) == first


def _write(folder: Path, name: str, *cells: nbformat.NotebookNode) -> None:
    folder.mkdir(exist_ok=True)
    nbformat.write(nbformat.v4.new_notebook(cells=list(cells)), folder / name)


def test_markdown_answers_and_hidden_tests(tmp_path):
    src = tmp_path / "src"
    _write(src, "a.ipynb",
           nbformat.v4.new_markdown_cell("Why?\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION"),
           nbformat.v4.new_code_cell("def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n"
                                     "    ### END SOLUTION"),
           nbformat.v4.new_code_cell("assert f(1) == 2\n### BEGIN HIDDEN TESTS\nassert f(3) == 6\n"
                                     "### END HIDDEN TESTS"))
    rel.release(tmp_path / "out", notebooks=src, html=False, points={"a/answer_1": 1})
    student = nbformat.read(tmp_path / "out" / "student" / "a.ipynb", as_version=4)
    assert [c.source for c in student.cells] == [
        "Why?\nYOUR ANSWER HERE",
        "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()",
        "assert f(1) == 2",
    ]


@pytest.mark.parametrize(
    "source, message",
    [
        ("### BEGIN SOLUTION\nx = 1", r"bad\.ipynb, cell 1: a solution block is never closed"),
        ("x = 1\n### END SOLUTION", r"bad\.ipynb, cell 1, line 2: '### END SOLUTION' without a matching"),
        ("### BEGIN SOLUTION\n### BEGIN HIDDEN TESTS\n### END HIDDEN TESTS\n### END SOLUTION",
         r"bad\.ipynb, cell 1, line 2: '### BEGIN HIDDEN TESTS' inside an open solution block"),
        ("### BEGIN HIDDEN TESTS\n### END SOLUTION",
         r"cell 1, line 2: '### END SOLUTION' without a matching"),
    ],
)
def test_malformed_markers_are_reported_by_notebook_and_cell(tmp_path, source, message):
    src = tmp_path / "src"
    _write(src, "bad.ipynb", nbformat.v4.new_markdown_cell("fine"), nbformat.v4.new_code_cell(source))
    with pytest.raises(rel.ReleaseError, match=message):
        rel.release(tmp_path / "out", notebooks=src)
    assert not (tmp_path / "out").exists(), "nothing is written when a notebook is malformed"
    assert rel.main(["--out", str(tmp_path / "out"), "--notebooks", str(src)]) == 1


@pytest.mark.parametrize("marker", ["### Begin Solution", "### end SOLUTION", "## BEGIN HIDDEN TESTS"])
def test_a_mis_cased_marker_is_refused_naming_notebook_and_cell(tmp_path, marker):
    src = tmp_path / "src"
    _write(src, "b.ipynb", nbformat.v4.new_markdown_cell("intro"),
           nbformat.v4.new_code_cell(f"{marker}\nanswer = 42"))
    with pytest.raises(rel.ReleaseError, match=r"b\.ipynb, cell 1, line 1"):
        rel.release(tmp_path / "out", notebooks=src, html=False)


def test_a_graded_cell_without_points_is_refused(tmp_path, capsys):
    src = tmp_path / "src"
    _write(src, "a.ipynb", nbformat.v4.new_markdown_cell("### BEGIN SOLUTION\nBecause.\n### END SOLUTION"))
    assert rel.main(["--out", str(tmp_path / "out"), "--notebooks", str(src)]) == 1
    assert "a.ipynb, cell 0: no points for 'a/answer_1'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_refuses_to_write_inside_the_notebooks_folder(tmp_path, capsys):
    with pytest.raises(rel.ReleaseError, match="inside .*notebooks"):
        rel.release(rel.NOTEBOOKS_DIR / "release")
    with pytest.raises(rel.ReleaseError, match="inside"):
        rel.release(rel.NOTEBOOKS_DIR)
    assert rel.main(["--out", str(rel.NOTEBOOKS_DIR / "x")]) == 1
    assert "never writes into the source notebooks" in capsys.readouterr().err
    assert not (rel.NOTEBOOKS_DIR / "x").exists()
    (tmp_path / "file").write_text("")
    with pytest.raises(rel.ReleaseError, match="not a folder"):
        rel.release(tmp_path / "file")


def test_release_never_writes_through_a_symlink_into_the_notebooks(tmp_path):
    src = tmp_path / "src"
    _write(src, "a.ipynb", nbformat.v4.new_code_cell("def f(x):\n    ### BEGIN SOLUTION\n    return x\n"
                                                     "    ### END SOLUTION"))
    before = (src / "a.ipynb").read_bytes()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "student").symlink_to(src, target_is_directory=True)
    with pytest.raises(rel.ReleaseError, match="inside"):
        rel.release(tmp_path / "out", notebooks=src, html=False)
    assert (src / "a.ipynb").read_bytes() == before
    assert not (tmp_path / "out" / "solution").exists(), "nothing is written once a path is refused"


def test_a_notebook_removed_from_the_course_leaves_nothing_behind(tmp_path):
    src = tmp_path / "src"
    _write(src, "a.ipynb", nbformat.v4.new_code_cell("1"))
    _write(src, "b.ipynb", nbformat.v4.new_code_cell("2"))
    rel.release(tmp_path / "out", notebooks=src)
    (src / "b.ipynb").unlink()
    (tmp_path / "out" / "student" / "notes.txt").write_text("mine")
    rel.release(tmp_path / "out", notebooks=src)
    written = sorted(p.name for p in (tmp_path / "out" / "student").iterdir())
    assert written == ["a.html", "a.ipynb", "notes.txt"]


# ---- the Chinese releases ------------------------------------------------------------------------
CJK = re.compile("[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def released_zh(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("release")
    assert rel.main(["--out", str(out), "--lang", "zh-TW", "--no-html"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["solution", "student"]
    return out


def _without_markdown_checksum(cell: nbformat.NotebookNode) -> dict:
    meta = copy.deepcopy(dict(cell.metadata))
    if cell.cell_type == "markdown" and "nbgrader" in meta:
        meta["nbgrader"] = {k: v for k, v in meta["nbgrader"].items() if k != "checksum"}
    return meta


@pytest.mark.parametrize("kind", ["student", "solution"])
def test_a_chinese_release_translates_the_prose_and_keeps_what_nbgrader_reads(released, released_zh, kind):
    from nbgrader.utils import compute_checksum

    out, _ = released
    for source in SOURCES:
        english = nbformat.read(out / kind / source.name, as_version=4)
        chinese = nbformat.read(released_zh / kind / "zh-TW" / source.name, as_version=4)
        assert chinese.metadata == english.metadata and len(chinese.cells) == len(english.cells)
        for index, (en, zh) in enumerate(zip(english.cells, chinese.cells)):
            where = f"{kind}/{source.name}, cell {index}"
            assert zh.cell_type == en.cell_type, where
            assert _without_markdown_checksum(zh) == _without_markdown_checksum(en), where
            if en.cell_type == "code":  # code, stubs, outputs: the English release's
                assert (zh.source, zh.outputs) == (en.source, en.outputs), where
            elif en.source.strip() and en.source != "YOUR ANSWER HERE":
                assert CJK.search(zh.source) and not CJK.search(en.source), where
            else:
                assert zh.source == en.source, where
            if "checksum" in zh.metadata.get("nbgrader", {}):  # what nbgrader checks a submission against
                assert zh.metadata.nbgrader.checksum == compute_checksum(zh), where
    assert "YOUR ANSWER HERE" in (released_zh / "student" / "zh-TW" / "hw5_explain.ipynb").read_text("utf-8")


def test_a_simplified_chinese_release(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "hw5_explain.ipynb").write_bytes((rel.NOTEBOOKS_DIR / "hw5_explain.ipynb").read_bytes())
    out = tmp_path / "out"
    rel.release(out, notebooks=src, html=False)  # English and Chinese, side by side
    rel.release(out, notebooks=src, html=False, lang="zh-CN")
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.ipynb")) == [
        "solution/hw5_explain.ipynb", "solution/zh-CN/hw5_explain.ipynb",
        "student/hw5_explain.ipynb", "student/zh-CN/hw5_explain.ipynb"]
    student = nbformat.read(out / "student" / "zh-CN" / "hw5_explain.ipynb", as_version=4)
    text = "".join(c.source for c in student.cells if c.cell_type == "markdown")
    assert "作业" in text and "作業" not in text


def test_a_cell_without_a_current_translation_is_an_error_naming_it(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    nb = nbformat.read(rel.NOTEBOOKS_DIR / "hw5_explain.ipynb", as_version=4)
    index = next(k for k, c in enumerate(nb.cells) if k > 0 and c.cell_type == "markdown")
    nb.cells[index].source += "\n\nA sentence added since the translation."
    nbformat.write(nb, src / "hw5_explain.ipynb")
    with pytest.raises(rel.ReleaseError, match=rf"zh-TW: hw5_explain\.ipynb: no current translation of the "
                                               rf"Markdown cell\(s\) {index}$"):
        rel.release(tmp_path / "out", notebooks=src, lang="zh-TW")
    assert not (tmp_path / "out").exists(), "nothing is written when a translation is missing"
    new = tmp_path / "new"
    _write(new, "no_catalog.ipynb", nbformat.v4.new_markdown_cell("A notebook nobody translated"))
    assert rel.main(["--out", str(tmp_path / "out"), "--notebooks", str(new), "--lang", "zh-CN"]) == 1
    assert "zh-CN: cannot read the catalog" in capsys.readouterr().err
    with pytest.raises(ValueError, match="lang must be one of en, zh-TW, zh-CN; got 'fr'"):
        rel.release(tmp_path / "out", notebooks=src, lang="fr")


def test_without_polib_a_chinese_release_says_what_to_install(tmp_path, monkeypatch):
    import helpers.course

    monkeypatch.setitem(sys.modules, "polib", None)  # as if polib were not installed: translation imports it
    monkeypatch.delitem(sys.modules, "helpers.course.translation", raising=False)
    monkeypatch.delattr(helpers.course, "translation", raising=False)
    with pytest.raises(rel.ReleaseError, match=r"--lang zh-TW needs polib and opencc .*\[instructor\]"):
        rel.release(tmp_path / "out", lang="zh-TW")
    assert not (tmp_path / "out").exists()
