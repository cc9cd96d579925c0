"""The IPython pieces the IPython room plugs its cell sink into.

IPython's ``InteractiveShell`` is the library; these subclasses only redirect where it sends things:
``display()`` and the inline backend's figures go to the running cell's sink (``display_data`` /
``update_display_data``), the value of the last expression is kept for the cell's outcome (the kernel
publishes it as ``execute_result``), tracebacks are kept for the outcome instead of being printed, and
what IPython hands a pager (``obj?``) or a next input (``%load``) becomes an execute_reply payload.
Cells are compiled under their ``CellFiles`` path, so a debugger's breakpoints in a cell stop there.

Cells may run on several threads at once (kernel subshells): what is kept per cell (the value, the
tracebacks, the payloads) is kept per thread, and the shell's nesting counters are locked.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any, Literal

from IPython.core.builtin_trap import BuiltinTrap
from IPython.core.compilerop import CachingCompiler
from IPython.core.display_trap import DisplayTrap
from IPython.core.displayhook import DisplayHook
from IPython.core.displaypub import DisplayPublisher
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.core.payload import PayloadManager

from ..contract import OutputSink
from .cell_files import CellFiles

ShownError = tuple[type[BaseException], BaseException, list[str]]


class SinkDisplayPublisher(DisplayPublisher):
    """``display()``, ``update_display`` and ``clear_output`` through the running cell's sink."""

    sink: Callable[[], OutputSink | None] = staticmethod(lambda: None)  # set by the interpreter

    def publish(
        self,
        data: dict[str, Any],
        metadata: dict[str, Any] | None = None,
        *args: Any,
        transient: dict[str, Any] | None = None,
        update: bool = False,
        **kwargs: Any,
    ) -> None:
        sink = self.sink()
        if sink is None:  # no cell has run yet: IPython's own (text on stdout)
            super().publish(data, metadata, transient=transient, update=update, **kwargs)
            return
        display_id = (transient or {}).get("display_id")
        sink.display(data, metadata, display_id=display_id, update=update)

    def clear_output(self, wait: bool = False) -> None:
        sink = self.sink()
        if sink is None:
            super().clear_output(wait)
        else:
            sink.clear_output(wait)


class _Kept(threading.local):
    captured: tuple[dict[str, Any], dict[str, Any]] | None = None

    def __init__(self) -> None:
        self.errors: list[ShownError] = []
        self.payload: list[dict[str, Any]] = []


class ResultDisplayHook(DisplayHook):
    """Keeps the formatted value of the cell's last expression (``Out``, ``_`` are IPython's as usual),
    per thread."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._kept = _Kept()
        super().__init__(*args, **kwargs)

    @property
    def captured(self) -> tuple[dict[str, Any], dict[str, Any]] | None:
        return self._kept.captured

    @captured.setter
    def captured(self, value: tuple[dict[str, Any], dict[str, Any]] | None) -> None:
        self._kept.captured = value

    def write_output_prompt(self) -> None:
        pass  # no ``Out[n]:`` on stdout: the kernel's execute_result carries the number

    def write_format_data(self, format_dict: dict[str, Any], md_dict: dict[str, Any] | None = None) -> None:
        self.captured = (format_dict, md_dict or {})


class CellFileCompiler(CachingCompiler):
    """Names each cell by its ``CellFiles`` path (a hash of the cell's text, as typed) instead of
    ``<ipython-input-N-...>``; tracebacks still read "Cell In[N]" (IPython maps the name to N)."""

    files: CellFiles | None = None  # set by the interpreter once the shell is built

    def get_code_name(self, raw_code: str, transformed_code: str, number: int) -> str:
        if self.files is None:
            return super().get_code_name(raw_code, transformed_code, number)
        return self.files.path(raw_code)


class ToreeShell(InteractiveShell):
    """An ``InteractiveShell`` inside a Toree interpreter: no terminal, no GUI event loop."""

    display_pub_class = SinkDisplayPublisher
    displayhook_class = ResultDisplayHook
    compiler_class = CellFileCompiler

    def __init__(self, **kwargs: Any) -> None:
        self._kept = _Kept()
        super().__init__(**kwargs)
        self.builtin_trap = _LockedBuiltinTrap(shell=self)
        self.display_trap = _LockedDisplayTrap(hook=self.displayhook)
        from IPython.core import page, payloadpage

        # help (``obj?``, ``%pdoc``) goes to the execute_reply's ``page`` payload, as under ipykernel
        self.set_hook("show_in_pager", page.as_hook(payloadpage.page), 99)

    def init_payload(self) -> None:
        self.payload_manager = _ThreadPayloads(parent=self)
        self.configurables.append(self.payload_manager)

    def showtraceback(self, exc_tuple: Any = None, *args: Any, **kwargs: Any) -> None:
        """An interrupted cell is reported as interrupted, without a traceback: formatting one through
        pyspark's and gRPC's frames (stack_data parses each file) took 1-2 s of a Connect interrupt."""
        try:
            etype, evalue, _ = self._get_exc_info(exc_tuple)  # also sets sys.last_* for %tb and %debug
        except ValueError:  # no exception to show: IPython says so
            etype = evalue = None
        if etype is not None and issubclass(etype, KeyboardInterrupt):
            self._showtraceback(etype, evalue, [etype.__name__])
            return
        super().showtraceback(exc_tuple, *args, **kwargs)

    def _format_exception_for_storage(self, exception: BaseException, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """IPython 9 formats a failed cell's traceback a second time for its history: the one just shown
        is the same, and formatting costs ~0.5 s a frame-heavy traceback."""
        for etype, evalue, stb in reversed(self._kept.errors):
            if evalue is exception:
                return {"ename": etype.__name__, "evalue": str(evalue), "traceback": list(stb)}
        return dict(super()._format_exception_for_storage(exception, *args, **kwargs))

    def _showtraceback(self, etype: type[BaseException], evalue: BaseException, stb: list[str]) -> None:
        self._kept.errors.append((etype, evalue, list(stb)))

    def show_usage_error(self, exc: BaseException) -> None:
        self._kept.errors.append((UsageError, exc, [f"UsageError: {exc}"]))

    def take_errors(self) -> list[ShownError]:
        """The tracebacks IPython showed on the calling thread since the last call."""
        errors, self._kept.errors = self._kept.errors, []
        return errors

    def set_next_input(self, s: str, replace: bool = False) -> None:
        assert self.payload_manager is not None
        self.payload_manager.write_payload({"source": "set_next_input", "text": s, "replace": replace})

    def enable_gui(self, gui: str | None = None) -> None:
        if gui not in (None, "inline"):
            raise UsageError(f"a kernel has no {gui} GUI event loop: use %matplotlib inline")

    def as_text(self, stb: list[str]) -> str:
        return str(self.InteractiveTB.stb2text(stb))


class _ThreadPayloads(PayloadManager):
    """Payloads (``obj?``'s page, ``%load``'s next input) of the cell running on the calling thread."""

    def __init__(self, **kwargs: Any) -> None:
        self._kept = _Kept()
        super().__init__(**kwargs)

    def write_payload(self, data: dict[str, Any], single: bool = True) -> None:
        if not isinstance(data, dict):
            raise TypeError(f"each payload is a dict, not {type(data).__name__}")
        kept = self._kept.payload
        source = data.get("source") if single else None
        for i, old in enumerate(kept):
            if source is not None and old.get("source") == source:
                kept[i] = data
                return
        kept.append(data)

    def read_payload(self) -> list[dict[str, Any]]:
        return self._kept.payload

    def clear_payload(self) -> None:
        self._kept.payload = []


class _Locked:
    """A trap whose nesting count of swaps is safe when cells on two threads enter at once (one lock per
    trap class)."""

    _lock: threading.Lock

    def __enter__(self) -> Any:
        with self._lock:
            super().__enter__()  # type: ignore[misc]
        return self

    def __exit__(self, *exc: Any) -> Literal[False]:
        with self._lock:
            super().__exit__(*exc)  # type: ignore[misc]
        return False


class _LockedDisplayTrap(_Locked, DisplayTrap):
    """IPython's ``sys.displayhook`` swap."""

    _lock = threading.Lock()


class _LockedBuiltinTrap(_Locked, BuiltinTrap):
    """IPython's builtins (``exit``, ``get_ipython``) swap."""

    _lock = threading.Lock()


def make_current(shell: InteractiveShell) -> None:
    """Make ``shell`` what ``get_ipython()`` returns (the inline backend and ``IPython.display`` ask it)."""
    for cls in type(shell).__mro__:
        if isinstance(cls, type) and issubclass(cls, InteractiveShell):
            cls._instance = shell  # type: ignore[assignment]


def forget(shell: InteractiveShell) -> None:
    """``get_ipython()`` no longer returns ``shell``."""
    for cls in type(shell).__mro__:
        if isinstance(cls, type) and issubclass(cls, InteractiveShell) and cls._instance is shell:
            cls._instance = None


def align_history(shell: InteractiveShell, count: int) -> None:
    """Make the next input IPython stores ``In[count]``: cells that never reached the shell (``%%SQL``,
    Scala) leave empty entries, a second run within one cell replaces the first."""
    history = shell.history_manager
    assert history is not None
    for inputs in (history.input_hist_parsed, history.input_hist_raw):
        del inputs[count:]
        inputs.extend([""] * (count - len(inputs)))
    shell.execution_count = count


def write_stderr(text: str) -> None:
    sys.stderr.write(text if text.endswith("\n") else text + "\n")
