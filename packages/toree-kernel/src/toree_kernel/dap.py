"""The Debug Adapter Protocol's framing: a JSON body behind a ``Content-Length`` header. Sans-IO.

``encode`` makes the bytes of one message; a ``FrameReader`` is fed what a socket received, in chunks of
any size, and hands back every complete message in order.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

_END_OF_HEADERS = b"\r\n\r\n"
MAX_HEADERS = 4096  # a header block longer than this is not DAP


class DapError(ValueError):
    """The peer sent bytes that are not DAP messages."""


def encode(message: Mapping[str, Any]) -> bytes:
    body = json.dumps(message, ensure_ascii=False, allow_nan=False, default=str).encode("utf-8")
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class FrameReader:
    """Cuts a byte stream into DAP messages (dicts)."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._length: int | None = None  # the body length of the message being read, once its headers are

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        self._buffer += data
        messages: list[dict[str, Any]] = []
        while True:
            if self._length is None:
                end = self._buffer.find(_END_OF_HEADERS)
                if end < 0:
                    if len(self._buffer) > MAX_HEADERS:
                        raise DapError("no end of DAP headers")
                    return messages
                self._length = _content_length(bytes(self._buffer[:end]))
                del self._buffer[: end + len(_END_OF_HEADERS)]
            if len(self._buffer) < self._length:
                return messages
            body = bytes(self._buffer[: self._length])
            del self._buffer[: self._length]
            self._length = None
            try:
                message = json.loads(body)
            except ValueError as exc:
                raise DapError(f"a DAP body that is not JSON: {exc}") from None
            if not isinstance(message, dict):
                raise DapError("a DAP body that is not a JSON object")
            messages.append(message)


def _content_length(headers: bytes) -> int:
    for line in headers.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            try:
                length = int(value.strip())
            except ValueError:
                break
            if length >= 0:
                return length
    raise DapError(f"DAP headers without a valid Content-Length: {headers[:200]!r}")
