"""Typed kernel requests: one attrs class per message type a kernel handles, parsed from content.

Parsing is the only place request fields are checked, so a handler gets values of the type the
spec gives them: a cell whose code is a number or a list is rejected (``ProtocolError``), never run
as its ``str()``. ``null`` means "use the default", as most clients send it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

import attrs

from .messages import ProtocolError

_T = TypeVar("_T")
_TYPE_NAMES = {str: "a string", bool: "true or false", int: "an integer", dict: "an object"}
# Beyond what SQLite (history) or the JVM take: an integer field outside this is rejected.
_INT_RANGE = range(-(2**63), 2**63)


def field(content: Mapping[str, Any], key: str, kind: type[_T], default: Any) -> Any:
    """``content[key]`` if it has the type ``kind`` (``null`` or missing means ``default``)."""
    value = content.get(key)
    if value is None:
        return default
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ProtocolError(f"content field {key!r} must be {_TYPE_NAMES[kind]}, not {type(value).__name__}")
    if kind is int and value not in _INT_RANGE:
        raise ProtocolError(f"content field {key!r} is out of range: {value}")
    return value


def _cursor(content: Mapping[str, Any], code: str) -> int:
    """The cursor, clamped into the code (missing: at its end)."""
    pos = field(content, "cursor_pos", int, None)
    return len(code) if pos is None else max(0, min(pos, len(code)))


class _NoFields:
    """Requests whose content has nothing a kernel reads."""

    @classmethod
    def parse(cls, content: Mapping[str, Any]) -> Self:
        return cls()


@attrs.frozen
class KernelInfoRequest(_NoFields):
    pass


@attrs.frozen
class ExecuteRequest:
    code: str = ""
    silent: bool = False
    store_history: bool = True  # always False when silent (the spec says silent implies it)
    user_expressions: Mapping[str, Any] = attrs.field(factory=dict)
    allow_stdin: bool = False
    stop_on_error: bool = True

    @classmethod
    def parse(cls, content: Mapping[str, Any]) -> ExecuteRequest:
        silent = field(content, "silent", bool, False)
        stop = field(content, "stop_on_error", bool, None)
        return cls(
            code=field(content, "code", str, ""),
            silent=silent,
            store_history=field(content, "store_history", bool, not silent) and not silent,
            user_expressions=field(content, "user_expressions", dict, None) or {},
            allow_stdin=field(content, "allow_stdin", bool, False),
            # As ipykernel: only a missing flag defaults to stopping; an explicit null does not stop.
            stop_on_error=stop if stop is not None else "stop_on_error" not in content,
        )


@attrs.frozen
class CompleteRequest:
    code: str
    cursor_pos: int  # clamped into ``code``

    @classmethod
    def parse(cls, content: Mapping[str, Any]) -> CompleteRequest:
        code = field(content, "code", str, "")
        return cls(code, _cursor(content, code))


@attrs.frozen
class InspectRequest:
    code: str
    cursor_pos: int  # clamped into ``code``
    detail_level: int = 0

    @classmethod
    def parse(cls, content: Mapping[str, Any]) -> InspectRequest:
        code = field(content, "code", str, "")
        return cls(code, _cursor(content, code), field(content, "detail_level", int, 0) or 0)


@attrs.frozen
class IsCompleteRequest:
    code: str

    @classmethod
    def parse(cls, content: Mapping[str, Any]) -> IsCompleteRequest:
        return cls(field(content, "code", str, ""))


@attrs.frozen
class HistoryRequest:
    """``n``/``stop`` stay None when not given: what that means depends on ``hist_access_type``."""

    hist_access_type: str = "tail"
    output: bool = False
    raw: bool = True
    session: int = 0
    start: int = 1
    stop: int | None = None
    n: int | None = None
    pattern: str = "*"
    unique: bool = False

    @classmethod
    def parse(cls, content: Mapping[str, Any]) -> HistoryRequest:
        return cls(
            hist_access_type=field(content, "hist_access_type", str, "tail"),
            output=field(content, "output", bool, False),
            raw=field(content, "raw", bool, True),
            session=field(content, "session", int, 0),
            start=field(content, "start", int, 1),
            stop=field(content, "stop", int, None),
            n=field(content, "n", int, None),
            pattern=field(content, "pattern", str, "*"),
            unique=field(content, "unique", bool, False),
        )


@attrs.frozen
class CommInfoRequest:
    target_name: str | None = None

    @classmethod
    def parse(cls, content: Mapping[str, Any]) -> CommInfoRequest:
        return cls(field(content, "target_name", str, None))


@attrs.frozen
class ShutdownRequest:
    restart: bool = False

    @classmethod
    def parse(cls, content: Mapping[str, Any]) -> ShutdownRequest:
        # Lenient on purpose: a shutdown is obeyed even when its flag is of the wrong type.
        return cls(bool(content.get("restart", False)))


@attrs.frozen
class InterruptRequest(_NoFields):
    pass


@attrs.frozen
class RawRequest:
    """Requests whose content is the handler's business (``debug_request``, ``usage_request``)."""

    content: Mapping[str, Any] = attrs.field(factory=dict)

    @classmethod
    def parse(cls, content: Mapping[str, Any]) -> RawRequest:
        return cls(dict(content))


@attrs.frozen
class CommMessage:
    """``comm_open`` / ``comm_msg`` / ``comm_close`` from the client (notifications: no reply)."""

    comm_id: str | None = None
    target_name: str | None = None
    data: Mapping[str, Any] = attrs.field(factory=dict)

    @classmethod
    def parse(cls, content: Mapping[str, Any]) -> CommMessage:
        return cls(
            field(content, "comm_id", str, None),
            field(content, "target_name", str, None),
            field(content, "data", dict, None) or {},
        )


@attrs.frozen
class InputReply:
    value: str = ""

    @classmethod
    def parse(cls, content: Mapping[str, Any]) -> InputReply:
        # Lenient on purpose: the cell waits for this answer, so a wrong type is taken as its text.
        value = content.get("value", "")
        return cls(value if isinstance(value, str) else str(value))


# Kernel subshells (JEP 91, protocol 5.5): served on control only.
@attrs.frozen
class CreateSubshellRequest(_NoFields):
    pass


@attrs.frozen
class ListSubshellRequest(_NoFields):
    pass


@attrs.frozen
class DeleteSubshellRequest:
    subshell_id: str

    @classmethod
    def parse(cls, content: Mapping[str, Any]) -> DeleteSubshellRequest:
        subshell_id = field(content, "subshell_id", str, None)
        if not subshell_id:
            raise ProtocolError(
                "delete_subshell_request needs the 'subshell_id' of a subshell: the main shell cannot be deleted"
            )
        return cls(subshell_id)
