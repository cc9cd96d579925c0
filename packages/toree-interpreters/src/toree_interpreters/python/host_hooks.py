"""What the PySpark interpreter swaps into the process it runs in, and puts back.

Python cells print through ``sys.stdout``/``sys.stderr``, ask for passwords through ``getpass.getpass``
and open widgets' comms through ``comm.create_comm``/``comm.get_comm_manager``: while ours are in place,
all of that reaches the cell's sink and the interpreter's comms.

When they are in place is the interpreter's ``hooks`` choice:

* ``"cell"`` (the default): only while a cell runs; after each one (also when it failed or was
  interrupted) the host's own are back. An application embedding the interpreter keeps its
  ``sys.stdout``, ``getpass`` and comm manager between cells.
* ``"process"``: from ``start()`` until ``shutdown()``. For a kernel, which owns its process: output of
  threads that outlive a cell still reaches that cell's sink, and widgets' callbacks run between cells
  (on comm messages from the client) open their comms through ours.
"""

from __future__ import annotations

import contextlib
import getpass
import io
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, Literal

from ..comms import CommManager

HookMode = Literal["cell", "process"]
HOOK_MODES: tuple[HookMode, ...] = ("cell", "process")


class HostHooks:
    """Installs the interpreter's streams, ``getpass`` and comm hooks; ``restore`` puts the host's back.

    Installs nest (a cell run from inside a cell, a cell in ``"process"`` mode): only the outermost one
    swaps, and only its ``restore`` swaps back.
    """

    def __init__(
        self,
        stdout: io.TextIOBase,
        stderr: io.TextIOBase,
        ask_password: Callable[[str], str],
        comms: CommManager,
    ) -> None:
        self._ours = (stdout, stderr, ask_password, comms)
        self._saved: tuple[Any, ...] | None = None  # the host's stdout, stderr, getpass, comm hooks
        self._depth = 0
        self._lock = threading.Lock()

    def install(self) -> None:
        import comm

        with self._lock:
            self._depth += 1
            if self._depth > 1:
                return
            self._saved = (sys.stdout, sys.stderr, getpass.getpass, comm.create_comm, comm.get_comm_manager)
            stdout, stderr, ask_password, comms = self._ours
            sys.stdout, sys.stderr = stdout, stderr
            getpass.getpass = lambda prompt="Password: ", stream=None: ask_password(prompt)
            # ipywidgets (and other comm users) open their comms through these
            comm.create_comm = comms.create_comm
            comm.get_comm_manager = lambda: comms

    def restore(self) -> None:
        import comm

        with self._lock:
            if self._depth == 0:
                return
            self._depth -= 1
            if self._depth > 0 or self._saved is None:
                return
            saved, self._saved = self._saved, None
            sys.stdout, sys.stderr, getpass.getpass, comm.create_comm, comm.get_comm_manager = saved

    @contextlib.contextmanager
    def in_place(self) -> Iterator[None]:
        """Ours for the duration of the block, whatever way it ends."""
        self.install()
        try:
            yield
        finally:
            self.restore()
