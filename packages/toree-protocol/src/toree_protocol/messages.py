"""Jupyter message model (spec 5.4): pure data, no sockets.

A message always carries its parent header explicitly; replies and IOPub
outputs are built from the request they answer, never from global state.
"""

from __future__ import annotations

import getpass
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import attrs

PROTOCOL_VERSION = "5.5"  # 5.5: kernel subshells (JEP 91)


class ProtocolError(ValueError):
    """Input that is not a valid Jupyter message (bad frames, JSON, fields or signature)."""


class InvalidSignature(ProtocolError):
    """The HMAC signature is missing or does not match the message."""


def _default_username() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user database entry (containers): a name is only informative
        return "toree"


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


@attrs.frozen
class Header:
    msg_id: str
    session: str
    username: str
    date: datetime
    msg_type: str
    version: str = PROTOCOL_VERSION
    subshell_id: str | None = None  # a shell request for a subshell (JEP 91); None: the main shell

    def to_dict(self) -> dict[str, Any]:
        extra = {} if self.subshell_id is None else {"subshell_id": self.subshell_id}
        return {
            "msg_id": self.msg_id,
            "session": self.session,
            "username": self.username,
            "date": self.date.isoformat(),
            "msg_type": self.msg_type,
            "version": self.version,
            **extra,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Header:
        """Parse a header; tolerant of extra keys and old clients, strict on what we rely on."""
        if not isinstance(data, Mapping):
            raise ProtocolError(f"header must be an object, got {type(data).__name__}")
        for key in ("msg_id", "msg_type"):
            if not isinstance(data.get(key), str):
                raise ProtocolError(f"header field {key!r} must be a string")
        return cls(
            msg_id=data["msg_id"],
            session=_str_field(data, "session"),
            username=_str_field(data, "username"),
            date=_parse_date(data.get("date")),
            msg_type=data["msg_type"],
            version=_str_field(data, "version") or PROTOCOL_VERSION,
            subshell_id=_str_field(data, "subshell_id", None),
        )


def _str_field(data: Mapping[str, Any], key: str, default: Any = "") -> Any:
    value = data.get(key, default)
    if value is default:
        return value
    if not isinstance(value, str):
        raise ProtocolError(f"header field {key!r} must be a string")
    return value


def _parse_date(value: Any) -> datetime:
    if value is None or value == "":
        return utcnow()
    if not isinstance(value, str):
        raise ProtocolError("header field 'date' must be an ISO 8601 string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ProtocolError(f"header field 'date' is not ISO 8601: {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def new_header(
    msg_type: str, session: str, username: str | None = None, subshell_id: str | None = None
) -> Header:
    return Header(
        msg_id=new_id(),
        session=session,
        username=username if username is not None else _default_username(),
        date=utcnow(),
        msg_type=msg_type,
        subshell_id=subshell_id,
    )


@attrs.frozen
class Message:
    """One Jupyter message. ``identities`` are the ROUTER routing frames (empty on IOPub)."""

    header: Header
    parent_header: Mapping[str, Any] = attrs.field(factory=dict)
    metadata: Mapping[str, Any] = attrs.field(factory=dict)
    content: Mapping[str, Any] = attrs.field(factory=dict)
    buffers: Sequence[bytes] = ()
    identities: Sequence[bytes] = ()

    @property
    def msg_type(self) -> str:
        return self.header.msg_type

    @property
    def msg_id(self) -> str:
        return self.header.msg_id


def new_message(
    msg_type: str,
    content: Mapping[str, Any] | None = None,
    *,
    session: str,
    parent: Message | None = None,
    metadata: Mapping[str, Any] | None = None,
    buffers: Sequence[bytes] = (),
    identities: Sequence[bytes] = (),
    username: str | None = None,
    subshell_id: str | None = None,
) -> Message:
    """Build a message; with ``parent`` it carries the parent's header (and nothing else of it)."""
    return Message(
        header=new_header(msg_type, session, username, subshell_id),
        parent_header=parent.header.to_dict() if parent is not None else {},
        metadata=dict(metadata or {}),
        content=dict(content or {}),
        buffers=tuple(buffers),
        identities=tuple(identities),
    )


def reply_type(request_type: str) -> str:
    """``execute_request`` -> ``execute_reply`` (any ``*_request``)."""
    if not request_type.endswith("_request"):
        raise ProtocolError(f"{request_type!r} is not a request type")
    return request_type[: -len("_request")] + "_reply"


def reply_to(
    request: Message,
    content: Mapping[str, Any],
    *,
    session: str,
    metadata: Mapping[str, Any] | None = None,
) -> Message:
    """The reply to ``request``: routed back to the same identities, parent = the request."""
    return new_message(
        reply_type(request.msg_type),
        content,
        session=session,
        parent=request,
        metadata=metadata,
        identities=request.identities,
    )
