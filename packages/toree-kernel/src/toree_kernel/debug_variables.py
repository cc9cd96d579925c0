"""The user's variables as DAP variables while no cell is stopped (JupyterLab's variables panel).

debugpy presents the variables of a stopped frame; when nothing is stopped the panel asks the kernel
(``inspectVariables``, then ``variables`` for what the user unfolds). The same presentation is used here:
debugpy's own frame tracker over a stand-in frame whose globals are the namespace (as ipykernel does),
so values, types and children read alike in both cases. Imports debugpy: only used when it is installed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class _Code:
    def __init__(self, filename: str, name: str) -> None:
        self.co_filename, self.co_name = filename, name


class _NamespaceFrame:
    """What debugpy's tracker reads of a frame."""

    def __init__(self, namespace: dict[str, Any], filename: str) -> None:
        self.f_code = _Code(filename, "<module>")
        self.f_globals = self.f_locals = namespace
        self.f_back = None


class _PyDB:
    """The one thing debugpy's variable grouping asks of its debugger object."""

    def __init__(self) -> None:
        from _pydevd_bundle.pydevd_api import PyDevdAPI

        self.variable_presentation = PyDevdAPI.VariablePresentation()


class NamespaceVariables:
    """``inspect`` takes a fresh snapshot of the namespace; ``children`` unfolds one of its variables."""

    def __init__(self, accept: Callable[[str], bool]) -> None:
        from debugpy.server import api  # noqa: F401  (puts debugpy's bundled pydevd on the path)

        self._accept = accept
        self._tracker: Any = None
        self._manager: Any = None
        self._frame: _NamespaceFrame | None = None

    def inspect(self, namespace: dict[str, Any], filename: str) -> list[dict[str, Any]]:
        from _pydevd_bundle import pydevd_frame_utils
        from _pydevd_bundle.pydevd_suspended_frames import SuspendedFramesManager, _FramesTracker

        if self._tracker is not None:
            self._tracker.untrack_all()
        self._manager = SuspendedFramesManager()
        self._tracker = _FramesTracker(self._manager, _PyDB())
        self._frame = _NamespaceFrame(namespace, filename)
        self._tracker.track("namespace", pydevd_frame_utils.create_frames_list_from_frame(self._frame))
        return self.children(id(self._frame)) or []

    def children(self, reference: int) -> list[dict[str, Any]] | None:
        """The variables under ``reference`` (None: not one of this snapshot's)."""
        if self._manager is None:
            return None
        try:
            variable = self._manager.get_variable(reference)
        except KeyError:
            return None
        found = [child.get_var_data() for child in variable.get_children_variables()]
        if reference == id(self._frame):
            found = [var for var in found if self._accept(var["name"])]
        return found
