"""JupyterLab in a real browser: headless Debian Chromium (driven by Playwright, never a downloaded browser)
opens a notebook on "Apache Toree - PySpark", runs a Spark cell and sees the rendered DataFrame table and
the job progress display; with JupyterLab's debugger on, a breakpoint in a cell stops it and the variables
panel shows a value. Screenshots are saved to ``test-artifacts/`` either way."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kernel_support import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
# Without the background-networking switches Chromium's own connections are refused on a closed network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# One cell: an aggregation whose job runs a few seconds (so the progress display shows and ends in
# "done: ..."), then the DataFrame itself as the cell's value (rendered as table.toree-dataframe).
CELL = (
    "from pyspark.sql import functions as F\n"
    "slow = F.udf(lambda x: __import__('time').sleep(0.02) or x, 'long')\n"
    "df = spark.range(0, 300, 1, 2).select(slow('id').alias('x'))\n"
    "print('sum', df.agg(F.sum('x')).collect()[0][0])\n"
    "df"
)
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Lab:
    def __init__(self, url: str, token: str, proc: subprocess.Popen, log: Path) -> None:
        self.url, self.token, self.proc, self.log = url, token, proc, log

    def rest(self, method: str, path: str, timeout: float = 30) -> object:
        request = urllib.request.Request(self.url + path, method=method)
        request.add_header("Authorization", f"token {self.token}")
        with NO_PROXY.open(request, timeout=timeout) as response:
            text = response.read()
        return json.loads(text) if text else None

    def log_tail(self, n: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-n:]


@pytest.fixture
def lab(processes, client_env: dict[str, str], tmp_path: Path) -> Iterator[Lab]:
    root = tmp_path / "notebooks"
    root.mkdir()
    notebook = {
        "cells": [
            {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": []}
        ],
        "metadata": {
            "kernelspec": {
                "name": "apache_toree_pyspark",
                "display_name": "Apache Toree - PySpark",
                "language": "python",
            },
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (root / "spark.ipynb").write_text(json.dumps(notebook))
    port, token = free_port(), secrets.token_hex(16)
    env = {  # kernelspecs from JUPYTER_PATH (client_env); no user config, settings or workspaces leak in
        **client_env,
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_DATA_DIR": str(tmp_path / "data"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "lab-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "lab-workspaces"),
    }
    notification = (
        tmp_path / "lab-settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    )
    notification.parent.mkdir(parents=True)
    notification.write_text(json.dumps({"fetchNews": "false"}))  # no "Jupyter news?" toast over the page
    log = tmp_path / "jupyterlab.log"
    with log.open("wb") as out:
        proc = processes.spawn(
            [
                sys.executable,
                "-m",
                "jupyter",
                "lab",
                "--no-browser",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={port}",
                "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={token}",
                f"--ServerApp.root_dir={root}",
                "--MappingKernelManager.kernel_info_timeout=180",  # Spark's JVM may be slow on a busy host
                "--LabApp.news_url=None",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                "--LabApp.extension_manager=readonly",  # no PyPI lookups on a closed network
                *(["--allow-root"] if os.geteuid() == 0 else []),  # CI containers run as root
            ],
            env=env,
            cwd=root,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Lab(f"http://127.0.0.1:{port}", token, proc, log)
    deadline = time.monotonic() + 90
    while True:
        try:
            server.rest("GET", "/api/status", timeout=5)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not come up:\n{server.log_tail()}")
            time.sleep(0.25)
    yield server
    try:  # shut the kernels down through the server; the processes fixture kills whatever is left
        for kernel in server.rest("GET", "/api/kernels") or []:  # type: ignore[attr-defined]
            server.rest("DELETE", f"/api/kernels/{kernel['id']}", timeout=60)
    except OSError:
        pass
    finally:
        processes.kill_all([proc])


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """A fresh headless Chromium (the system's) driven by Playwright: its browser context."""
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh profile every run
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            yield context
        finally:
            context.close()


def open_notebook(page: Any, lab: Lab) -> Any:
    """spark.ipynb open on the PySpark kernel, its Spark session up: the notebook panel."""
    from playwright.sync_api import expect

    page.goto(f"{lab.url}/lab/tree/spark.ipynb?token={lab.token}", timeout=60_000)
    notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    expect(notebook.locator(".jp-Toolbar-kernelName")).to_contain_text("Apache Toree - PySpark", timeout=120_000)
    # The kernel (with its Spark session) is up once the execution indicator says idle.
    expect(notebook.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_have_count(
        1, timeout=240_000
    )
    return notebook


@pytest.mark.spark  # (the debugger test is not: it behaves the same on Spark 3.5)
def test_jupyterlab_runs_a_spark_cell_in_chromium(lab: Lab, browser: Any) -> None:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect

    shot = ARTIFACTS / "jupyterlab.png"
    page = browser.new_page()
    try:
        notebook = open_notebook(page, lab)
        editor = notebook.locator(".jp-Cell").first.locator(".cm-content")
        editor.click()
        page.keyboard.insert_text(CELL)
        expect(editor).to_contain_text("spark.range(0, 300, 1, 2)")
        page.keyboard.press("Shift+Enter")

        output = notebook.locator(".jp-Cell").first.locator(".jp-OutputArea")
        table = output.locator("table.toree-dataframe")
        expect(table).to_be_visible(timeout=180_000)
        expect(table.locator("th").first).to_contain_text("x")
        expect(table.locator("td").first).to_contain_text("0")
        expect(output).to_contain_text("sum 44850")
        progress = output.locator(".toree-progress")
        expect(progress).to_have_count(1)
        # Updated in place: it ends as "done: 4/4 tasks in 3 jobs, 7.0 s" or so.
        expect(progress).to_contain_text("done:", timeout=30_000)
        expect(progress).to_contain_text("tasks")
        expect(notebook.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_have_count(
            1, timeout=60_000
        )
    except (AssertionError, PlaywrightError) as exc:
        page.screenshot(path=str(shot), full_page=True)
        raise AssertionError(
            f"{exc}\n(screenshot: {shot}; JupyterLab log tail:\n{lab.log_tail()})"
        ) from exc
    page.screenshot(path=str(shot), full_page=True)
    progress_text = progress.inner_text()
    assert shot.stat().st_size > 0, f"no screenshot at {shot}"
    assert "tasks" in progress_text, f"progress display reads {progress_text!r} (screenshot: {shot})"
    print(f"screenshot: {shot}; progress: {progress_text}")


# The cell the debugger stops in (the breakpoint on line 2: a and df are set, b is not yet)
DEBUG_CELL = "a = 41\ndf = spark.range(3)\nb = a + 1\n"


def test_jupyterlab_debugger_stops_at_a_breakpoint_and_shows_variables(lab: Lab, browser: Any) -> None:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect

    shot = ARTIFACTS / "jupyterlab-debugger.png"
    page = browser.new_page()
    try:
        notebook = open_notebook(page, lab)
        bug = notebook.locator(".jp-DebuggerBugButton")
        expect(bug).to_be_enabled(timeout=60_000)  # the kernelspec says debugger, and the kernel has one
        bug.click()
        expect(notebook.locator(".jp-DebuggerBugButton[aria-pressed='true']")).to_have_count(1, timeout=60_000)
        cell = notebook.locator(".jp-Cell").first
        editor = cell.locator(".cm-content")
        editor.click()
        page.keyboard.insert_text(DEBUG_CELL)
        expect(editor).to_contain_text("b = a + 1")
        gutter = cell.locator(".cm-breakpoint-gutter .cm-gutterElement")
        gutter.nth(3).click()  # the first is a spacer; line 3 (b = a + 1) is the fourth element
        page.keyboard.press("Shift+Enter")

        sidebar = page.locator("#jp-debugger-sidebar")
        if not sidebar.is_visible():
            page.locator("[data-id='jp-debugger-sidebar']").click()
        # stopped on line 3: the call stack shows the cell's frame, the variables panel its values
        expect(page.locator(".jp-DebuggerCallstackFrame").first).to_be_visible(timeout=120_000)
        variables = sidebar.locator(".jp-DebuggerVariables")
        expect(variables).to_contain_text(re.compile(r"\ba:?\s*41\b"), timeout=60_000)
        expect(page.locator(".jp-DebuggerCallstackFrame")).to_have_count(1)  # only the cell: kernel frames hidden
        expect(variables).to_contain_text(re.compile(r"\bdf:?\s*DataFrame"))  # the tree view shows types of objects
        page.screenshot(path=str(shot), full_page=True)
        page.locator("#jp-debugger-sidebar [title^='Continue']").first.click()  # the call stack's ▶
        expect(notebook.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_have_count(
            1, timeout=120_000
        )
    except (AssertionError, PlaywrightError) as exc:
        page.screenshot(path=str(shot), full_page=True)
        raise AssertionError(f"{exc}\n(screenshot: {shot}; JupyterLab log tail:\n{lab.log_tail()})") from exc
