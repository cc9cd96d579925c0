"""The R room's socket protocol, sans-IO: frames to R, and R's stream split into text and frames.

A frame is ``uint32 header length, header JSON, uint32 payload length, payload`` (little-endian).
R's stdout is sunk into the same socket unframed, so printed text and displays keep R's order; R
marks each of its frames with a leading NUL byte, which R's character strings can never hold.
"""

from __future__ import annotations

import codecs
import json
import struct
from typing import Any

import attrs

_LENGTH = struct.Struct("<I")


@attrs.frozen
class Text:
    """Text R wrote to its stdout."""

    text: str


@attrs.frozen
class Frame:
    header: dict[str, Any]
    payload: bytes = b""


def encode(header: dict[str, Any], payload: bytes = b"") -> bytes:
    """A frame for R."""
    body = json.dumps(header, ensure_ascii=False, allow_nan=False).encode()
    return b"".join((_LENGTH.pack(len(body)), body, _LENGTH.pack(len(payload)), payload))


class StreamParser:
    """Feed it R's bytes as they come; it returns the text and frames complete so far, in order."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._text = codecs.getincrementaldecoder("utf-8")("replace")

    def feed(self, data: bytes) -> list[Text | Frame]:
        self._buffer += data
        out: list[Text | Frame] = []
        while self._buffer:
            marker = self._buffer.find(0)
            if marker != 0:  # text up to the next frame (or all of it)
                end = len(self._buffer) if marker < 0 else marker
                text = self._text.decode(bytes(self._buffer[:end]))
                del self._buffer[:end]
                if text and out and isinstance(out[-1], Text):
                    out[-1] = Text(out[-1].text + text)  # one piece of text per read, not per R write
                elif text:
                    out.append(Text(text))
                continue
            frame = self._frame()
            if frame is None:
                break
            out.append(frame)
        return out

    def _frame(self) -> Frame | None:
        buffer = self._buffer
        if len(buffer) < 5:
            return None
        (header_length,) = _LENGTH.unpack_from(buffer, 1)
        payload_at = 5 + header_length
        if len(buffer) < payload_at + 4:
            return None
        (payload_length,) = _LENGTH.unpack_from(buffer, payload_at)
        end = payload_at + 4 + payload_length
        if len(buffer) < end:
            return None
        header = json.loads(bytes(buffer[5:payload_at]))
        payload = bytes(buffer[payload_at + 4 : end])
        del buffer[:end]
        return Frame(header, payload)
