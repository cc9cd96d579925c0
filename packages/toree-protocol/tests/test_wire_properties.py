"""Property tests of the sans-IO codec: round trips, tamper detection, garbage never escapes as anything
but ProtocolError."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from toree_protocol import (
    DELIMITER,
    InvalidSignature,
    ProtocolError,
    Signer,
    deserialize,
    new_message,
    serialize,
)
from toree_protocol.messages import Message

KEY = Signer(b"a-secret-key")
UNSIGNED = Signer(b"")

text = st.text(max_size=20)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=12,
)
json_objects = st.dictionaries(text, json_values, max_size=5)
identities = st.lists(st.binary(max_size=12).filter(lambda b: b != DELIMITER), max_size=3)


def decode_or_none(frames: list[bytes], signer: Signer) -> Message | None:
    """The decoded message, or None for a ProtocolError; any other exception propagates (a bug)."""
    try:
        return deserialize(frames, signer)
    except ProtocolError:
        return None


@st.composite
def messages(draw: st.DrawFn) -> Message:
    parent = None
    if draw(st.booleans()):
        parent = new_message(draw(text), session=draw(text))
    return new_message(
        draw(text.filter(bool)),
        draw(json_objects),
        session=draw(text),
        username=draw(text),
        parent=parent,
        metadata=draw(json_objects),
        buffers=draw(st.lists(st.binary(max_size=64), max_size=3)),
        identities=draw(identities),
    )


@settings(max_examples=300)
@given(messages())
def test_any_message_round_trips(msg: Message) -> None:
    back = deserialize(serialize(msg, KEY), KEY)
    assert back.header == msg.header
    assert back.parent_header == msg.parent_header
    assert back.metadata == msg.metadata
    assert back.content == msg.content
    assert list(back.buffers) == list(msg.buffers)
    assert list(back.identities) == list(msg.identities)


@settings(max_examples=300)
@given(messages(), st.integers(min_value=0, max_value=4), st.data())
def test_any_changed_byte_is_detected(msg: Message, which: int, data: st.DataObject) -> None:
    frames = serialize(msg, KEY)
    start = len(msg.identities) + 1  # the signature frame, then header/parent/metadata/content
    index = start + which
    frame = bytearray(frames[index])
    if not frame:
        frame = bytearray(b"x")  # an empty signature changed into a non-empty one
    else:
        pos = data.draw(st.integers(min_value=0, max_value=len(frame) - 1))
        frame[pos] = data.draw(st.integers(min_value=0, max_value=255).filter(lambda b: b != frame[pos]))
    frames[index] = bytes(frame)
    try:
        deserialize(frames, KEY)
    except ProtocolError:
        return
    raise AssertionError(f"tampered frame {which} was accepted")


@given(messages())
def test_missing_signature_rejected_when_keyed(msg: Message) -> None:
    frames = serialize(msg, KEY)
    frames[len(msg.identities) + 1] = b""
    try:
        deserialize(frames, KEY)
    except InvalidSignature:
        return
    raise AssertionError("unsigned message accepted by a keyed connection")


@settings(max_examples=500)
@given(st.lists(st.binary(max_size=40), max_size=9), st.integers(min_value=0, max_value=9), st.booleans())
def test_garbage_only_raises_protocol_error(frames: list[bytes], at: int, keyed: bool) -> None:
    if at < len(frames):
        frames.insert(at, DELIMITER)  # get past the delimiter check half of the time
    signer = KEY if keyed else UNSIGNED
    result = decode_or_none(frames, signer)  # anything but ProtocolError fails here
    if result is not None:  # accepted garbage must be a whole message whose header a reply can echo
        assert DELIMITER in frames
        assert len(frames) - frames.index(DELIMITER) - 1 >= 5
        assert not keyed, "garbage passed the signature check"
        reply = deserialize(serialize(new_message("r", parent=result, session="k"), signer), signer)
        assert reply.parent_header["msg_id"] == result.msg_id


@settings(max_examples=300)
@given(st.lists(json_values.map(lambda v: json.dumps(v).encode()), min_size=4, max_size=4))
def test_unsigned_valid_json_of_wrong_shape_is_a_protocol_error(bodies: list[bytes]) -> None:
    result = decode_or_none([DELIMITER, b"", *bodies], UNSIGNED)
    header, parent, metadata, content = (json.loads(b) for b in bodies)
    if not all(isinstance(v, dict) for v in (header, parent, metadata, content)):
        assert result is None, "a frame that is not a JSON object was accepted"
    elif not (isinstance(header.get("msg_id"), str) and isinstance(header.get("msg_type"), str)):
        assert result is None, "a header without a string msg_id and msg_type was accepted"
    if result is not None:
        assert (result.msg_id, result.msg_type) == (header["msg_id"], header["msg_type"])
        assert (result.parent_header, result.metadata, result.content) == (parent, metadata, content)


def test_empty_key_means_unsigned() -> None:
    msg = new_message("kernel_info_request", session="s")
    frames = serialize(msg, UNSIGNED)
    assert frames[1] == b""
    assert deserialize(frames, UNSIGNED).msg_type == "kernel_info_request"


def test_keyed_message_is_rejected_with_wrong_key() -> None:
    frames = serialize(new_message("execute_request", {"code": "1"}, session="s"), KEY)
    try:
        deserialize(frames, Signer(b"other"))
    except InvalidSignature:
        return
    raise AssertionError("wrong key accepted")
