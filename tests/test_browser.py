"""The explorer in a real JupyterLab page: Debian's chromium driven by Playwright runs notebook 00 and presses *Run*.

JupyterLab serves a temporary copy of notebooks/ (autosave never touches the repository) with a token on a free
port; its kernels import this checkout's uwl_utils (PYTHONPATH). Screenshots go to runs/screenshots/.
Locally the test skips when chromium or Playwright is missing; with UWL_REQUIRE_BROWSER=1 (set by .ci/run) a
missing browser fails it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from uwl_utils.tools.demo import notebook_names

REPO = Path(__file__).resolve().parents[1]
SCREENSHOTS = REPO / "runs" / "screenshots"
IDLE = re.compile(r"\| Idle$")


def _browser() -> str:
    """The chromium executable; skips (or fails under UWL_REQUIRE_BROWSER=1) when it or Playwright is missing."""
    missing = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the Python package playwright (pip install -e '.[dev]')")
    chromium = shutil.which("chromium")
    if chromium is None:
        missing.append("Debian's chromium (apt-get install -y chromium)")
    if missing:
        reason = "browser test needs " + " and ".join(missing)
        if os.environ.get("UWL_REQUIRE_BROWSER") == "1":
            pytest.fail(reason + " (UWL_REQUIRE_BROWSER=1)")
        pytest.skip(reason)
    return chromium


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def chromium() -> str:
    return _browser()


@pytest.fixture
def lab(chromium, tmp_path) -> Iterator[tuple[str, Path]]:
    """A JupyterLab server on a copy of notebooks/; yields (base URL with token, the copy's folder)."""
    notebooks = tmp_path / "notebooks"
    shutil.copytree(REPO / "notebooks", notebooks, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    settings = tmp_path / "lab-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    port, token = _free_port(), os.urandom(12).hex()
    env = dict(
        os.environ,
        PYTHONPATH=str(REPO),
        OMP_NUM_THREADS="1",
        JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter-config"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "jupyter-runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "lab-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "lab-workspaces"),
    )
    args = [sys.executable, "-m", "jupyterlab", "--allow-root", "--no-browser", "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={notebooks}"]  # fmt: skip
    log = (tmp_path / "lab.log").open("w")
    server = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"JupyterLab did not start: {(tmp_path / 'lab.log').read_text()[-2000:]}"
                    ) from None
                time.sleep(0.5)
        yield f"{base}/lab/tree/{{}}?reset&token={token}", notebooks  # reset: one notebook tab per page
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _wait_until_run(page, code_cells: int) -> None:
    """Wait until every code cell shows an execution count and the status bar reads Idle."""
    from playwright.sync_api import expect

    prompts = page.locator(".jp-CodeCell .jp-InputPrompt").filter(has_text=re.compile(r"^\[\d+\]:$"))
    expect(prompts).to_have_count(code_cells, timeout=240_000)
    expect(page.locator(".jp-StatusBar-TextItem").filter(has_text="Python 3")).to_have_text(IDLE, timeout=60_000)


def _code_cells(path: Path) -> int:
    return sum(c["cell_type"] == "code" for c in json.loads(path.read_text())["cells"])


def _press_run(explorer, caption: str, screenshot: str) -> tuple[list[list[str]], str, float]:
    """Press Run and wait for the result captioned ``caption``; returns the table's rows (header first), the
    figure's src and its height. Screenshots the explorer right after the press and when done."""
    from playwright.sync_api import expect

    explorer.locator(".widget-button").filter(has_text="Run").click()
    explorer.screenshot(path=SCREENSHOTS / f"{screenshot}_pressed.png")
    expect(explorer.locator(".uwl-caption")).to_have_text(caption, timeout=120_000)
    expect(explorer.locator(".widget-html").filter(has_text="done in")).to_be_visible(timeout=60_000)
    explorer.screenshot(path=SCREENSHOTS / f"{screenshot}_done.png")
    rows = explorer.locator("table tr").evaluate_all(
        "rows => rows.map(r => Array.from(r.querySelectorAll('th, td'), c => c.innerText.trim()))"
    )
    figure = explorer.locator(".jp-OutputArea-output img")
    expect(figure).to_have_count(1)
    return rows, figure.get_attribute("src"), figure.evaluate("img => img.naturalHeight")


def test_a_missing_browser_skips_locally_and_fails_in_ci(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.delenv("UWL_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"needs .*Debian's chromium \(apt-get install -y chromium\)"):
        _browser()
    monkeypatch.setenv("UWL_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match=r"chromium.*\(UWL_REQUIRE_BROWSER=1\)"):
        _browser()


@pytest.mark.slow
def test_explorer_in_jupyterlab(chromium, lab):
    from playwright.sync_api import expect, sync_playwright

    url, notebooks = lab
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url.format("00_quickstart.ipynb"))
        kernel = page.locator(".jp-StatusBar-TextItem").filter(has_text="Python 3")
        expect(kernel).to_have_text(IDLE, timeout=60_000)
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.locator("li[data-command='runmenu:run-all']").click()
        _wait_until_run(page, _code_cells(notebooks / "00_quickstart.ipynb"))
        explorer = page.locator(".jp-OutputArea-output .widget-vbox").first
        explorer.scroll_into_view_if_needed()
        page.screenshot(path=SCREENSHOTS / "00_run_all.png")
        expect(page.get_by_text("Loading widget...")).to_have_count(0)
        expect(page.locator(".jp-OutputArea-output").filter(has_text="Traceback")).to_have_count(0)

        # the defaults: I-FGSM at 4/255 with none and L0
        explorer.screenshot(path=SCREENSHOTS / "explorer_before.png")
        default = "synth_city/deeplabv3plus · image 0 · ifgsm · ε = 4/255 · none, L0"
        rows, src, height = _press_run(explorer, default, "explorer_default")
        assert [r[0] for r in rows] == ["weighting", "clean", "none", "L0"]

        # another model, image, attack, ε and weighting set
        explorer.locator(".widget-dropdown").filter(has_text="model").locator("select").select_option(
            "synth_city/bisenetv1"
        )
        readout = explorer.locator(".widget-hslider .widget-readout")
        readout.click()
        page.keyboard.press("Control+A")
        page.keyboard.type("3")
        page.keyboard.press("Enter")
        expect(explorer.locator(".widget-html").filter(has_text="image 3")).to_be_visible()
        explorer.locator(".widget-dropdown").filter(has_text="attack").locator("select").select_option("fgsm")
        explorer.locator(".widget-dropdown").filter(has_text="ε (/255)").locator("select").select_option("8")
        explorer.get_by_role("checkbox", name="E", exact=True).check()
        chosen = "synth_city/bisenetv1 · image 3 · fgsm · ε = 8/255 · none, E, L0"
        rows2, src2, height2 = _press_run(explorer, chosen, "explorer_chosen")
        assert rows2[0] == ["weighting", "APSR (%)", "APSR − none (points)", "‖δ‖∞ (/255)"]
        assert [r[0] for r in rows2[1:]] == ["clean", "none", "E", "L0"]
        assert [r[3] for r in rows2[1:]] == ["0.0", "8.0", "8.0", "8.0"]  # FGSM steps exactly ε
        assert src2 != src and height2 > height  # a new figure, one panel row more for the third weighting

        # saved from the page, the run has no error output
        page.keyboard.press("Control+S")
        expect(page.locator(".jp-mod-dirty")).to_have_count(0)
        saved = json.loads((notebooks / "00_quickstart.ipynb").read_text())
        outputs = [o for c in saved["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
        assert outputs and not [o for o in outputs if o["output_type"] == "error"]

        for name in notebook_names():  # opened from the file browser: no page reload per notebook
            if name == "00_quickstart":
                continue
            page.locator(".jp-DirListing-item").filter(has_text=f"{name}.ipynb").dblclick()
            panel = page.locator(".jp-NotebookPanel:visible")
            expect(panel).to_have_count(1)
            expect(page.locator(".jp-StatusBar-Item").filter(has_text=f"{name}.ipynb")).to_be_visible()
            expect(kernel).to_have_text(IDLE, timeout=60_000)
            title = json.loads((notebooks / f"{name}.ipynb").read_text())["cells"][0]["source"][0]
            expect(panel.locator(".jp-MarkdownOutput h1").first).to_contain_text(title.strip("# \n").replace("`", ""))
            page.screenshot(path=SCREENSHOTS / f"{name}_opened.png")
        browser.close()
