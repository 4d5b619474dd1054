"""The course in a real JupyterLab, driven by headless Chromium.

Starts ``jupyter lab`` on a free loopback port with a token (its settings, runtime files and a copy of
notebook 06 in the test's temp dir, so nothing of the user's is touched), opens the notebook, runs all
cells, waits for the kernel, saves, and checks that no cell raised; then moves the ε slider of the
explorer and checks that the picture changed. Screenshots are saved in the temp dir. Chromium is
Debian's ``chromium`` package driven by Playwright (no browser download); where it is absent the test
is skipped with that reason (``.ci/run`` installs it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tests.servers import free_port, wait_for_page

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = "06_fgsm_and_iterative_attacks.ipynb"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium on this machine (Debian: apt-get install chromium); the browser test needs it",
)


@pytest.fixture
def lab(tmp_path):
    """A JupyterLab server on a free loopback port, serving a copy of notebook 06; stopped in every case."""
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(ROOT / "notebooks" / NOTEBOOK, work / NOTEBOOK)
    settings = tmp_path / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    # render every cell (no virtual scrolling) and never autosave behind the test's back
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    docmanager = tmp_path / "settings" / "@jupyterlab" / "docmanager-extension"
    docmanager.mkdir(parents=True)
    (docmanager / "plugin.jupyterlab-settings").write_text(json.dumps({"autosave": False}))
    port, token = free_port(), os.urandom(16).hex()
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "HELPERS_DEVICE": "cpu"}
    log = (tmp_path / "lab.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={work}",
         "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None",
         *(["--allow-root"] if os.geteuid() == 0 else [])],  # CI containers run as root
        cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        wait_for_page(f"http://127.0.0.1:{port}/api/status?token={token}", server,
                      what="jupyter lab", timeout=90)
        yield f"http://127.0.0.1:{port}", token, work, tmp_path
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def _run(page, command: str) -> None:
    page.evaluate(f"window.jupyterapp.commands.execute({command!r})")


def _slider_picture(page):
    """The ε explorer: the box holding a slider labelled ε, and its image."""
    box = page.locator(".widget-vbox").filter(has=page.locator(".widget-label", has_text="ε")).last
    return box, box.locator("img").first


def test_notebook_06_runs_in_jupyterlab_and_its_slider_redraws(lab):
    from playwright.sync_api import sync_playwright

    url, token, work, tmp = lab
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM,
                                    args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{url}/lab/tree/{NOTEBOOK}?token={token}")
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
            page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                                   " && window.jupyterapp.shell.currentWidget.sessionContext"
                                   " && window.jupyterapp.shell.currentWidget.sessionContext.session"
                                   " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel",
                                   timeout=90_000)
            page.wait_for_function("() => window.jupyterapp.shell.currentWidget.sessionContext.session"
                                   ".kernel.status === 'idle'", timeout=90_000)
            _run(page, "notebook:run-all-cells")
            # done when every code cell has an execution count and the kernel is idle again
            page.wait_for_function(
                """() => {
                    const panel = window.jupyterapp.shell.currentWidget;
                    const cells = panel.content.model.cells;
                    let pending = 0;
                    for (let i = 0; i < cells.length; i++) {
                        const cell = cells.get(i);
                        const unrun = cell.executionCount === null || cell.executionCount === undefined;
                        if (cell.type === 'code' && unrun) pending++;
                    }
                    const prompts = [...document.querySelectorAll('.jp-InputPrompt')];
                    return pending === 0 && panel.sessionContext.session.kernel.status === 'idle'
                        && prompts.length > 0 && !prompts.some(p => p.textContent.includes('*'));
                }""",
                timeout=480_000, polling=1000,
            )
            page.screenshot(path=str(tmp / "after-run-all.png"), full_page=True)
            _run(page, "docmanager:save")
            page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty",
                                   timeout=30_000)

            executed = nbformat.read(work / NOTEBOOK, as_version=4)
            code = [c for c in executed.cells if c.cell_type == "code"]
            assert all(c.execution_count for c in code), "some cells did not run"
            errors = [(i, o.ename, o.evalue) for i, c in enumerate(executed.cells) if c.cell_type == "code"
                      for o in c.outputs if o.output_type == "error"]
            assert not errors, f"cells raised in JupyterLab: {errors}"
            stderr = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'] .jp-RenderedText"
            assert page.locator(stderr, has_text="Traceback").count() == 0

            box, picture = _slider_picture(page)
            box.scroll_into_view_if_needed()
            picture.wait_for(state="visible", timeout=60_000)
            before_src = picture.get_attribute("src")
            before_png = picture.screenshot(path=str(tmp / "slider-before.png"))
            handle = box.locator(".noUi-handle, .slider-handle, [role='slider']").first
            handle.focus()
            for _ in range(10):  # ten steps of 0.005
                handle.press("ArrowRight")
            page.wait_for_function("([img, src]) => img.getAttribute('src') !== src",
                                   arg=[picture.element_handle(), before_src], timeout=120_000)
            page.wait_for_timeout(500)
            after_png = picture.screenshot(path=str(tmp / "slider-after.png"))
            assert after_png != before_png, "the picture did not change when the ε slider moved"
            page.screenshot(path=str(tmp / "after-slider.png"), full_page=True)
        finally:
            browser.close()
