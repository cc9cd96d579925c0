"""KernelServer's protocol bookkeeping, with a tiny handler and real sockets (server on a thread)."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator

import pytest
import zmq

from toree_protocol import ConnectionInfo, new_message, read_connection_file, serialize
from toree_protocol.client import KernelClient
from toree_protocol.requests import ExecuteRequest
from toree_protocol.server import HandlerDefaults, KernelServer, StdinNotAllowed

pytestmark = pytest.mark.timeout(60)


class Handler(HandlerDefaults):
    def __init__(self) -> None:
        self.release = threading.Event()

    def execute_request(self, request: ExecuteRequest, ctx):
        code = request.code
        if code == "block":
            self.release.wait(10)
        elif code == "crash":
            raise RuntimeError("handler bug")
        elif code == "ask":
            try:
                ctx.publish("stream", {"name": "stdout", "text": ctx.input("name? ")})
            except StdinNotAllowed as exc:
                ctx.publish("stream", {"name": "stderr", "text": str(exc)})
        elif code == "fail":
            return {"status": "error", "ename": "Fail", "evalue": "x", "traceback": [], "execution_count": 1}
        ctx.publish("stream", {"name": "stdout", "text": f"ran {code}"})
        return {"status": "ok", "execution_count": 1, "user_expressions": {}}


@pytest.fixture
def server(tmp_path) -> Iterator[tuple[KernelServer, Handler, KernelClient]]:
    handler = Handler()
    path = tmp_path / "conn.json"
    srv = KernelServer(ConnectionInfo(), handler, connection_file=path)
    srv.bind()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    client = KernelClient(read_connection_file(path))
    client.wait_for_ready(timeout=10)
    try:
        yield srv, handler, client
    finally:
        handler.release.set()
        client.close()
        srv.stop()
        thread.join(timeout=5)
        srv.close()


def test_port_zero_binding_writes_real_ports_privately(server, tmp_path) -> None:
    srv, _, _ = server
    path = tmp_path / "conn.json"
    info = read_connection_file(path)
    assert info == srv.connection
    assert all(info.port(c) > 0 for c in ("shell", "iopub", "stdin", "control", "hb"))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_busy_reply_idle_with_parents(server, tmp_path) -> None:
    """Checked with jupyter_client, the reference client: busy first, idle last, all with the request as parent."""
    from jupyter_client.blocking import BlockingKernelClient

    jc = BlockingKernelClient(connection_file=str(tmp_path / "conn.json"))
    jc.load_connection_file()
    jc.start_channels()
    try:
        jc.wait_for_ready(timeout=10)
        for send in (lambda: jc.execute("1"), lambda: jc.kernel_info()):
            msg_id = send()
            seen = []
            while not seen or seen[-1] != ("status", "idle"):
                msg = jc.get_iopub_msg(timeout=5)
                if msg["parent_header"].get("msg_id") == msg_id:
                    seen.append((msg["msg_type"], msg["content"].get("execution_state", "")))
            assert seen[0] == ("status", "busy")
            reply = jc.get_shell_msg(timeout=5)
            assert reply["parent_header"]["msg_id"] == msg_id
        assert reply["content"]["protocol_version"] == "5.5"  # the server's default kernel_info
    finally:
        jc.stop_channels()


def test_control_answers_while_shell_is_busy(server) -> None:
    _, handler, kc = server
    other = KernelClient(kc.connection)
    try:
        worker = threading.Thread(target=kc.execute, args=("block",))
        worker.start()
        reply = other._request("control", "kernel_info_request", {}, 5)
        assert reply.content["status"] == "ok"
        assert worker.is_alive()  # shell still blocked: control was served on its own thread
        handler.release.set()
        worker.join(timeout=10)
    finally:
        other.close()


def test_bad_signature_and_garbage_are_dropped(server) -> None:
    _, _, kc = server
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(kc.connection.url("shell"))
    forged = serialize(new_message("execute_request", {"code": "evil"}, session="x"), kc.connection.signer())
    forged[1] = b"0" * 64  # wrong signature
    sock.send_multipart(forged)
    sock.send_multipart([b"garbage", b"\xff\xfe"])
    sock.send_multipart([b"<IDS|MSG>", b"", b"{", b"{}", b"{}", b"{}"])
    assert not sock.poll(300)  # nothing answered
    sock.close()
    assert kc.execute("2").stdout == "ran 2"  # and the server is alive


def test_heartbeat_and_welcome(server) -> None:
    _, _, kc = server
    assert kc.is_alive()
    assert kc.iopub_seen  # iopub_welcome (or status) arrived on subscription


def test_unknown_request_and_handler_crash_get_error_replies(server) -> None:
    _, _, kc = server
    unknown = kc._request("shell", "frobnicate_request", {}, 5)
    assert unknown.content["ename"] == "UnknownMessageType"
    crash = kc.execute("crash")
    assert crash.status == "error" and crash.error["ename"] == "RuntimeError"
    assert kc.execute("3").stdout == "ran 3"


def test_stdin_round_trip_and_not_allowed(server) -> None:
    _, _, kc = server
    assert kc.execute("ask", on_input=lambda prompt, pw: f"<{prompt}>").stdout == "<name? >ran ask"
    assert "allow_stdin is false" in kc.execute("ask").stderr


def test_stop_on_error_aborts_queued_requests(server) -> None:
    _, handler, kc = server
    other = KernelClient(kc.connection)
    try:
        worker = threading.Thread(target=kc.execute, args=("block",))
        worker.start()
        first = other._send(
            "shell", other._message("execute_request", {"code": "fail", "stop_on_error": True})
        )
        second = other._send("shell", other._message("execute_request", {"code": "4"}))
        handler.release.set()
        replies = {}
        while len(replies) < 2:
            _, msg = other._next(("shell",), None, "replies")
            replies[msg.parent_header["msg_id"]] = msg.content["status"]
        assert replies == {first.msg_id: "error", second.msg_id: "aborted"}
        worker.join(timeout=10)
    finally:
        other.close()


def test_shutdown_replies_and_stops(server) -> None:
    srv, _, kc = server
    reply = kc.shutdown()
    assert reply.content == {"status": "ok", "restart": False}
    assert srv._stop.wait(5)


@pytest.mark.parametrize("welcome", [True, False])
def test_iopub_welcome_can_be_turned_off(welcome: bool) -> None:
    """A subscriber's first message is its ``iopub_welcome``, or with ``welcome=None`` the first published one."""
    from toree_protocol.sockets import IOPubThread

    context = zmq.Context()
    pub, sub = context.socket(zmq.XPUB), context.socket(zmq.SUB)
    pub.setsockopt(zmq.XPUB_VERBOSE, 1)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    thread = IOPubThread(pub, (lambda topic: [b"welcome", topic]) if welcome else None)
    thread.start()
    try:
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(f"tcp://127.0.0.1:{port}")
        sub.setsockopt(zmq.RCVTIMEO, 5000)
        if welcome:
            assert sub.recv_multipart() == [b"welcome", b""]
        else:  # no welcome to wait for: publish until the subscription is live
            while not sub.poll(50):
                thread.send([b"status"])
        thread.send([b"last"])
        frames = [sub.recv_multipart()]
        while frames[-1] != [b"last"]:
            frames.append(sub.recv_multipart())
        assert all(f in ([b"status"], [b"last"]) for f in frames), frames
    finally:
        thread.stop()
        thread.join(timeout=5)
        thread.close()
        sub.close(linger=0)
        pub.close(linger=0)
        context.term()
