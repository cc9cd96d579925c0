"""Which Python cell runs on which thread, and where output from a thread without a cell goes.

A kernel with subshells (JEP 91) runs cells of the one Python namespace on several threads at once: the
main shell's on the main thread, each subshell's on a thread of its own. Everything a cell writes
(``print``, ``display()``, figures, ``input()``) goes to the sink of the cell running on the writing
thread, so each cell's outputs carry that cell's parent header.

Threads that run no cell (ones a cell started and left running, widget callbacks) write to the *home*
sink: that of the latest cell of the main thread, or of the latest cell anywhere until a cell ran on
the main thread. A subshell's short cell (a variable inspector's) thus never takes the output of
threads started by notebook cells.
"""

from __future__ import annotations

import threading

import attrs

from ..contract import OutputSink
from ..spark.cell import SparkCell


@attrs.define(eq=False)
class RunningCell:
    """One cell while it runs: its sink, its Spark cell and the thread it runs on."""

    sink: OutputSink
    spark: SparkCell
    thread: int = attrs.field(factory=threading.get_ident)
    raised: bool = False  # KeyboardInterrupt was raised (or scheduled) into it for the latest interrupt


class RunningCells:
    """The cells running now, one per thread, and the home sink. Thread-safe.

    ``lock`` guards raising an interrupt into a cell against that cell's end (see the interpreter)."""

    def __init__(self) -> None:
        self._cells: dict[int, RunningCell] = {}
        self._home: OutputSink | None = None
        self._home_is_main = False
        self.lock = threading.Lock()

    def begin(self, sink: OutputSink, spark: SparkCell) -> RunningCell:
        """Register the cell starting on the calling thread (which runs no other cell)."""
        cell = RunningCell(sink, spark)
        on_main = threading.current_thread() is threading.main_thread()
        with self.lock:
            self._cells[cell.thread] = cell
            if on_main or not self._home_is_main:
                self._home, self._home_is_main = sink, on_main
        return cell

    def end(self, cell: RunningCell) -> None:
        """Forget ``cell``; the caller holds ``lock``."""
        if self._cells.get(cell.thread) is cell:
            del self._cells[cell.thread]

    def on(self, thread: int) -> RunningCell | None:
        return self._cells.get(thread)

    def sink(self) -> OutputSink | None:
        """Where the calling thread's output goes: its cell's sink, else the home sink (None: no cell yet)."""
        cell = self._cells.get(threading.get_ident())
        return cell.sink if cell is not None else self._home

    def all(self) -> list[RunningCell]:
        return list(self._cells.values())

    def __bool__(self) -> bool:
        return bool(self._cells)
