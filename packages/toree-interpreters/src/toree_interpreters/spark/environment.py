"""The environment variables set to launch a session's driver JVM, and putting the host's values back.

pyspark reads its launch options from the process environment (``PYSPARK_SUBMIT_ARGS``, ``PYSPARK_PYTHON``,
``SPARK_SUBMIT_OPTS``) and sets some of its own there. A kernel owns its process, but an application
embedding the interpreters does not lend it to us for good: what the launch changed is undone when the
session stops (``restore``), ``SPARK_SUBMIT_OPTS`` right after the launch (``prepended_opts``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence

from .submit_args import prepend_opts

_LAUNCH_PREFIXES = ("SPARK_", "PYSPARK_")


class LaunchEnvironment:
    """Remembers what launching a session changed in ``os.environ``; ``restore`` puts the host's values back."""

    def __init__(self) -> None:
        self._saved: dict[str, tuple[str | None, str]] = {}  # key -> (the host's value, the launch's)

    @contextlib.contextmanager
    def recorded(self) -> Iterator[None]:
        """Every Spark variable (``SPARK_*``, ``PYSPARK_*``) set or changed in the block, ours and
        pyspark's own such as ``SPARK_BUFFER_SIZE``, is remembered for ``restore``. Only those: the block
        runs on the launch thread for seconds, and what the host sets meanwhile is the host's."""
        before = dict(os.environ)
        try:
            yield
        finally:
            for key, value in os.environ.items():
                if key.startswith(_LAUNCH_PREFIXES) and before.get(key) != value:
                    original = self._saved[key][0] if key in self._saved else before.get(key)
                    self._saved[key] = (original, value)

    def restore(self) -> None:
        """The host's values again, where they still are the launch's (one the host set since stays)."""
        saved, self._saved = self._saved, {}
        for key, (original, launched) in saved.items():
            if os.environ.get(key) != launched:
                continue
            if original is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = original

    @contextlib.contextmanager
    def prepended_opts(self, options: Sequence[str]) -> Iterator[None]:
        """Put JVM options before the user's SPARK_SUBMIT_OPTS (theirs win) while pyspark launches the JVM."""
        saved = os.environ.get("SPARK_SUBMIT_OPTS")
        if options:
            os.environ["SPARK_SUBMIT_OPTS"] = prepend_opts(options, saved)
        try:
            yield
        finally:
            if saved is None:
                os.environ.pop("SPARK_SUBMIT_OPTS", None)
            else:
                os.environ["SPARK_SUBMIT_OPTS"] = saved
