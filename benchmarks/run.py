"""Benchmark four kernels on one Spark, interleaved, in one run on this machine.

    hatch run bench35:bench [--repeat N] [--only KERNEL ...] [--skip FIGURE ...] [--json PATH]

Kernels: this project's kernel with PySpark (`ours`) and with Scala (`ours-scala`) as the default
language, ipykernel + PySpark (`ipykernel`) and Apache Toree 0.5.0's Scala kernel (`toree`, skipped with
a message when it cannot run). All are launched by jupyter_client from temporary kernelspecs on the
Spark of this environment (3.5 in bench35) and measured by the same code; only the code snippets
differ (CODE). Python figures are compared with ipykernel, Scala figures with Toree, against the
targets of DESIGN.md §5. Not a test: machines are noisy, so compare ratios from one run.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import instant  # benchmarks/instant.py, beside this file
import psutil
from jupyter_client.manager import KernelManager

from toree_interpreters import archive_builder
from toree_interpreters.spark import class_sharing

SPARK_ARGS = "--master local[*] --conf spark.ui.enabled=false"
ROUNDTRIPS = 200
LINES = 100_000
ROWS = 1000

# Per-language code; every kernel runs the same measurement with its own snippets.
# df_setup is not timed; df_show is the timed cell whose value is shown as a table of ROWS rows.
PYTHON_CODE = {
    "first": "spark.range(10).count()",
    "trivial": "1+1",
    "print": f"for i in range({LINES}):\n    print(i)",
    "df_setup": f'df = spark.range({ROWS}).toDF("n")',
    "df_show": f"%%DataFrame --limit={ROWS}\ndf",  # a cell's value shows 20 rows by default
    "long_job": (
        "from pyspark.sql import functions as F\n"
        "slow = F.udf(lambda x: __import__('time').sleep(0.5) or x, 'long')\n"
        "spark.range(0, 240, 1, 2).select(slow('id').alias('x')).agg(F.sum('x')).collect()"
    ),
    "active_jobs": "list(spark.sparkContext.statusTracker().getActiveJobsIds())",
    "no_jobs": "[]",
}
SCALA_CODE = {
    "first": "spark.range(10).count()",
    "trivial": "1+1",
    "print": f"for (i <- 0 until {LINES}) println(i)",
    "df_setup": f'val df = spark.range({ROWS}).toDF("n")',
    "df_show": f"%%DataFrame --limit={ROWS}\ndf",
    "long_job": "sc.parallelize(1 to 4, 2).map { x => Thread.sleep(60000); x }.count()",
    "active_jobs": "sc.statusTracker.getActiveJobIds.toList",
    "no_jobs": "List()",
}
CODE = {
    "ours": PYTHON_CODE,
    "ipykernel": {
        **PYTHON_CODE,
        # ipykernel has no session until a cell builds one: the fair equivalent of our first cell
        "first": "from pyspark.sql import SparkSession\nspark = SparkSession.builder.getOrCreate()\n"
        "spark.range(10).count()",
        # PySpark's own notebook rendering: a DataFrame cell value becomes an HTML table (no pandas needed)
        "df_setup": 'spark.conf.set("spark.sql.repl.eagerEval.enabled", True)\n'
        f'spark.conf.set("spark.sql.repl.eagerEval.maxNumRows", {ROWS})\n' + PYTHON_CODE["df_setup"],
        "df_show": "df",
    },
    "ours-scala": SCALA_CODE,
    # Toree 0.5.0 on Java 17 loads no magics (its plugin scan fails), so no %%DataFrame: a text table
    "toree": {**SCALA_CODE, "df_show": f"df.show({ROWS})"},
}


def _spark_home() -> str:
    spec = importlib.util.find_spec("pyspark")
    return (spec.submodule_search_locations or [""])[0] if spec else ""


def _toree_run_sh() -> str:
    spec = importlib.util.find_spec("toree")  # Apache Toree 0.5.0 from PyPI: run.sh starts its JVM kernel
    return os.path.join((spec.submodule_search_locations or [""])[0], "bin", "run.sh") if spec else ""


OURS_ARGV = [sys.executable, "-m", "toree_kernel", "-f", "{connection_file}"]
KERNELS: dict[str, dict[str, Any]] = {  # kernelspec argv and environment
    "ours": {"argv": OURS_ARGV, "env": {"SPARK_OPTS": SPARK_ARGS}},
    "ipykernel": {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "env": {"PYSPARK_SUBMIT_ARGS": f"{SPARK_ARGS} pyspark-shell"},
    },
    "ours-scala": {"argv": OURS_ARGV, "env": {"SPARK_OPTS": SPARK_ARGS, "DEFAULT_INTERPRETER": "Scala"}},
    "toree": {
        "argv": [_toree_run_sh(), "--profile", "{connection_file}"],
        "env": {"SPARK_OPTS": SPARK_ARGS, "DEFAULT_INTERPRETER": "Scala", "SPARK_HOME": _spark_home()},
    },
}
PAIRS = [("ours", "ipykernel"), ("ours-scala", "toree")]  # (ours, the baseline its ratios are against)


@dataclass
class Target:
    figure: str
    kernel: str
    limit: float  # ratio to the pair's baseline, or seconds when absolute
    absolute: bool = False
    check: tuple[str, Any] | None = None  # another figure that must have this value
    base: tuple[str, str] | None = None  # (kernel, figure) compared with, instead of the pair's same figure

    def verdict(self, results: dict[str, dict[str, Any]]) -> str | None:
        mine = median(results.get(self.kernel, {}).get(self.figure))
        base_kernel, base_figure = self.base or (dict(PAIRS)[self.kernel], self.figure)
        base = median(results.get(base_kernel, {}).get(base_figure))
        if mine is None or (not self.absolute and not base):
            return None
        value = mine if self.absolute else mine / base
        ok = value <= self.limit
        if self.check:
            ok = ok and results[self.kernel].get(self.check[0]) == self.check[1]
        return "PASS" if ok else "MISS"

    def describe(self) -> str:
        against = " ".join(self.base) if self.base else dict(PAIRS)[self.kernel]
        want = f"<= {self.limit:g} s" if self.absolute else f"<= {self.limit:g}x {against}"
        return want + (f", {self.check[0]} = {self.check[1]}" if self.check else "")


TARGETS = [
    Target("kernel_info", "ours", 1.0),
    Target("first_spark_result", "ours", 0.8),
    Target("first_spark_result", "ours-scala", 0.5),
    Target("roundtrip_median", "ours", 1.0),
    Target("roundtrip_median", "ours-scala", 0.5),
    Target("print_100k", "ours", 0.5, check=("print_100k_in_order", True)),
    *(Target("interrupt", k, 1.0, True, ("interrupt_job_cancelled", True)) for k in ("ours", "ours-scala")),
    *(Target("shutdown", k, 2.0, True, ("shutdown_orphans", 0)) for k in ("ours", "ours-scala")),
    *(Target("shutdown_starting", k, 2.0, True, ("shutdown_starting_orphans", 0)) for k in ("ours", "ours-scala")),
    *(
        Target(f"shutdown_{state}", k, 2.0, True, (f"shutdown_{state}_orphans", 0))
        for state in ("idle", "busy", "repl_starting")
        for k in ("ours", "ours-scala")
    ),
    *(
        Target("first_spark_result_pooled", k, 0.2, base=("ipykernel", "first_spark_result"))
        for k in ("ours", "ours-scala")
    ),
]


class Bench:
    """One kernel launched via jupyter_client from its temporary kernelspec."""

    def __init__(self, name: str, log: Path) -> None:
        self.name = name
        self.code = CODE[name]
        self.log = log.open("ab")  # the kernel's stdout and stderr (Spark and Toree log a lot)
        self.started = time.perf_counter()
        self.km = KernelManager(kernel_name=f"bench_{name}")
        self.km.start_kernel(env={**os.environ, **KERNELS[name]["env"]}, stdout=self.log, stderr=self.log)
        self.kc = self.km.client()
        self.kc.start_channels(hb=False)  # no heartbeat: its thread dies noisily when Toree is slow to answer

    def run(self, snippet: str, timeout: float = 300) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Execute one of this kernel's snippets; returns the reply content after idle, and the outputs."""
        outputs: list[dict[str, Any]] = []
        reply = self.kc.execute_interactive(
            self.code[snippet], output_hook=outputs.append, timeout=timeout, store_history=False
        )
        return reply["content"], outputs

    def timed(self, snippet: str) -> tuple[float, dict[str, Any], list[dict[str, Any]]]:
        t0 = time.perf_counter()
        content, outputs = self.run(snippet)
        return time.perf_counter() - t0, content, outputs

    def processes(self) -> list[psutil.Process]:
        root = psutil.Process(self.km.provisioner.process.pid)  # type: ignore[union-attr]
        return [root, *root.children(recursive=True)]

    def close(self) -> None:
        self.kc.stop_channels()
        if self.km.is_alive():
            self.km.shutdown_kernel(now=True)
        self.log.close()


def measure(name: str, skip: set[str], log: Path) -> dict[str, Any]:
    bench = Bench(name, log)
    try:
        bench.kc.wait_for_ready(timeout=120)
        figures: dict[str, Any] = {"kernel_info": time.perf_counter() - bench.started}
        content, _ = bench.run("first")
        figures["first_spark_result"] = time.perf_counter() - bench.started
        assert content["status"] == "ok", content
        for step, function in STEPS.items():
            if step not in skip:
                figures.update(function(bench))
    finally:
        bench.close()
    if "shutdown_starting" not in skip:
        figures.update(measure_shutdown_while_starting(name, log))
    if "shutdown_states" not in skip and name in instant.POOLED:
        figures.update(instant.measure_shutdown_states(name, lambda: Bench(name, log), measure_shutdown))
    if "pooled" not in skip and name in instant.POOLED:
        env = instant.environment(KERNELS[name]["env"])
        figures.update(instant.measure_pooled(name, env, log, CODE[name]["first"]))
    return figures


def _is_java(proc: psutil.Process) -> bool:
    try:
        return "java" in proc.name()
    except psutil.Error:
        return False


def measure_shutdown_while_starting(name: str, log: Path) -> dict[str, Any]:
    """A fresh kernel asked to shut down as soon as its Spark JVM launch is under way (our kernels start
    Spark in the background at once; the others have no JVM yet after 3 s, or are one)."""
    bench = Bench(name, log)
    try:
        bench.kc.wait_for_ready(timeout=120)
        deadline = time.perf_counter() + 3
        while time.perf_counter() < deadline and not any(_is_java(p) for p in bench.processes()[1:]):
            time.sleep(0.05)
        found = measure_shutdown(bench)
    finally:
        bench.close()
    return {"shutdown_starting": found["shutdown"], "shutdown_starting_orphans": found["shutdown_orphans"]}


def measure_roundtrip(bench: Bench) -> dict[str, Any]:
    times = [bench.timed("trivial")[0] for _ in range(ROUNDTRIPS)]
    return {
        "roundtrip_median": statistics.median(times),
        "roundtrip_p95": statistics.quantiles(times, n=20)[-1],
    }


def measure_print(bench: Bench) -> dict[str, Any]:
    elapsed, _, outputs = bench.timed("print")
    streams = [m for m in outputs if m["msg_type"] == "stream"]
    text = "".join(m["content"]["text"] for m in streams)
    return {
        "print_100k": elapsed,
        "print_100k_in_order": text == "".join(f"{i}\n" for i in range(LINES)),
        "print_100k_messages": len(streams),
    }


def measure_dataframe(bench: Bench) -> dict[str, Any]:
    content, _ = bench.run("df_setup")
    assert content["status"] == "ok", content
    elapsed, content, outputs = bench.timed("df_show")
    assert content["status"] == "ok", content
    return {"dataframe_1000": elapsed, "dataframe_1000_rows": rows_shown(outputs)}


def rows_shown(outputs: list[dict[str, Any]]) -> int:
    """Table rows in the result: <tr> with <td> cells in HTML, else `|  n|` lines of df.show()."""
    for msg in outputs:
        data = msg["content"].get("data", {})
        if "text/html" in data:
            return len(re.findall(r"<tr[^>]*>\s*<td", data["text/html"]))
    text = "".join(m["content"].get("text", "") for m in outputs if m["msg_type"] == "stream")
    return len(re.findall(r"^\|\s*\d+\|$", text, re.M))


def measure_interrupt(bench: Bench) -> dict[str, Any]:
    sent: dict[str, float] = {}

    def interrupt_later() -> None:
        time.sleep(2.0)
        sent["at"] = time.perf_counter()
        bench.km.interrupt_kernel()

    thread = threading.Thread(target=interrupt_later)
    thread.start()
    content, _ = bench.run("long_job")
    replied = time.perf_counter()
    thread.join()
    _, outputs = bench.run("active_jobs")
    active = [m["content"]["data"]["text/plain"] for m in outputs if m["msg_type"] == "execute_result"]
    return {
        "interrupt": replied - sent.get("at", replied),
        "interrupt_status": content.get("ename", content["status"]),
        "interrupt_job_cancelled": active == [bench.code["no_jobs"]],
        "interrupt_next_action": bench.timed("first")[0],
    }


def measure_shutdown(bench: Bench) -> dict[str, Any]:
    processes = bench.processes()
    t0 = time.perf_counter()
    bench.km.shutdown_kernel(now=False)
    elapsed = time.perf_counter() - t0
    _, alive = psutil.wait_procs(processes, timeout=5)
    for proc in alive:
        proc.kill()
    return {"shutdown": elapsed, "shutdown_orphans": len(alive)}


STEPS = {  # after start-up, in this order; each can be skipped (--skip)
    "roundtrip": measure_roundtrip,
    "print_100k": measure_print,
    "dataframe": measure_dataframe,
    "interrupt": measure_interrupt,
    "shutdown": measure_shutdown,
}


def write_specs(root: Path, names: list[str]) -> None:
    for name in names:
        spec = {
            "argv": KERNELS[name]["argv"],
            "display_name": name,
            "language": "any",
            "interrupt_mode": "signal",
        }
        specs = {name: spec}
        if name in instant.POOLED:
            specs[f"{name}-pooled"] = instant.pooled_spec(name, spec)
        for spec_name, content in specs.items():
            d = root / "kernels" / f"bench_{spec_name}"
            d.mkdir(parents=True)
            (d / "kernel.json").write_text(json.dumps(content))


def toree_problem() -> str | None:
    """Why Apache Toree cannot run here, or None."""
    if not _toree_run_sh():
        return "toree is not installed (toree==0.5.0 from PyPI; use `hatch run bench35:bench`)"
    if not os.path.exists(os.path.join(_spark_home(), "bin", "spark-submit")):
        return f"no bin/spark-submit in the pyspark install {_spark_home()!r} for its SPARK_HOME"
    if not importlib.metadata.version("pyspark").startswith("3.5"):
        return f"Toree 0.5.0 needs Spark 3.5 (Scala 2.12), this env has pyspark {importlib.metadata.version('pyspark')}"
    if not shutil.which("java"):
        return "no java on PATH"
    return None


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for key in dict.fromkeys(k for r in runs for k in r):
        values = [r[key] for r in runs if key in r]
        if all(isinstance(v, float) for v in values):
            merged[key] = {"min": min(values), "median": statistics.median(values), "max": max(values)}
        else:
            merged[key] = values[-1] if len(set(map(str, values))) == 1 else values
    return merged


def median(value: Any) -> float | None:
    return value["median"] if isinstance(value, dict) else None


def seconds(value: float) -> str:
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):
        spread = f" [{seconds(value['min'])}-{seconds(value['max'])}]" if value["min"] != value["max"] else ""
        return seconds(value["median"]) + spread
    return str(value)


def ratio(results: dict[str, dict[str, Any]], figure: str, mine: str, base: str) -> str:
    a, b = median(results.get(mine, {}).get(figure)), median(results.get(base, {}).get(figure))
    return f"{a / b:.2f}" if a is not None and b else ""


def report(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Print the table: each figure per kernel, the ratios ours/ipykernel and ours-scala/toree, targets."""
    figures = list(dict.fromkeys(k for r in results.values() for k in r))
    head = ["figure", "ours", "ipykernel", "ratio", "ours-scala", "toree", "ratio"]
    widths = [24, 24, 24, 6, 24, 24, 6]
    print("\n" + " ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " targets")
    for figure in figures:
        cells = [figure]
        for mine, base in PAIRS:
            cells += [fmt(results.get(mine, {}).get(figure)), fmt(results.get(base, {}).get(figure))]
            cells.append(ratio(results, figure, mine, base))
        marks = [
            f"{t.kernel} {t.describe()}: {v}"
            for t in TARGETS
            if t.figure == figure and (v := t.verdict(results))
        ]
        print(" ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " " + "; ".join(marks))
    return [
        {"figure": t.figure, "kernel": t.kernel, "target": t.describe(), "verdict": t.verdict(results)}
        for t in TARGETS
    ]


def machine() -> dict[str, Any]:
    def version(package: str) -> str | None:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return None

    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.split("\n")[0]
    return {
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "java": java,
        **{p: version(p) for p in ("pyspark", "ipykernel", "toree", "toree-kernel")},
    }


def prepare_class_sharing(wanted: bool) -> str:
    """What `toree install` does for our kernels: build the driver JVM's class-data-sharing archive once."""
    if not wanted:
        os.environ[class_sharing.SWITCH_ENV] = "off"  # our kernels' environment; the others ignore it
        return "class-data-sharing: off (--no-class-sharing)"
    started = time.perf_counter()
    path = archive_builder.build(shlex.split(SPARK_ARGS))
    return f"class-data-sharing archive: {path} (ready after {time.perf_counter() - started:.0f} s)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs of every kernel, interleaved")
    parser.add_argument("--only", nargs="+", choices=list(KERNELS), help="these kernels only")
    parser.add_argument(
        "--skip",
        nargs="*",
        default=[],
        choices=[*STEPS, "shutdown_starting", "shutdown_states", "pooled"],
        help="figures not to measure",
    )
    parser.add_argument(
        "--no-class-sharing",
        dest="class_sharing",
        action="store_false",
        help="our kernels without the driver JVM's class-data-sharing archive (which `toree install` builds)",
    )
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "latest.json")
    args = parser.parse_args(argv)

    info = machine()
    print(f"{info}\nload average at start: {os.getloadavg()}")
    names = args.only or list(KERNELS)
    if "toree" in names and (problem := toree_problem()):
        print(f"Apache Toree: skipped: {problem}")
        names.remove("toree")
    if {"ours", "ours-scala"} & set(names):
        print(prepare_class_sharing(args.class_sharing), flush=True)
    runs: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    load = [os.getloadavg()]
    with tempfile.TemporaryDirectory() as tmp:
        write_specs(Path(tmp), names)
        os.environ["JUPYTER_PATH"] = tmp  # our temporary kernelspecs, nothing installed
        for i in range(args.repeat):
            for name in list(runs):  # interleaved, so drift in machine load hits every kernel alike
                print(f"run {i + 1}/{args.repeat}: {name} ...", flush=True)
                log = Path(tmp) / f"{name}.log"
                try:
                    runs[name].append(measure(name, set(args.skip), log))
                except Exception as exc:  # e.g. Toree not starting: report it, measure the others
                    tail = log.read_text(errors="replace").splitlines()[-15:]
                    print(f"{name}: failed, dropped from this run: {exc!r}; its log ends:", *tail, sep="\n  ")
                    del runs[name]
                load.append(os.getloadavg())
    results = {name: summarize(r) for name, r in runs.items() if r}
    write_results(args.json, info, load, results, report(results))
    return 0 if set(runs) == set(names) else 1


def write_results(path: Path, info: dict[str, Any], load: list[Any], results: dict[str, Any], verdicts: Any) -> None:
    """A run's last step in every benchmark: the load it ran under, and its JSON document."""
    print(
        f"\nload average at end: {os.getloadavg()}; 1-minute load over the run: "
        f"{min(x[0] for x in load):.2f}-{max(x[0] for x in load):.2f}"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"machine": info, "load_average": load, "results": results, "targets": verdicts}
    path.write_text(json.dumps(document, indent=2, default=str))
    print(f"results written to {path}")


if __name__ == "__main__":
    sys.exit(main())
