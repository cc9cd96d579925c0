"""The Scala room: the Scala REPL compiler inside the Spark driver JVM, driven through py4j."""

from .interpreter import ScalaInterpreter

__all__ = ["ScalaInterpreter"]
