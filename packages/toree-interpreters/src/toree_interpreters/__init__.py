"""toree_interpreters: language interpreters on one managed SparkSession.

No wire protocol in here: a kernel adapts ``OutputSink`` to Jupyter messages, and a Spark
application can embed an interpreter with a sink of its own.
"""

__version__ = "0.1.0"

from typing import TYPE_CHECKING, Any

from .contract import (
    Completion,
    ErrorInfo,
    ExecuteOutcome,
    Interpreter,
    IsComplete,
    LanguageInfo,
    MimeBundle,
    OutputOptions,
    OutputSink,
    StdinNotAllowed,
)
from .python import PySparkInterpreter
from .scala import ScalaInterpreter
from .shared_data import SharedData
from .spark import SparkConnectUnsupported, SparkSessionManager, SparkUnavailable
from .sql import SQLInterpreter

if TYPE_CHECKING:
    from .python import IPythonInterpreter

__all__ = [
    "Completion",
    "ErrorInfo",
    "ExecuteOutcome",
    "IPythonInterpreter",
    "Interpreter",
    "IsComplete",
    "LanguageInfo",
    "MimeBundle",
    "OutputOptions",
    "OutputSink",
    "PySparkInterpreter",
    "SQLInterpreter",
    "ScalaInterpreter",
    "SharedData",
    "SparkConnectUnsupported",
    "SparkSessionManager",
    "SparkUnavailable",
    "StdinNotAllowed",
]


def __getattr__(name: str) -> Any:
    if name == "IPythonInterpreter":  # imports IPython: only when asked for
        from .python import IPythonInterpreter

        return IPythonInterpreter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
