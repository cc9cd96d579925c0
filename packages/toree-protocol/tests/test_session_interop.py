"""Interop with jupyter_client's Session, what Jupyter itself uses: signed messages decode both ways."""

from __future__ import annotations

import pytest
from jupyter_client.session import Session

from toree_protocol import InvalidSignature, Signer, deserialize, new_message, serialize

KEY = b"5ecret-shared-key"


def test_jupyter_client_message_decodes_with_our_codec() -> None:
    session = Session(key=KEY, signature_scheme="hmac-sha256", username="jc")
    parent = session.msg("execute_request", content={"code": "1"})
    msg = session.msg(
        "execute_reply", content={"status": "ok", "n": [1, 2]}, parent=parent, metadata={"m": 1}
    )
    frames = session.serialize(msg, ident=[b"client-id"])
    frames += [b"buf0", b"\x00\x01"]  # binary buffers travel after the four JSON frames
    ours = deserialize(frames, Signer(KEY))
    assert ours.msg_type == "execute_reply"
    assert ours.header.msg_id == msg["header"]["msg_id"]
    assert ours.header.username == "jc"
    assert ours.parent_header["msg_id"] == parent["header"]["msg_id"]
    assert dict(ours.content) == {"status": "ok", "n": [1, 2]}
    assert dict(ours.metadata) == {"m": 1}
    assert list(ours.identities) == [b"client-id"]
    assert list(ours.buffers) == [b"buf0", b"\x00\x01"]
    assert ours.header.date.tzinfo is not None


def test_our_message_decodes_with_jupyter_client() -> None:
    parent = new_message("execute_request", {"code": "x"}, session="s1")
    msg = new_message(
        "display_data",
        {"data": {"text/plain": "ü"}, "metadata": {}},
        session="s1",
        parent=parent,
        buffers=[b"raw-bytes"],
        identities=[b"route"],
    )
    frames = serialize(msg, Signer(KEY))
    session = Session(key=KEY, signature_scheme="hmac-sha256")
    idents, rest = session.feed_identities(frames, copy=True)
    decoded = session.deserialize(rest, content=True, copy=True)
    assert idents == [b"route"]
    assert decoded["msg_type"] == "display_data"
    assert decoded["content"]["data"]["text/plain"] == "ü"
    assert decoded["parent_header"]["msg_id"] == parent.msg_id
    assert decoded["header"]["version"] == "5.5"
    assert [bytes(b) for b in decoded["buffers"]] == [b"raw-bytes"]


def test_wrong_key_rejected_both_ways() -> None:
    theirs = Session(key=b"their-key", signature_scheme="hmac-sha256")
    frames = theirs.serialize(theirs.msg("status", content={"execution_state": "idle"}))
    with pytest.raises(InvalidSignature):
        deserialize(frames, Signer(KEY))
    ours = serialize(new_message("status", {"execution_state": "idle"}, session="s"), Signer(KEY))
    _, rest = theirs.feed_identities(ours, copy=True)
    with pytest.raises(ValueError, match="Invalid Signature"):
        theirs.deserialize(rest, content=True, copy=True)
