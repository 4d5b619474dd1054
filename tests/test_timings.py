"""scripts/record_test_timings.py turns a JUnit report into the lengths that conftest schedules by."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tests.conftest import SECONDS, unit_of

ROOT = Path(__file__).resolve().parent.parent
REPORT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">
<testcase classname="tests.test_zoo" name="test_a" time="3.5"/>
<testcase classname="tests.test_zoo" name="test_b[x]" time="4.0"/>
<testcase classname="tests.test_grading.TestJudge" name="test_c" time="6.2"/>
<testcase classname="notebooks.06_fgsm_and_iterative_attacks.ipynb" name="Cell 0" time="2.0"/>
<testcase classname="notebooks.06_fgsm_and_iterative_attacks.ipynb" name="Cell 3" time="40.4"/>
<testcase classname="tests.test_student_versions" name="test_student_version_runs[hw6_attack]" time="22"/>
<testcase classname="tests.test_misc" name="test_quick" time="1.0"/>
</testsuite></testsuites>"""


def _script():
    spec = importlib.util.spec_from_file_location("record", ROOT / "scripts" / "record_test_timings.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_junit_report_becomes_seconds_per_unit(tmp_path):
    report = tmp_path / "junit.xml"
    report.write_text(REPORT)
    assert _script().lengths(report) == {
        "notebooks/06_fgsm_and_iterative_attacks.ipynb": 42, "student/hw6_attack": 22,
        "tests/test_zoo.py": 8, "tests/test_grading.py": 6,
    }  # longest first; a file's tests summed; under 5 s left out


def test_units_and_the_recorded_lengths_agree():
    assert unit_of("tests/test_zoo.py::test_a[1]") == "tests/test_zoo.py"
    assert unit_of("notebooks/09_passive_defenses.ipynb::Cell 4") == "notebooks/09_passive_defenses.ipynb"
    assert unit_of("tests/test_student_versions.py::test_student_version_runs[hw5_explain]") == \
        "student/hw5_explain"
    on_disk = {path for path in SECONDS if not path.startswith("student/")}
    missing = {path for path in on_disk if not (ROOT / path).exists()}
    assert not missing, f"tests/timings.json names units that no longer exist: {missing}"
