"""Record how long each unit of `make test` took, for its longest-first scheduling (tests/conftest.py).

    PYTEST_ADDOPTS="--junitxml=/tmp/junit.xml" make test
    python scripts/record_test_timings.py /tmp/junit.xml      # rewrites tests/timings.json

A unit is what one xdist worker gets whole: a test file or a notebook, or one student-version run. Its
length is the sum of its tests' times in the JUnit report (setup, call and teardown), in whole seconds;
units under 5 s are left out (conftest treats a missing unit as short). The file also records when and on
what machine it was measured: a stale figure only costs time, never a result.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.conftest import TIMINGS, unit_of  # noqa: E402


def _nodeid(case: ET.Element) -> str:
    """The pytest node id of a JUnit ``testcase`` (pytest's default xunit2 report): its ``classname`` is
    "tests.test_x" or "tests.test_x.TestClass", or "notebooks.NAME.ipynb" for nbval's cells."""
    classname = case.get("classname", "")
    if classname.endswith(".ipynb"):
        path = classname[: -len(".ipynb")].replace(".", "/") + ".ipynb"
    else:
        path = "/".join(p for p in classname.split(".") if not p[:1].isupper()) + ".py"
    return f"{path}::{case.get('name', '')}"


def _cpu() -> str:
    """The processor's model name (Linux), else what ``platform`` knows."""
    info = Path("/proc/cpuinfo")
    if info.exists():
        for line in info.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def lengths(report: Path) -> dict[str, int]:
    """Seconds per unit in the JUnit ``report``, longest first, units of 5 s or more."""
    seconds: dict[str, float] = defaultdict(float)
    for case in ET.parse(report).iter("testcase"):
        seconds[unit_of(_nodeid(case))] += float(case.get("time", 0))
    kept = {unit: round(t) for unit, t in seconds.items() if t >= 5}
    return dict(sorted(kept.items(), key=lambda item: -item[1]))


def main(report: str) -> None:
    units = lengths(Path(report))
    if not units:
        sys.exit(f"{report}: no test took 5 s or more — is it the JUnit report of a `make test` run?")
    record = {
        "measured": datetime.date.today().isoformat(),
        "machine": f"{_cpu()}, {os.cpu_count()} cores",
        "how": "PYTEST_ADDOPTS=--junitxml=REPORT make test; python scripts/record_test_timings.py REPORT",
        "seconds": units,
    }
    TIMINGS.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {TIMINGS}: {len(units)} units, {sum(units.values())} s in all")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
