"""The README's commands, run as a newcomer runs them: `make lab` serves the course (as root too), and the
instructor's nbgrader block works as written, from a fresh shell, on the real HW5.

Both use the environment the test runs in, which must be the repository's `.venv` made by `make setup`
(as `make test` and CI run); elsewhere (the conda route) they are skipped, saying why.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import nbformat
import pytest

from tests.servers import free_port, wait_for_page

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"

pytestmark = [
    pytest.mark.notebooks,
    pytest.mark.skipif(Path(sys.prefix).resolve() != VENV.resolve(),
                       reason="the README's commands use .venv; this test runs in another environment"),
]


@contextlib.contextmanager
def _make_lab(tmp_path: Path, *make_args: str, env: dict[str, str] | None = None):
    """`make lab` with ``make_args`` on a free port, as a newcomer starts it; yields (url, token, server,
    log), the server answering, and stops it."""
    port, token = free_port(), os.urandom(16).hex()
    args = f"--no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port={port} --ServerApp.port_retries=0 " \
           f"--IdentityProvider.token={token} --LabApp.news_url=None"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"), "HELPERS_DEVICE": "cpu", **(env or {})}
    log = tmp_path / "lab.log"
    with log.open("w") as out:
        lab = subprocess.Popen(["make", "-s", "lab", f"LAB_ARGS={args}", *make_args], cwd=ROOT, env=env,
                               stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_page(f"{url}/api/status?token={token}", lab, what="make lab", timeout=120)
        yield url, token, lab, log
    finally:
        if lab.poll() is None:
            os.killpg(lab.pid, signal.SIGTERM)
            lab.wait(timeout=30)


def _get(url: str, token: str, path: str) -> dict:
    with urllib.request.urlopen(f"{url}{path}?token={token}", timeout=10) as response:
        return json.load(response)


def test_make_lab_serves_the_course_without_the_instructors_extensions(tmp_path):
    with _make_lab(tmp_path) as (url, token, lab, log):
        page = wait_for_page(f"{url}/lab/tree/00_start_here.ipynb?token={token}", lab, what="make lab",
                             timeout=60)
        assert _get(url, token, "/api/contents/00_start_here.ipynb")["name"] == "00_start_here.ipynb"
    text = log.read_text()
    config = json.loads(re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                                  page, re.S).group(1))
    assert "@jupyter/nbgrader" in config["disabledExtensions"], config["disabledExtensions"]
    assert "nbgrader" not in text.lower(), text
    if os.geteuid() == 0:
        assert "adding --allow-root" in text, text


def test_make_lab_in_chinese_serves_the_translation_with_jupyterlabs_menus_in_chinese(tmp_path):
    """`make lab LANG=zh_TW`: notebooks/zh-TW, JupyterLab's interface language zh_TW with its language pack
    installed, and the locale of JupyterLab (and so of its kernels) left as it was."""
    import psutil

    with _make_lab(tmp_path, "LANG=zh_TW", env={"LANG": "C.UTF-8"}) as (url, token, lab, log):
        served = _get(url, token, "/api/contents/00_start_here.ipynb")["content"]
        translation = _get(url, token, "/lab/api/settings/@jupyterlab/translation-extension:plugin")
        languages = _get(url, token, "/lab/api/translations/")["data"]
        pack = _get(url, token, "/lab/api/translations/zh_TW")["data"]
        server = [p for p in psutil.Process(lab.pid).children(recursive=True) if "jupyterlab" in p.cmdline()]
        locales = {p.environ().get("LANG") for p in server}
    edition = nbformat.read(ROOT / "notebooks" / "zh-TW" / "00_start_here.ipynb", as_version=4)
    assert served["cells"][0]["source"] == edition.cells[0].source  # served from notebooks/zh-TW
    assert translation["schema"]["properties"]["locale"]["default"] == "zh_TW", translation["schema"]
    assert "zh_TW" in languages and "zh_CN" in languages, languages  # the [zh] extra is installed
    assert any(domain.get("", {}).get("language") == "zh-TW" for domain in pack.values()), list(pack)[:5]
    assert server and locales == {"C.UTF-8"}, (locales, log.read_text())  # not LANG=zh_TW


def _instructor_block() -> str:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", readme, re.S)
    found = [b for b in blocks if "nbgrader generate_assignment" in b]
    assert len(found) == 1, "the README should hold one nbgrader block"
    return found[0]


def _run_block(tmp_path: Path, *, source: str, extra_env: dict[str, str] | None = None) -> tuple[Path, dict]:
    """The README's nbgrader block in a fresh shell with HOME in ``tmp_path``, its one instructor's step (hand
    out, get back) replaced by returning the solution as ada's; ``source`` replaces the block's copy of
    ``notebooks/hw5_explain.ipynb`` into the course. Returns the course folder and ada's row of grades.csv."""
    block = _instructor_block()
    hand_out = next(line for line in block.splitlines() if line.startswith("# hand out"))
    copy = "cp notebooks/hw5_explain.ipynb $COURSE/source/hw5/"
    assert copy in block
    submit = "mkdir -p submitted/ada/hw5 && cp source/hw5/hw5_explain.ipynb submitted/ada/hw5/"
    script = "set -euo pipefail\n" + block.replace(hand_out, submit).replace(copy, source)
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "COURSE"}}
    env.update(HOME=str(home), PATH=os.defpath, HELPERS_DEVICE="cpu", **(extra_env or {}))  # a fresh shell
    done = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    course = home / "xai-course"
    assert (course / "release" / "hw5" / "hw5_explain.ipynb").is_file()
    with (course / "grades.csv").open() as f:
        (row,) = list(csv.DictReader(f))
    assert not (ROOT / "course").exists()  # nothing written into the repository
    return course, row


def _hw5_points() -> tuple[int, int]:
    from helpers.course.marking import POINTS

    automatic = sum(v for k, v in POINTS.items() if k.startswith("hw5_") and "/" not in k)
    written = sum(v for k, v in POINTS.items() if k.startswith("hw5_explain/answer"))
    return automatic, written


def test_the_instructors_nbgrader_block_runs_as_written(tmp_path):
    _, row = _run_block(tmp_path, source="cp notebooks/hw5_explain.ipynb $COURSE/source/hw5/")
    automatic, written = _hw5_points()
    # the solution earns every automatic point; the written answer waits for the formgrader
    assert row["student_id"] == "ada" and float(row["score"]) == automatic, row
    assert float(row["max_score"]) == automatic + written, row


def test_nbgrader_grades_the_chinese_release_like_the_english(tmp_path):
    """The same block on `release --lang zh-TW`'s hw5 solution: real nbgrader hands out a Chinese student
    notebook, and autograde gives the Chinese solution every automatic point, with the checks' messages in
    Chinese when the instructor sets HELPERS_LANG."""
    out = tmp_path / "release"
    source = (f"python -m helpers.course.release --out {out} --lang zh-TW --no-html > /dev/null && "
              f"cp {out}/solution/zh-TW/hw5_explain.ipynb $COURSE/source/hw5/")
    course, row = _run_block(tmp_path, source=source, extra_env={"HELPERS_LANG": "zh-TW"})
    automatic, written = _hw5_points()
    assert row["student_id"] == "ada" and float(row["score"]) == automatic, row
    assert float(row["max_score"]) == automatic + written, row
    handed_out = nbformat.read(course / "release" / "hw5" / "hw5_explain.ipynb", as_version=4)
    assert "作業" in handed_out.cells[0].source, handed_out.cells[0].source[:200]
    graded = nbformat.read(course / "autograded" / "ada" / "hw5" / "hw5_explain.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in graded.cells if c.cell_type == "code" for o in c.outputs)
    assert "——正確" in printed and "— correct" not in printed, printed[-2000:]
