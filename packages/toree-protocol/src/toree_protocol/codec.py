"""Sans-IO wire codec: Message <-> multipart frames, with HMAC signing.

Wire layout (message spec 5.x)::

    identities..., b"<IDS|MSG>", signature, header, parent_header, metadata, content, buffers...

The signature is the hex HMAC of the four JSON frames. Everything here is a pure
function of its inputs, so it is tested without sockets and reused by any transport.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import attrs

from .messages import Header, InvalidSignature, Message, ProtocolError

DELIMITER = b"<IDS|MSG>"
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")  # \ud800 ... \udfff, halves of pairs included
_DIGESTS = {"hmac-sha256": hashlib.sha256, "hmac-sha512": hashlib.sha512, "hmac-sha1": hashlib.sha1}


@attrs.frozen
class Signer:
    """HMAC signer for one connection. An empty key means messages are neither signed nor checked."""

    key: bytes = attrs.field(converter=lambda k: k.encode() if isinstance(k, str) else bytes(k))
    scheme: str = "hmac-sha256"

    def __attrs_post_init__(self) -> None:
        if self.scheme not in _DIGESTS:
            raise ValueError(f"unsupported signature scheme {self.scheme!r}; use one of {sorted(_DIGESTS)}")

    def sign(self, frames: Sequence[bytes]) -> bytes:
        if not self.key:
            return b""
        mac = hmac.new(self.key, digestmod=_DIGESTS[self.scheme])
        for frame in frames:
            mac.update(frame)
        return mac.hexdigest().encode("ascii")

    def verify(self, signature: bytes, frames: Sequence[bytes]) -> None:
        if not self.key:
            return
        if not signature:
            raise InvalidSignature("message is unsigned but the connection has a key")
        if not hmac.compare_digest(signature, self.sign(frames)):
            raise InvalidSignature("message signature does not match")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (datetime, date)):
        return obj.isoformat()
    if isinstance(obj, (bytes, bytearray, memoryview)):
        raise TypeError("bytes belong in buffers, not in JSON content")
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def dumps(obj: Any) -> bytes:
    # allow_nan=False: NaN is not JSON and browsers reject it; ensure_ascii=False keeps payloads small.
    return json.dumps(obj, default=_json_default, ensure_ascii=False, allow_nan=False).encode("utf-8")


def _loads(frame: bytes, what: str) -> Any:
    try:
        value = json.loads(frame.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ProtocolError(f"{what} frame is not valid UTF-8 JSON: {exc}") from None
    if _SURROGATE_ESCAPE.search(frame) and _has_lone_surrogate(value):
        # "\ud800" is valid JSON but no UTF-8 text: echoed in a reply (the parent header) it would
        # make that reply unsendable.
        raise ProtocolError(f"{what} frame holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is not text")
    return value


def _has_lone_surrogate(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def serialize(msg: Message, signer: Signer) -> list[bytes]:
    """Frames ready for ``socket.send_multipart`` (identities first)."""
    body = [
        dumps(msg.header.to_dict()),
        dumps(dict(msg.parent_header)),
        dumps(dict(msg.metadata)),
        dumps(dict(msg.content)),
    ]
    return [*msg.identities, DELIMITER, signer.sign(body), *body, *(bytes(b) for b in msg.buffers)]


def split_identities(frames: Sequence[bytes]) -> tuple[list[bytes], list[bytes]]:
    """Split routing identities from the message proper, at the delimiter."""
    for index, frame in enumerate(frames):
        if frame == DELIMITER:
            return list(frames[:index]), list(frames[index + 1 :])
    raise ProtocolError("no <IDS|MSG> delimiter in message frames")


def deserialize(frames: Sequence[bytes], signer: Signer) -> Message:
    """Parse and verify frames. Raises ProtocolError (or InvalidSignature) and nothing else."""
    try:
        frames = [bytes(f) for f in frames]
    except TypeError as exc:
        raise ProtocolError(f"frames must be bytes: {exc}") from None
    identities, rest = split_identities(frames)
    if len(rest) < 5:
        raise ProtocolError(f"message has {len(rest)} frames after the delimiter, at least 5 are needed")
    signature, body, buffers = rest[0], rest[1:5], rest[5:]
    signer.verify(signature, body)
    header_d, parent_d, metadata, content = (
        _loads(frame, name)
        for frame, name in zip(body, ("header", "parent_header", "metadata", "content"), strict=False)
    )
    for value, name in ((parent_d, "parent_header"), (metadata, "metadata"), (content, "content")):
        if not isinstance(value, dict):
            raise ProtocolError(f"{name} must be a JSON object, got {type(value).__name__}")
    return Message(
        header=Header.from_dict(header_d),
        parent_header=parent_d,
        metadata=metadata,
        content=content,
        buffers=tuple(buffers),
        identities=tuple(identities),
    )
