"""Notebooks behind web apps, with the real servers: the Jupyter Kernel Gateway's notebook-http mode
serves PySpark and Scala notebooks as REST APIs, and Voila renders a PySpark notebook as a page.

Marked ``slow`` only: what they test does not depend on the Spark version (the Spark 3.5 line skips them).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO

import nbformat
import pytest
from kernel_support import free_port, gateway_command

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

# A notebook per language: a cell that sets up, then the API's cells (``# GET /path`` in Python,
# ``// GET /path`` in Scala). The Scala one has no ``var REQUEST``: the Gateway's kernels declare it.
APIS = {
    "apache_toree_pyspark": (
        "python",
        [
            "import json",
            "people = spark.createDataFrame([('ann', 31), ('bob', 42)], 'name string, age int')",
            "# GET /count\nprint(people.count())",
            "# GET /people/:name\nname = json.loads(REQUEST)['path']['name']\n"
            "print(people.where(people.name == name).first().age)",
        ],
    ),
    "apache_toree_scala": (
        "scala",
        [
            'val people = Seq(("ann", 31), ("bob", 42)).toDF("name", "age")',
            "// GET /count\nprintln(people.count())",
            '// GET /people/:name\nval name = "\\"name\\": \\"([^\\"]*)\\"".r.findFirstMatchIn(REQUEST).get.group(1)\n'
            'println(people.where($"name" === name).first().getInt(1))',
        ],
    ),
}
VOILA_CELLS = ["df = spark.range(12)", "print('rows:', df.count())", "df.selectExpr('sum(id) AS total')"]
VOILA_OUTPUT = re.compile(r'<script type="application/vnd\.voila\.cell-output\+json">\s*(.*?)\s*</script>', re.S)


def write_notebook(path: Path, kernel_name: str, language: str, cells: list[str]) -> Path:
    kernelspec = {"name": kernel_name, "display_name": kernel_name, "language": language}
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(source) for source in cells],
        # the Gateway picks the comment syntax of the annotations by this name (JupyterLab saves it)
        metadata={"kernelspec": kernelspec, "language_info": {"name": language}},
    )
    nbformat.write(notebook, path)
    return path


def get(url: str, starting: subprocess.Popen, timeout: float = 180) -> str:
    """GET ``url``; while the server still starts (connection refused), again, for up to a minute."""
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                return response.read().decode()
        except urllib.error.URLError as exc:
            refused = isinstance(exc.reason, ConnectionRefusedError)
            if not refused or starting.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def tail(log: IO[bytes]) -> str:
    log.seek(0)
    return log.read().decode(errors="replace")[-4000:]


def test_notebooks_served_as_rest_apis(processes, toree_jupyter_path: Path, tmp_path: Path) -> None:
    """The Gateway seeds a kernel with the notebook, then runs the annotated cell per request. Both
    gateways start at once, and the first GETs are sent while their kernels still start: they used to
    never answer (the Gateway's IOPub stream died on the kernel's parentless iopub_welcome)."""
    env = {**os.environ, "JUPYTER_PATH": str(toree_jupyter_path),
           "TOREE_HISTORY_FILE": str(tmp_path / "history.sqlite")}
    servers = {}
    for kernel_name, (language, cells) in APIS.items():
        seed = write_notebook(tmp_path / f"{language}.ipynb", kernel_name, language, cells)
        port = free_port()
        log = open(tmp_path / f"gateway-{language}.log", "w+b")  # noqa: SIM115 - closed below
        proc = processes.spawn(
            gateway_command(port, "--KernelGatewayApp.api=kernel_gateway.notebook_http", f"--KernelGatewayApp.seed_uri={seed}"),
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
        )
        servers[language] = (f"http://127.0.0.1:{port}", proc, log)
    try:
        for language, (url, proc, log) in servers.items():
            try:
                assert get(f"{url}/count", proc).strip() == "2"
                assert get(f"{url}/people/bob", proc).strip() == "42"  # REQUEST carries the path parameter
                assert get(f"{url}/people/ann", proc).strip() == "31"
            except (AssertionError, OSError) as exc:
                raise AssertionError(f"{language} notebook: {exc!r}\n{tail(log)}") from exc
    finally:
        processes.kill_all([proc for _, proc, _ in servers.values()])
        for _, _, log in servers.values():
            log.close()


def test_voila_renders_a_pyspark_notebook(processes, toree_jupyter_path: Path, tmp_path: Path) -> None:
    write_notebook(tmp_path / "dashboard.ipynb", "apache_toree_pyspark", "python", VOILA_CELLS)
    port = free_port()
    log = open(tmp_path / "voila.log", "w+b")  # noqa: SIM115 - closed below
    proc = processes.spawn(
        [sys.executable, "-m", "voila", "dashboard.ipynb", "--no-browser", f"--port={port}",
         "--Voila.ip=127.0.0.1", "--Voila.port_retries=0"],
        env={**os.environ, "JUPYTER_PATH": str(toree_jupyter_path),
             "TOREE_HISTORY_FILE": str(tmp_path / "history.sqlite")},
        stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
    )
    try:
        page = get(f"http://127.0.0.1:{port}/", proc)  # Voila runs the notebook on a new kernel for the page
        outputs = [json.loads(found) for found in VOILA_OUTPUT.findall(page)]
        tables = [o["data"]["text/html"] for o in outputs if o["output_type"] == "execute_result"]
        assert "<pre>rows: 12" in page, tail(log)  # printed output is rendered as HTML, the rest as JSON
        assert len(tables) == 1 and "<td>66</td>" in tables[0], outputs  # 0 + 1 + ... + 11
        assert not [o for o in outputs if o["output_type"] == "error"], outputs
    finally:
        processes.kill_all([proc])
        log.close()
