"""The Chinese editions (helpers.course.translation): kept in step with the English, and each mechanism
on tiny notebooks. A failure names the notebook and the cell."""

from __future__ import annotations

import csv
import os
import subprocess
from pathlib import Path

import nbformat
import polib
import pytest

from helpers.course import mainland as ml
from helpers.course import translation as tr

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted(tr.NOTEBOOKS.glob("*.ipynb"))
IDS = [p.stem for p in SOURCES]
EDITIONS = [(folder, p) for folder in tr.FOLDERS.values() for p in SOURCES]


def _english(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _catalog(path: Path) -> polib.POFile:
    return tr.read_catalog(tr.catalog_path(path.name))


@pytest.fixture(scope="module")
def built() -> tuple[dict[Path, str], list[str]]:
    return tr.built()


# ------------------------------------------------------------------------- the repository, in step
@pytest.mark.parametrize("path", SOURCES, ids=IDS)
def test_catalog_has_an_entry_for_every_english_markdown_cell(path):
    po = _catalog(path)
    assert str(tr.update_catalog(_english(path), po, path.name)) == str(po), (
        f"{tr.catalog_path(path.name).relative_to(ROOT)} is not in step with notebooks/{path.name}: "
        "run `python -m helpers.course.translation update`")


@pytest.mark.parametrize("path", SOURCES, ids=IDS)
def test_every_markdown_cell_has_a_current_translation(path):
    """Fails until the notebook's catalog is translated, and after each English edit until it is again."""
    found = tr.gaps(_english(path), _catalog(path))
    assert not found, f"{len(found)} Markdown cells of notebooks/{path.name} lack a current translation " \
        f"in {tr.catalog_path(path.name).relative_to(ROOT)}:\n" + \
        "\n".join(f"  {path.name}, cell {k}: {why}" for k, why in found)


@pytest.mark.parametrize("path", SOURCES, ids=IDS)
def test_translations_keep_the_numbers_code_maths_and_links(path):
    po = _catalog(path)
    current = [e for e in po if e.msgstr and not e.obsolete and "fuzzy" not in e.flags]
    found = [f"{path.name}, cell {e.occurrences[0][1]}: {d}" for e in current
             for d in tr.differences(e.msgid, e.msgstr)]
    assert not found, "\n".join(found)


@pytest.mark.parametrize(("folder", "path"), EDITIONS, ids=[f"{f}-{p.stem}" for f, p in EDITIONS])
def test_translated_notebook_has_the_english_code_outputs_and_numbers(folder, path):
    """The committed edition: only Markdown text differs from the English, and each translated cell carries
    the English cell's numbers, code, maths, links, headings and nbgrader markers."""
    english = _english(path)
    translated = nbformat.read(tr.NOTEBOOKS / folder / path.name, as_version=4)
    found = tr.code_and_outputs_differ(english, translated)
    assert not found, f"notebooks/{folder}/{path.name}: " + "; ".join(found)
    found = [f"cell {k}: {d}" for k, _ in tr.markdown_cells(english)
             for d in tr.differences(english.cells[k].source, translated.cells[k].source)]
    assert not found, f"notebooks/{folder}/{path.name}:\n" + "\n".join(found)


def test_committed_editions_are_what_the_build_writes(built):
    files, _ = built
    stale = [str(p.relative_to(ROOT)) for p, text in files.items()
             if not p.exists() or p.read_text(encoding="utf-8") != text]
    assert not stale, f"run `python -m helpers.course.translation build`: {stale}"
    for folder in tr.FOLDERS.values():  # nothing but the editions of today's notebooks
        assert {p.name for p in (tr.NOTEBOOKS / folder).glob("*.ipynb")} == {p.name for p in SOURCES}
    assert tr.README_CN in files


# -------------------------------------------------------------------------------------- glossary
def _glossary() -> list[dict[str, str]]:
    with (tr.I18N / "glossary.tsv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def test_glossary_is_one_table_with_every_column_filled():
    rows = _glossary()
    assert rows and list(rows[0]) == ["english", "zh_TW", "zh_CN", "note"]
    english = [r["english"] for r in rows]
    assert len(set(english)) == len(english), sorted({e for e in english if english.count(e) > 1})
    assert all(r["english"].strip() and r["zh_TW"].strip() and r["zh_CN"].strip() for r in rows), \
        [r for r in rows if not (r["zh_TW"].strip() and r["zh_CN"].strip())]


def test_every_glossary_term_converts_to_its_mainland_term():
    """OpenCC tw2sp plus the overrides turns each zh_TW term into the glossary's zh_CN term: the two
    editions use one vocabulary. A failing row needs an override (i18n/zh_CN_overrides.tsv, with a reason)
    or a corrected zh_CN."""
    wrong = [f"{r['english']}: {r['zh_TW']} → {ml.to_mainland(r['zh_TW'])}, the glossary says {r['zh_CN']}"
             for r in _glossary() if ml.to_mainland(r["zh_TW"]) != r["zh_CN"]]
    assert not wrong, "\n".join(wrong)


def test_every_override_corrects_opencc():
    """Each override changes what OpenCC alone would write (or guards a longer phrase against a shorter
    override inside it): one that OpenCC already gets right is noise that could fire where it should not."""
    overrides = ml.read_overrides()
    for phrase, mainland in overrides.table.items():
        guards = any(other != phrase and other in phrase for other in overrides.table)
        assert guards or ml._opencc().convert(phrase) != mainland, f"{phrase}: OpenCC gives {mainland}"


# ------------------------------------------------------------------------ the mechanisms, in memory
def _nb(*cells) -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=list(cells))


md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell


def _translated(po: polib.POFile, texts: dict[str, str]) -> polib.POFile:
    for e in po:
        e.msgstr = texts.get(e.msgid, e.msgstr)
    return po


def test_update_adds_new_cells_marks_changed_ones_fuzzy_and_keeps_vanished_ones_obsolete():
    nb = _nb(md("# 1 · Saliency\n\nThe gradient of the logit."), code("x = 1"), md("Noise of 0.1 hides it."),
             md("# 1 · Saliency\n\nThe gradient of the logit."), md("A cell about LIME."))
    po = _translated(tr.update_catalog(nb, None, "a.ipynb"), {
        "# 1 · Saliency\n\nThe gradient of the logit.": "# 1 · Saliency Map\n\nlogit 的梯度。",
        "Noise of 0.1 hides it.": "0.1 的雜訊會蓋過它。", "A cell about LIME.": "關於 LIME 的一段。"})
    # one entry per distinct text, its cells as occurrences
    assert [e.occurrences for e in po] == [[("a.ipynb", "0"), ("a.ipynb", "3")], [("a.ipynb", "2")],
                                           [("a.ipynb", "4")]]
    before = str(po)
    edited = _nb(md("# 1 · Saliency\n\nThe gradient of the logit."), code("x = 1"),
                 md("Noise of 0.2 hides it."), md("A brand new cell."))
    after = tr.update_catalog(edited, po, "a.ipynb")
    assert str(po) == before  # the caller's catalog is not modified
    by_id = {e.msgid: e for e in after}
    changed = by_id["Noise of 0.2 hides it."]
    assert changed.flags == ["fuzzy"] and changed.msgstr == "0.1 的雜訊會蓋過它。"
    assert changed.previous_msgid == "Noise of 0.1 hides it."  # what the translator compares
    assert by_id["A brand new cell."].msgstr == "" and not by_id["A brand new cell."].flags
    assert by_id["A cell about LIME."].obsolete and by_id["A cell about LIME."].msgstr == "關於 LIME 的一段。"
    assert not by_id["# 1 · Saliency\n\nThe gradient of the logit."].flags
    # the gaps name the cells: the stale one and the new one; the cell whose text came back is current again
    assert tr.gaps(edited, after) == [(2, "fuzzy: its English changed since it was translated "
                                          "(see the entry's #| msgid)"), (3, "not translated yet")]
    assert tr.gaps(edited, po)[0][0] == 2 and "no entry" in tr.gaps(edited, po)[0][1]
    again = tr.update_catalog(nb, after, "a.ipynb")
    assert tr.translations(again)["A cell about LIME."] == "關於 LIME 的一段。"
    # a catalog survives a save and a read unchanged
    assert str(polib.pofile(str(after), wrapwidth=0)) == str(after)


def test_translate_notebook_replaces_only_markdown_and_refuses_a_stale_cell():
    nb = _nb(md("Ten classes."), code("print(10)", outputs=[nbformat.v4.new_output("stream", text="10\n")]),
             md("Stale text."))
    nb.cells[1].metadata["nbgrader"] = {"grade": True, "points": 1}
    before = nbformat.writes(nb)
    with pytest.raises(ml.TranslationError, match=r"a\.ipynb: no current translation of the Markdown cell"
                                                   r"\(s\) 2"):
        tr.translate_notebook(nb, {"Ten classes.": "十個類別（10 classes）。"}, name="a.ipynb")
    out = tr.translate_notebook(nb, {"Ten classes.": "十個類別（10 classes）。"}, name="a.ipynb",
                                keep_english=True)
    assert nbformat.writes(nb) == before
    assert out.cells[0].source == "十個類別（10 classes）。"
    assert out.cells[2].source == tr.UNTRANSLATED_NOTE + "Stale text."  # visibly English
    assert tr.code_and_outputs_differ(nb, out) == []


def test_changed_code_outputs_or_metadata_are_named_by_cell():
    nb = _nb(md("Text."), code("print(1)", outputs=[nbformat.v4.new_output("stream", text="1\n")]))
    edited = nbformat.from_dict(nbformat.reads(nbformat.writes(nb), as_version=4))
    edited.cells[0].source = "文字。"
    assert tr.code_and_outputs_differ(nb, edited) == []
    edited.cells[1].source = "print(2)"
    edited.cells[1].outputs[0].text = "2\n"
    edited.cells[1].metadata["nbgrader"] = {"locked": True}
    assert tr.code_and_outputs_differ(nb, edited) == ["cell 1: its metadata differs from the English",
                                                      "cell 1: its outputs differs from the English",
                                                      "cell 1: its source differs from the English"]
    edited.cells.pop()
    assert tr.code_and_outputs_differ(nb, edited) == ["1 cells, the English has 2"]


def test_a_lost_number_or_a_translated_marker_is_found():
    english = "## 3 · PGD\n\nTwenty steps of $\\alpha = 0.01$ reach 88 % (see [a paper](https://x.org)).\n" \
              "### BEGIN SOLUTION\nBecause `eps` is 0.1.\n### END SOLUTION"
    half = "## 3 · PGD\n\n以 $\\alpha = 0.01$ 走 20 步……"
    assert tr.differences(english, english) == []
    faithful = "## 3 · PGD\n\n二十步 $\\alpha = 0.01$ 達到 88 %（見[論文](https://x.org)）。\n" \
               "### BEGIN SOLUTION\n因為 `eps` 是 0.1。\n### END SOLUTION"
    assert tr.differences(english, faithful) == []
    lost = faithful.replace("88 %", "八成").replace("### END SOLUTION", "### 解答結束")
    assert tr.differences(english, lost) == [
        "numbers differ from the English: missing ['88'], extra []",
        "nbgrader markers differ from the English: missing ['### END SOLUTION'], extra []"]
    assert tr.differences(english, half)  # half a cell is not a translation


def test_to_mainland_converts_prose_and_applies_the_overrides_longest_first():
    overrides = ml.Overrides({"穩健": "鲁棒", "可驗證的穩健性": "可证明的鲁棒性", "查詢": "查询"},
                             {"穩健": "r", "可驗證的穩健性": "r", "查詢": "r"})
    text = "程式碼與資料：穩健的模型、可驗證的穩健性，以及黑箱查詢。"
    assert ml.to_mainland(text, overrides) == "代码与数据：鲁棒的模型、可证明的鲁棒性，以及黑箱查询。"
    assert ml._opencc().convert("查詢") == "查找"  # what the override corrects
    opencc_alone = "代码与数据：稳健的模型、可验证的稳健性，以及黑箱查找。"
    assert ml.to_mainland(text, ml.Overrides({}, {})) == opencc_alone


def test_protected_spans_are_never_converted():
    """Code, LaTeX, URLs and HTML are copied untouched, also where an override's phrase occurs in them."""
    spans = ["`查詢(資料)`", "`查詢\n資料`", "```python\n# 程式 查詢\nprint('資料')\n```",
             "$\\text{雜訊} = 0.1$",
             "$$\\text{穩健}$$", "](https://example.org/查詢/資料)", "https://example.tw/程式",
             '<img alt="資料" src="x.png">', "<!-- 程式 -->"]
    for span in spans:
        text = f"查詢資料 {span} 查詢資料"
        assert ml.to_mainland(text) == f"查询数据 {span} 查询数据", span
    assert ml.to_mainland("[程式](https://a.tw/程式)") == "[程序](https://a.tw/程式)"


def test_overrides_table_refuses_a_row_without_a_reason(tmp_path):
    path = tmp_path / "o.tsv"
    path.write_text("zh_TW\tzh_CN\treason\n黑箱\t黑盒\t\n", encoding="utf-8")
    with pytest.raises(ml.TranslationError, match=r"o\.tsv, line 2: expected zh_TW, zh_CN and a reason"):
        ml.read_overrides(path)
    path.write_text("黑箱\t黑盒\tx\n", encoding="utf-8")
    with pytest.raises(ml.TranslationError, match="header"):
        ml.read_overrides(path)


def test_build_update_and_check_on_a_tiny_course(tmp_path):
    notebooks, i18n = tmp_path / "notebooks", tmp_path / "i18n"
    notebooks.mkdir()
    nb = _nb(md("# Start\n\nAn image of 28×28 pixels."), code("print(28)"))
    nbformat.write(nb, notebooks / "a.ipynb")
    assert tr.update_catalogs(notebooks, i18n) == [f"{i18n / 'zh_TW' / 'a.po'}: 1 entries, 1 untranslated, "
                                                   "0 fuzzy, 0 obsolete"]
    assert tr.update_catalogs(notebooks, i18n) == []  # nothing to do twice
    po = tr.read_catalog(i18n / "zh_TW" / "a.po")
    assert [e.msgid for e in po] == ["# Start\n\nAn image of 28×28 pixels."]
    assert tr.build(notebooks, i18n) == ["a.ipynb, cell 0: not translated yet"]
    assert "a.ipynb, cell 0: not translated yet" in tr.check(notebooks, i18n)
    po[0].msgstr = "# 開始\n\n一張 28×28 像素的圖片，預設的資料。"
    po.save(str(i18n / "zh_TW" / "a.po"))
    assert tr.check(notebooks, i18n) == ["notebooks/zh-TW/a.ipynb: not what the build writes (run `build`)",
                                         "notebooks/zh-CN/a.ipynb: not what the build writes (run `build`)"]
    assert tr.build(notebooks, i18n) == []
    assert tr.check(notebooks, i18n) == []
    cn = nbformat.read(notebooks / "zh-CN" / "a.ipynb", as_version=4)
    assert cn.cells[0].source == "# 开始\n\n一张 28×28 像素的图像，默认的数据。"  # 圖片 → 图像: an override
    # the English changes: the catalog goes stale, then the translation fuzzy, and the check names the cell
    nb.cells[0].source = "# Start\n\nAn image of 32×32 pixels."
    nbformat.write(nb, notebooks / "a.ipynb")
    assert any("not in step with a.ipynb" in p for p in tr.check(notebooks, i18n))
    tr.update_catalogs(notebooks, i18n)
    problems = tr.check(notebooks, i18n)
    assert "a.ipynb, cell 0: fuzzy: its English changed since it was translated (see the entry's #| msgid)" \
        in problems
    tr.build(notebooks, i18n)
    assert nbformat.read(notebooks / "zh-TW" / "a.ipynb", as_version=4).cells[0].source.startswith(
        tr.UNTRANSLATED_NOTE)
    # a notebook removed from the English leaves the editions
    (notebooks / "a.ipynb").unlink()
    tr.build(notebooks, i18n)
    assert not list((notebooks / "zh-TW").glob("*.ipynb"))


def test_the_command_line(capsys):
    assert tr.main([]) == 2 and "update" in capsys.readouterr().err
    assert tr.main(["frobnicate"]) == 2


def test_readmes_say_what_stays_english():
    tw = tr.README_TW.read_text(encoding="utf-8")
    for needed in ("make lab LANG=zh_TW", "make lab LANG=zh_CN", "notebooks/zh-TW"):
        assert needed in tw, needed
    for needed in ("程式碼裡的註解", "輸出都維持英文", "圖保留英文標籤", "不重新執行"):
        assert needed in tw, needed
    cn = tr.README_CN.read_text(encoding="utf-8")
    for needed in ("代码里的注释", "输出都维持英文", "图保留英文标签", "LANG=zh_CN", "notebooks/zh-CN/00_"):
        assert needed in cn, needed


def _make_n(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-n", *args], cwd=ROOT, env={**os.environ, "LANG": "C.UTF-8"},
                          capture_output=True, text=True, timeout=60)


def test_make_lab_lang_picks_the_edition_and_keeps_the_locale():
    """What `make lab LANG=…` would run (make -n; tests/test_readme.py starts the real one): the edition's
    folder, its JupyterLab settings and the [zh] extra; the locale is the one make was started with."""
    for lang, folder in tr.FOLDERS.items():
        plan = _make_n("lab", f"LANG={lang}").stdout
        assert f"cd notebooks/{folder} &&" in plan and f"etc/jupyter-course-{lang}:" in plan, plan
        assert (ROOT / f"etc/jupyter-course-{lang}/labconfig/default_setting_overrides.json").is_file()
    plan = _make_n("lab", "LANG=en").stdout
    assert "cd notebooks &&" in plan and "jupyter-course-zh" not in plan, plan
    refused = _make_n("lab", "LANG=fr")
    assert refused.returncode != 0 and "make lab knows LANG=en, LANG=zh_TW and LANG=zh_CN; got LANG=fr" in \
        refused.stderr
    # the recipe's shell sees the locale make was started with, not the course's language
    script = "include Makefile\nshow-lang:\n\t@echo LANG=$${LANG-unset}\n"
    done = subprocess.run(["make", "-s", "-f", "-", "show-lang", "LANG=zh_TW"], input=script, cwd=ROOT,
                          env={**os.environ, "LANG": "C.UTF-8"}, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() in {"LANG=C.UTF-8", "LANG=unset"}, done.stdout + done.stderr  # unset: make 4.4
    # elsewhere LANG keeps its meaning: `make test LANG=C` runs the tests in the C locale
    done = subprocess.run(["make", "-s", "-f", "-", "show-lang", "LANG=C"], input=script, cwd=ROOT,
                          env={**os.environ, "LANG": "C.UTF-8"}, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "LANG=C", done.stdout + done.stderr


def test_update_restores_the_layout_after_an_editor_wrapped_the_lines(tmp_path):
    notebooks, i18n = tmp_path / "notebooks", tmp_path / "i18n"
    notebooks.mkdir()
    long = "A long paragraph " * 12 + "that an editor would wrap."
    nbformat.write(_nb(md(long)), notebooks / "a.ipynb")
    tr.update_catalogs(notebooks, i18n)
    path = i18n / "zh_TW" / "a.po"
    kept = path.read_text(encoding="utf-8")
    wrapped = polib.pofile(str(path), wrapwidth=78)  # how Poedit and msgcat save by default
    wrapped[0].msgstr = "很長的一段。" * 20
    wrapped.save(str(path))
    assert len(path.read_text(encoding="utf-8").splitlines()) > len(kept.splitlines()) + 2
    assert tr.update_catalogs(notebooks, i18n)  # rewritten: the same entries, one line per source line
    assert tr.read_catalog(path)[0].msgstr == "很長的一段。" * 20
    assert len(path.read_text(encoding="utf-8").splitlines()) == len(kept.splitlines())
