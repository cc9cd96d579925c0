"""Benchmark this kernel against ipykernel + PySpark, side by side, in one run on this machine.

    hatch run bench [--repeat N] [--only ours|ipykernel] [--skip FIGURE ...] [--json PATH]

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
KERNELS = {
    "ours": {
        "argv": [sys.executable, "-m", "toree_kernel", "-f", "{connection_file}"],
        "env": {"SPARK_OPTS": SPARK_ARGS},
        "spark_init": "",
        "spark": "spark",
    },
    "ipykernel": {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "env": {"PYSPARK_SUBMIT_ARGS": f"{SPARK_ARGS} pyspark-shell"},
        "spark_init": "from pyspark.sql import SparkSession\nspark = SparkSession.builder.getOrCreate()\n",
        "spark": "spark",
    },
}
LONG_JOB = (
    "from pyspark.sql import functions as F\n"
    "slow = F.udf(lambda x: __import__('time').sleep(0.5) or x, 'long')\n"
    "spark.range(0, 240, 1, 2).select(slow('id').alias('x')).agg(F.sum('x')).collect()"
)
TARGETS = {  # figure -> (ratio limit vs ipykernel or None, absolute limit in s or None)
    "kernel_info": (1.0, None),
    "first_spark_result": (0.8, None),
    "roundtrip_median": (1.0, None),
    "print_100k": (0.5, None),
    "interrupt": (None, 1.0),
    "shutdown": (None, 2.0),
}


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


def write_specs(root: Path) -> None:
    for name, spec in KERNELS.items():
        d = root / "kernels" / f"bench_{name}"
        d.mkdir(parents=True)
        (d / "kernel.json").write_text(
            json.dumps(
                {"argv": spec["argv"], "display_name": name, "language": "python", "interrupt_mode": "signal"}
            )
        )


def measure(name: str, skip: set[str]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    bench = Bench(name)
    try:
        bench.kc.wait_for_ready(timeout=120)
        figures["kernel_info"] = time.perf_counter() - bench.started
        content, outputs = bench.run(bench.spec["spark_init"] + "spark.range(10).count()")
        figures["first_spark_result"] = time.perf_counter() - bench.started
        assert content["status"] == "ok", content

        if "roundtrip" not in skip:
            times = []
            for _ in range(200):
                t0 = time.perf_counter()
                bench.run("1+1")
                times.append(time.perf_counter() - t0)
            figures["roundtrip_median"] = statistics.median(times)
            figures["roundtrip_p95"] = statistics.quantiles(times, n=20)[-1]

        if "print_100k" not in skip:
            t0 = time.perf_counter()
            content, outputs = bench.run("for i in range(100000):\n    print(i)")
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
    content, _ = bench.run(LONG_JOB)
    replied = time.perf_counter()
    thread.join()
    active_code = f"list({bench.spec['spark']}.sparkContext.statusTracker().getActiveJobsIds())"
    _, outputs = bench.run(active_code)
    active = [m["content"]["data"]["text/plain"] for m in outputs if m["msg_type"] == "execute_result"]
    t0 = time.perf_counter()
    bench.run("spark.range(10).count()")
    return {
        "interrupt": replied - sent.get("at", replied),
        "interrupt_status": content.get("ename", content["status"]),
        "interrupt_job_cancelled": active == ["[]"],
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


def report(results: dict[str, dict[str, Any]]) -> None:
    ours, ipy = results.get("ours", {}), results.get("ipykernel", {})
    keys = list(dict.fromkeys([*ours, *ipy]))
    print(f"\n{'figure':28} {'ours':>26} {'ipykernel':>26} {'ratio':>7}  target")
    for key in keys:
        a, b = median(ours.get(key)), median(ipy.get(key))
        ratio = f"{a / b:.2f}" if a is not None and b else ""
        verdict = ""
        if key in TARGETS and a is not None:
            limit, absolute = TARGETS[key]
            ok = (absolute is None or a <= absolute) and (limit is None or not b or a / b <= limit)
            want = f"<= {limit}x ipykernel" if limit else f"<= {absolute}s"
            verdict = f"{want}: {'PASS' if ok else 'MISS'}"
        print(f"{key:28} {fmt(ours.get(key, '-')):>26} {fmt(ipy.get(key, '-')):>26} {ratio:>7}  {verdict}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--only", choices=list(KERNELS))
    parser.add_argument(
        "--skip", nargs="*", default=[], choices=["roundtrip", "print_100k", "interrupt", "shutdown"]
    )
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "latest.json")
    args = parser.parse_args(argv)

    print(f"load average at start: {os.getloadavg()}; cores: {os.cpu_count()}")
    names = [args.only] if args.only else list(KERNELS)
    runs: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    with tempfile.TemporaryDirectory() as tmp:
        write_specs(Path(tmp))
        os.environ["JUPYTER_PATH"] = tmp  # our temporary kernelspecs, nothing installed
        for i in range(args.repeat):
            for name in names:  # interleaved, so drift in machine load hits both alike
                print(f"run {i + 1}/{args.repeat}: {name} ...", flush=True)
                runs[name].append(measure(name, set(args.skip)))
    results = {name: summarize(r) for name, r in runs.items()}
    report(results)
    print(f"\nload average at end: {os.getloadavg()}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2, default=str))
    print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
