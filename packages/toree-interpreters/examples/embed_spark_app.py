"""A Spark application that embeds Toree's Scala and Python interpreters: no kernel, no zmq, no Jupyter.

Both interpreters share the application's one SparkSession (temp views) and one ``SharedData`` map
(``kernel.data`` in Scala and Python).

    python examples/embed_spark_app.py [spark-submit options, e.g. --master local[2]]
    spark-submit examples/embed_spark_app.py      # pyspark/bin/spark-submit works too

The last line reports whether the wire-protocol side (zmq, toree_protocol, toree_kernel) was imported.
"""

from __future__ import annotations

import sys

from toree_interpreters import PySparkInterpreter, ScalaInterpreter, SharedData, SparkSessionManager

SCALA = """
val squares = spark.range(1, 11).selectExpr("id * id AS sq")
squares.createOrReplaceTempView("squares")
kernel.data.put("scala_sum", squares.groupBy().sum("sq").first().getLong(0).toString)
println("scala sum of squares: " + kernel.data.get("scala_sum"))
"""

PYTHON = """
total = spark.sql("SELECT sum(sq) AS s FROM squares").first().s
print("python sees the Scala view:", total, "and kernel.data:", kernel.data["scala_sum"])
total * 2
"""


class PrintSink:
    """An OutputSink that prints what a cell produces."""

    def stream(self, name, text):
        (sys.stderr if name == "stderr" else sys.stdout).write(text)

    def display(self, data, metadata=None, *, display_id=None, update=False):
        print(f"[display] {data.get('text/plain', sorted(data))}")

    def clear_output(self, wait=False):
        pass

    def input(self, prompt, password=False):
        raise EOFError("no user here")


def run(interpreter, code: str, sink: PrintSink) -> bool:
    outcome = interpreter.execute(code, sink)
    if outcome.status == "error":
        print(f"[{interpreter.name} error] {outcome.error.ename}: {outcome.error.evalue}")
        return False
    if outcome.result:
        print(f"[{interpreter.name} result] {outcome.result['text/plain']}")
    return True


def main() -> int:
    args = sys.argv[1:] or ["--master", "local[2]", "--conf", "spark.ui.enabled=false"]
    spark = SparkSessionManager(args)
    data = SharedData()
    scala = ScalaInterpreter(spark, shared_data=data)
    python = PySparkInterpreter(spark, shared_data=data)
    sink = PrintSink()
    ok = False
    try:
        for interpreter in (scala, python):
            interpreter.start()
        ok = run(scala, SCALA, sink) and run(python, PYTHON, sink)
    finally:
        python.shutdown()
        scala.shutdown()
        spark.stop()
    loaded = [name for name in ("zmq", "toree_protocol", "toree_kernel") if name in sys.modules]
    print(f"protocol modules loaded: {loaded or 'none'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
