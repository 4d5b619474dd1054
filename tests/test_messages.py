"""The checks speak the notebook's language: the grading messages' catalog, its .mo files and the choice."""

import polib
import pytest
import torch

from helpers import explain
from helpers.course import grading, language, messages

WRONG_SHAPE = (lambda m, x, t: explain.saliency(m, x, t).sum(1))  # noqa: E731 — a wrong answer


@pytest.fixture(autouse=True)
def english_by_default(monkeypatch, tmp_path):
    """No language from the environment the tests were started in."""
    monkeypatch.delenv("HELPERS_LANG", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    monkeypatch.chdir(tmp_path)


def test_every_message_has_a_current_translation_keeping_its_placeholders():
    po = polib.pofile(str(messages.catalog_path()), wrapwidth=0)
    found = messages.templates()
    assert len(found) > 50 and "{id}, {test} of {n}: {problem}" in found  # the extraction sees grading.py
    assert messages.problems(po, found) == []
    assert str(messages.update(po, found)) == str(po), "run `python -m helpers.course.translation update`"


def test_a_message_without_translation_or_with_lost_placeholders_is_named():
    found = {"expected {expected:.6g}, got {got:.6g}": ["grading.py:93"], "none yet": ["grading.py:255"],
             "test {k}": ["grading.py:195"], "a new message": ["grading.py:300"]}
    po = messages.update(None, {})
    po.append(polib.POEntry(msgid="expected {expected:.6g}, got {got:.6g}",
                            msgstr="應為 {expected}，卻得到 {got:.6g}"))  # lost its format
    po.append(polib.POEntry(msgid="none yet", msgstr="還沒有", flags=["fuzzy"]))
    po.append(polib.POEntry(msgid="test {k}", msgstr="測試 {k}"))
    problems = messages.problems(po, found)
    assert len(problems) == 3
    assert "grading.py:93: 'expected {expected:.6g}, got {got:.6g}': the placeholders" in problems[0]
    assert problems[1] == "grading.py:255: 'none yet': fuzzy"
    assert problems[2] == "grading.py:300: 'a new message': no entry (run `update`)"
    # update: the new message gets an empty entry, a vanished translated one turns obsolete
    updated = messages.update(po, {"test {k}": ["grading.py:1"], "a new message": ["exercises.py:9"]})
    assert [(e.msgid, e.msgstr, e.obsolete) for e in updated] == [
        ("test {k}", "測試 {k}", False), ("a new message", "", False),
        ("expected {expected:.6g}, got {got:.6g}", "應為 {expected}，卻得到 {got:.6g}", True),
        ("none yet", "還沒有", True)]
    assert updated[1].occurrences == [("exercises.py", "")]


def test_the_mo_files_are_what_the_build_writes():
    files = messages.built()
    assert set(files) == {messages.mo_path("zh_TW"), messages.mo_path("zh_CN")}
    for path, data in files.items():
        assert path.read_bytes() == data, f"{path}: run `python -m helpers.course.translation build`"
    assert messages.check() == []


@pytest.mark.parametrize("setting, expected", [
    ({"HELPERS_LANG": "zh-TW"}, "zh_TW"), ({"HELPERS_LANG": "zh_CN"}, "zh_CN"),
    ({"HELPERS_LANG": "en"}, "en"),
    ({"JPY_SESSION_NAME": "zh-TW/04_hw5_explain_a_cnn.ipynb"}, "zh_TW"),
    ({"JPY_SESSION_NAME": "/home/me/course/notebooks/zh-CN/hw6_attack.ipynb"}, "zh_CN"),
    ({"JPY_SESSION_NAME": "notebooks/04_hw5_explain_a_cnn.ipynb"}, "en"),
    ({"HELPERS_LANG": "en", "JPY_SESSION_NAME": "zh-TW/hw5_explain.ipynb"}, "en"),  # the setting wins
])
def test_the_language_is_chosen_at_each_call(monkeypatch, setting, expected):
    for name, value in setting.items():
        monkeypatch.setenv(name, value)
    assert language.current() == expected


def test_without_a_setting_the_current_folder_decides(monkeypatch, tmp_path):
    assert language.current() == "en"
    (tmp_path / "zh-TW").mkdir()
    monkeypatch.chdir(tmp_path / "zh-TW")
    assert language.current() == "zh_TW"
    monkeypatch.setenv("JPY_SESSION_NAME", "notebooks/hw5_explain.ipynb")  # the notebook's path comes first
    assert language.current() == "en"


def test_an_unknown_language_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("HELPERS_LANG", "fr")
    with pytest.raises(ValueError, match="HELPERS_LANG must be one of en, zh-TW"):
        language.current()


@pytest.mark.parametrize("setting, message", [
    ({"HELPERS_LANG": "zh-TW"}, "saliency，測試 1（共 2 個）：形狀應為 (3, 1, 10, 10)，卻得到 (3, 10, 10)"),
    ({"HELPERS_LANG": "zh-CN"}, "saliency，测试 1（共 2 个）：形状应为 (3, 1, 10, 10)，却得到 (3, 10, 10)"),
    ({"JPY_SESSION_NAME": "zh-TW/04_hw5_explain_a_cnn.ipynb"},
     "saliency，測試 1（共 2 個）：形狀應為 (3, 1, 10, 10)，卻得到 (3, 10, 10)"),
    ({}, "saliency, test 1 of 2: expected shape (3, 1, 10, 10), got (3, 10, 10)"),
])
def test_a_wrong_answer_is_explained_in_the_notebooks_language(monkeypatch, setting, message):
    for name, value in setting.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(grading.ExerciseFailed) as failure:
        grading.check("saliency", WRONG_SHAPE)
    assert str(failure.value) == message
    assert failure.value._render_traceback_() == [f"✘ {message}"]


def test_a_pass_a_hint_and_a_question_in_chinese(monkeypatch, capsys):
    monkeypatch.setenv("HELPERS_LANG", "zh-TW")
    grading.check("saliency", lambda m, x, t: explain.saliency(m, x, t, abs=True))
    assert capsys.readouterr().out == "✔ saliency：梯度 Saliency Map |∂f_c/∂x|——全部 2 個測試都正確\n"
    with pytest.raises(grading.ExerciseFailed, match="尚未實作——請把 `raise NotImplementedError"):
        grading.check("fgsm", lambda *a, **k: (_ for _ in ()).throw(NotImplementedError()))
    with pytest.raises(grading.ExerciseFailed, match=r"你的函式引發了 ZeroDivisionError: division by zero"):
        grading.check("fgsm", lambda *a, **k: 1 / 0)
    with pytest.raises(grading.ExerciseFailed, match="hw5_most_faithful：'lime' 不在"):
        grading.check("hw5_most_faithful", "lime")
    with pytest.raises(grading.ExerciseFailed, match="沒有 'nope' 這個練習"):
        grading.check("nope", print)


def test_the_judges_table_and_rejections_in_chinese(monkeypatch, capsys):
    monkeypatch.setenv("HELPERS_LANG", "zh-TW")
    verdict = grading.Judgement(0.5, 0.9, {"simple": [0.6], "strong": [0.4, 0.45]}, 3, 128)
    lines = str(verdict).splitlines()
    assert lines[0].endswith("  黑箱正確率 ↓  （在練習用的黑箱上，即模型庫（zoo）的）")
    # the values in one column: a CJK character (and the full-width colon) takes two columns of a terminal
    assert lines[1:5] == ["不攻擊" + " " * 10 + "0.900", "基準線：simple  0.600",
                          "基準線：strong  0.400–0.450（2 個種子）", "你的提交" + " " * 8 + "0.500"]
    assert lines[0].startswith(" " * 16 + "黑箱")
    assert lines[-1].startswith("最大變化：3 / ") and lines[-1].endswith("已擊敗的基準線：simple")
    over = grading.Judgement(0.5, 0.9, {"simple": [0.6]}, 3, queries=500, budget=400)
    assert grading.judge_points(over) == 0.0
    assert capsys.readouterr().out == "✘ 不給分：這次評分是在 500 次查詢之後做的，超過了 400 次的預算\n"
    with pytest.raises(grading.SubmissionRejected, match="x_adv 必須是形狀為 .*，卻得到 list"):
        grading.judge([0.5], show=False)
    with pytest.raises(grading.SubmissionRejected, match=r"x_adv 含有 NaN") as rejected:
        grading.judge(torch.full((128, 1, 28, 28), float("nan")), show=False)
    assert rejected.value._render_traceback_() == ["✘ 提交被拒：x_adv 含有 NaN 或無窮大的像素"]
