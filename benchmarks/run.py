"""Benchmark this kernel against ipykernel + PySpark, side by side, in one run on this machine.

    hatch run bench [--repeat N] [--only ours|ipykernel] [--skip FIGURE ...] [--json PATH]
    hatch run bench35:scala [--repeat N]     # our Scala kernel vs Apache Toree 0.5.0, both on Spark 3.5

Both kernels are launched the same way (jupyter_client with temporary kernelspecs) and measured
with the same code; figures are printed with the ratio ours / ipykernel and the target from
DESIGN.md §5. Not a test: machines are noisy, so compare ratios from one run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil
from jupyter_client.manager import KernelManager

SPARK_ARGS = "--master local[*] --conf spark.ui.enabled=false"
PYTHON_CODE = {
    "first": "spark.range(10).count()",
    "trivial": "1+1",
    "print": "for i in range(100000):\n    print(i)",
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
    "print": "for (i <- 0 until 100000) println(i)",
    "long_job": "sc.parallelize(1 to 4, 2).map { x => Thread.sleep(60000); x }.count()",
    "active_jobs": "sc.statusTracker.getActiveJobIds.toList",
    "no_jobs": "List()",
}


def _toree_home() -> str:
    import toree  # Apache Toree 0.5.0 from PyPI: its run.sh starts the JVM kernel with spark-submit

    return os.path.dirname(toree.__file__)


def _spark_home() -> str:
    import importlib.util

    spec = importlib.util.find_spec("pyspark")
    return (spec.submodule_search_locations or [""])[0] if spec else ""


KERNELS: dict[str, dict[str, Any]] = {
    "ours": {
        "argv": lambda: [sys.executable, "-m", "toree_kernel", "-f", "{connection_file}"],
        "env": {"SPARK_OPTS": SPARK_ARGS},
        "code": PYTHON_CODE,
    },
    "ipykernel": {
        "argv": lambda: [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "env": {"PYSPARK_SUBMIT_ARGS": f"{SPARK_ARGS} pyspark-shell"},
        "code": {
            **PYTHON_CODE,
            "first": "from pyspark.sql import SparkSession\nspark = SparkSession.builder.getOrCreate()\n"
            "spark.range(10).count()",
        },
    },
    "ours-scala": {
        "argv": lambda: [sys.executable, "-m", "toree_kernel", "-f", "{connection_file}"],
        "env": {"SPARK_OPTS": SPARK_ARGS, "DEFAULT_INTERPRETER": "Scala"},
        "code": SCALA_CODE,
    },
    "toree": {
        "argv": lambda: [os.path.join(_toree_home(), "bin", "run.sh"), "--profile", "{connection_file}"],
        "env": {"SPARK_OPTS": SPARK_ARGS, "DEFAULT_INTERPRETER": "Scala", "SPARK_HOME": _spark_home()},
        "code": SCALA_CODE,
    },
}
TARGETS = {  # figure -> (ratio limit vs the baseline kernel or None, absolute limit in s or None)
    "kernel_info": (1.0, None),
    "first_spark_result": (0.8, None),
    "roundtrip_median": (1.0, None),
    "print_100k": (0.5, None),
    "interrupt": (None, 1.0),
    "shutdown": (None, 2.0),
}

SCALA_TARGETS = {"first_spark_result": (0.5, None), "roundtrip_median": (0.5, None), "interrupt": (None, 1.0)}


class Bench:
    """One kernel launched via jupyter_client, with timing helpers."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.spec = KERNELS[name]
        self.started = time.perf_counter()
        self.km = KernelManager(kernel_name=f"bench_{name}")
        self.km.start_kernel(env={**os.environ, **self.spec["env"]})
        self.kc = self.km.client()
        self.kc.start_channels()

    def run(self, code: str, timeout: float = 300) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        outputs: list[dict[str, Any]] = []
        reply = self.kc.execute_interactive(
            code, output_hook=outputs.append, timeout=timeout, store_history=False
        )
        return reply["content"], outputs

    def jvm_descendants(self) -> list[psutil.Process]:
        root = psutil.Process(self.km.provisioner.process.pid)  # type: ignore[union-attr]
        return [root, *root.children(recursive=True)]

    def close(self) -> None:
        self.kc.stop_channels()
        if self.km.is_alive():
            self.km.shutdown_kernel(now=True)


def write_specs(root: Path, names: list[str]) -> None:
    for name in names:
        d = root / "kernels" / f"bench_{name}"
        d.mkdir(parents=True)
        spec = {
            "argv": KERNELS[name]["argv"](),
            "display_name": name,
            "language": "any",
            "interrupt_mode": "signal",
        }
        (d / "kernel.json").write_text(json.dumps(spec))


def measure(name: str, skip: set[str]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    bench = Bench(name)
    try:
        bench.kc.wait_for_ready(timeout=120)
        figures["kernel_info"] = time.perf_counter() - bench.started
        code = bench.spec["code"]
        content, outputs = bench.run(code["first"])
        figures["first_spark_result"] = time.perf_counter() - bench.started
        assert content["status"] == "ok", content

        if "roundtrip" not in skip:
            times = []
            for _ in range(200):
                t0 = time.perf_counter()
                bench.run(code["trivial"])
                times.append(time.perf_counter() - t0)
            figures["roundtrip_median"] = statistics.median(times)
            figures["roundtrip_p95"] = statistics.quantiles(times, n=20)[-1]

        if "print_100k" not in skip:
            t0 = time.perf_counter()
            content, outputs = bench.run(code["print"])
            figures["print_100k"] = time.perf_counter() - t0
            text = "".join(m["content"]["text"] for m in outputs if m["msg_type"] == "stream")
            figures["print_100k_in_order"] = text == "".join(f"{i}\n" for i in range(100000))
            figures["print_100k_messages"] = sum(1 for m in outputs if m["msg_type"] == "stream")

        if "interrupt" not in skip:
            figures.update(measure_interrupt(bench))

        if "shutdown" not in skip:
            processes = bench.jvm_descendants()
            t0 = time.perf_counter()
            bench.km.shutdown_kernel(now=False)
            figures["shutdown"] = time.perf_counter() - t0
            _, alive = psutil.wait_procs(processes, timeout=5)
            figures["shutdown_orphans"] = len(alive)
            for proc in alive:
                proc.kill()
    finally:
        bench.close()
    return figures


def measure_interrupt(bench: Bench) -> dict[str, Any]:
    sent: dict[str, float] = {}

    def interrupt_later() -> None:
        time.sleep(2.0)
        sent["at"] = time.perf_counter()
        bench.km.interrupt_kernel()

    thread = threading.Thread(target=interrupt_later)
    thread.start()
    code = bench.spec["code"]
    content, _ = bench.run(code["long_job"])
    replied = time.perf_counter()
    thread.join()
    _, outputs = bench.run(code["active_jobs"])
    active = [m["content"]["data"]["text/plain"] for m in outputs if m["msg_type"] == "execute_result"]
    t0 = time.perf_counter()
    bench.run(code["first"])
    return {
        "interrupt": replied - sent.get("at", replied),
        "interrupt_status": content.get("ename", content["status"]),
        "interrupt_job_cancelled": active == [code["no_jobs"]],
        "interrupt_next_action": time.perf_counter() - t0,
    }


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for key in runs[0]:
        values = [r[key] for r in runs if key in r]
        if all(isinstance(v, float) for v in values):
            merged[key] = {"min": min(values), "median": statistics.median(values), "max": max(values)}
        else:
            merged[key] = values[-1] if len(set(map(str, values))) == 1 else values
    return merged


def fmt(value: Any) -> str:
    if isinstance(value, dict):
        return f"{value['median']:.4f}s" + (
            f" [{value['min']:.4f}-{value['max']:.4f}]" if value["min"] != value["max"] else ""
        )
    return str(value)


def median(value: Any) -> float | None:
    return value["median"] if isinstance(value, dict) else None


def report(results: dict[str, dict[str, Any]], mine: str, base: str, targets: dict[str, Any]) -> None:
    ours, other = results.get(mine, {}), results.get(base, {})
    keys = list(dict.fromkeys([*ours, *other]))
    print(f"\n{'figure':28} {mine:>26} {base:>26} {'ratio':>7}  target")
    for key in keys:
        a, b = median(ours.get(key)), median(other.get(key))
        ratio = f"{a / b:.2f}" if a is not None and b else ""
        verdict = ""
        if key in targets and a is not None:
            limit, absolute = targets[key]
            ok = (absolute is None or a <= absolute) and (limit is None or not b or a / b <= limit)
            want = f"<= {limit}x {base}" if limit else f"<= {absolute}s"
            verdict = f"{want}: {'PASS' if ok else 'MISS'}"
        print(f"{key:28} {fmt(ours.get(key, '-')):>26} {fmt(other.get(key, '-')):>26} {ratio:>7}  {verdict}")


def toree_available() -> bool:
    try:
        return os.path.exists(os.path.join(_toree_home(), "bin", "run.sh"))
    except ImportError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--scala", action="store_true", help="our Scala kernel vs Apache Toree 0.5.0")
    parser.add_argument("--only", choices=list(KERNELS))
    parser.add_argument(
        "--skip", nargs="*", default=[], choices=["roundtrip", "print_100k", "interrupt", "shutdown"]
    )
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "latest.json")
    args = parser.parse_args(argv)

    print(f"load average at start: {os.getloadavg()}; cores: {os.cpu_count()}")
    mine, base, targets = (
        ("ours-scala", "toree", SCALA_TARGETS) if args.scala else ("ours", "ipykernel", TARGETS)
    )
    names = [args.only] if args.only else [mine, base]
    if base == "toree" and base in names and not toree_available():
        print("Apache Toree: skipped (install toree==0.5.0 from PyPI, e.g. `hatch run bench35:scala`)")
        names.remove(base)
    runs: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    with tempfile.TemporaryDirectory() as tmp:
        write_specs(Path(tmp), names)
        os.environ["JUPYTER_PATH"] = tmp  # our temporary kernelspecs, nothing installed
        for i in range(args.repeat):
            for name in names:  # interleaved, so drift in machine load hits both alike
                print(f"run {i + 1}/{args.repeat}: {name} ...", flush=True)
                runs[name].append(measure(name, set(args.skip)))
    results = {name: summarize(r) for name, r in runs.items()}
    report(results, mine, base, targets)
    print(f"\nload average at end: {os.getloadavg()}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2, default=str))
    print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
