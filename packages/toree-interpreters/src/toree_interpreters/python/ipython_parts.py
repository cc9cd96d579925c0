"""The IPython pieces the IPython room plugs its cell sink into.

IPython's ``InteractiveShell`` is the library; these subclasses only redirect where it sends things:
``display()`` and the inline backend's figures go to the running cell's sink (``display_data`` /
``update_display_data``), the value of the last expression is kept for the cell's outcome (the kernel
publishes it as ``execute_result``), tracebacks are kept for the outcome instead of being printed, and
what IPython hands a pager (``obj?``) or a next input (``%load``) becomes an execute_reply payload.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from IPython.core.displayhook import DisplayHook
from IPython.core.displaypub import DisplayPublisher
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from ..contract import OutputSink

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


class ResultDisplayHook(DisplayHook):
    """Keeps the formatted value of the cell's last expression (``Out``, ``_`` are IPython's as usual)."""

    captured: tuple[dict[str, Any], dict[str, Any]] | None = None

    def write_output_prompt(self) -> None:
        pass  # no ``Out[n]:`` on stdout: the kernel's execute_result carries the number

    def write_format_data(self, format_dict: dict[str, Any], md_dict: dict[str, Any] | None = None) -> None:
        self.captured = (format_dict, md_dict or {})


class ToreeShell(InteractiveShell):
    """An ``InteractiveShell`` inside a Toree interpreter: no terminal, no GUI event loop."""

    display_pub_class = SinkDisplayPublisher
    displayhook_class = ResultDisplayHook

    def __init__(self, **kwargs: Any) -> None:
        self.shown_errors: list[ShownError] = []
        super().__init__(**kwargs)
        from IPython.core import page, payloadpage

        # help (``obj?``, ``%pdoc``) goes to the execute_reply's ``page`` payload, as under ipykernel
        self.set_hook("show_in_pager", page.as_hook(payloadpage.page), 99)

    def _showtraceback(self, etype: type[BaseException], evalue: BaseException, stb: list[str]) -> None:
        self.shown_errors.append((etype, evalue, list(stb)))

    def show_usage_error(self, exc: BaseException) -> None:
        self.shown_errors.append((UsageError, exc, [f"UsageError: {exc}"]))

    def take_errors(self) -> list[ShownError]:
        errors, self.shown_errors = self.shown_errors, []
        return errors

    def set_next_input(self, s: str, replace: bool = False) -> None:
        assert self.payload_manager is not None
        self.payload_manager.write_payload({"source": "set_next_input", "text": s, "replace": replace})

    def enable_gui(self, gui: str | None = None) -> None:
        if gui not in (None, "inline"):
            raise UsageError(f"a kernel has no {gui} GUI event loop: use %matplotlib inline")

    def as_text(self, stb: list[str]) -> str:
        return str(self.InteractiveTB.stb2text(stb))


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
