"""toree_interpreters: language interpreters on one managed SparkSession.

No wire protocol in here: a kernel adapts ``OutputSink`` to Jupyter messages, and a Spark
application can embed an interpreter with a sink of its own.
"""

__version__ = "0.1.0"

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
from .python import IPythonInterpreter, PySparkInterpreter
from .r import RInterpreter
from .scala import ScalaInterpreter
from .shared_data import SharedData
from .spark import SparkConnectUnsupported, SparkSessionManager, SparkUnavailable
from .sql import SQLInterpreter

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
    "RInterpreter",
    "SQLInterpreter",
    "ScalaInterpreter",
    "SharedData",
    "SparkConnectUnsupported",
    "SparkSessionManager",
    "SparkUnavailable",
    "StdinNotAllowed",
]

