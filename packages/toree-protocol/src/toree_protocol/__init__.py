"""toree_protocol: the Jupyter kernel wire protocol, reusable by any kernel or client.

The pure layer (messages, codec, connection, requests, handler, core, client_core) has no
sockets; ``sockets``, ``server`` and ``client`` are the only modules that import zmq.
"""

__version__ = "0.1.0"

from .codec import DELIMITER, Signer, deserialize, serialize
from .connection import ConnectionInfo, read_connection_file, write_connection_file
from .messages import (
    PROTOCOL_VERSION,
    Header,
    InvalidSignature,
    Message,
    ProtocolError,
    new_header,
    new_message,
    reply_to,
    reply_type,
)

__all__ = [
    "DELIMITER",
    "PROTOCOL_VERSION",
    "ConnectionInfo",
    "Header",
    "InvalidSignature",
    "Message",
    "ProtocolError",
    "Signer",
    "deserialize",
    "new_header",
    "new_message",
    "read_connection_file",
    "reply_to",
    "reply_type",
    "serialize",
    "write_connection_file",
]
