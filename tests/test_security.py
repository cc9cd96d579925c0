"""Security of the live kernel process (issue #9): connection files, binding, signatures, no evaluation
outside execute requests, hostile magic arguments.

Library-level checks exist already and are not repeated: 0600/loopback/256-bit key of the files we write
(``packages/toree-protocol/tests/test_connection_files.py``), codec signature properties
(``test_wire_properties.py``), an in-process server dropping forged frames (``test_kernel_server.py``),
``%AddJar``/``%AddDeps`` usage errors for the ordinary mistakes (``packages/toree-kernel/tests/test_magics.py``).
Here the real ``python -m toree_kernel`` process is attacked from outside and side effects are checked.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import zmq
from jupyter_client.session import Session
from kernel_support import Kernel

from toree_protocol.connection import CHANNELS, read_connection_file

TIMEOUT = 120


def wait_for_ports(path: Path, proc: Any, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"kernel exited with {proc.returncode}"
        try:
            info = read_connection_file(path)
        except (ValueError, OSError):
            info = None
        if info is not None and all(info.port(c) for c in CHANNELS):
            return json.loads(path.read_text())
        time.sleep(0.05)
    pytest.fail(f"the kernel did not write its ports to {path}")


def listening(pid: int) -> list[tuple[str, int]]:
    return [
        (c.laddr.ip, c.laddr.port)
        for c in psutil.Process(pid).net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    ]


def test_kernel_writing_its_own_ports_binds_loopback_and_writes_0600(processes: Any, tmp_path: Path) -> None:
    """A launcher's file with ports 0 and no ip (world-readable, as a careless launcher writes it): the kernel
    binds loopback only and rewrites the file 0600."""
    path = tmp_path / "kernel.json"
    ports = {f"{c}_port": 0 for c in CHANNELS}
    path.write_text(
        json.dumps({**ports, "key": "k" * 64, "transport": "tcp", "signature_scheme": "hmac-sha256"})
    )
    path.chmod(0o644)
    proc = processes.spawn(
        [sys.executable, "-m", "toree_kernel", "-f", str(path), "--nosparkcontext"],
        env={**os.environ, "TOREE_HISTORY_FILE": str(tmp_path / "h.sqlite")},
        stderr=(tmp_path / "kernel.log").open("wb"),
    )
    try:
        data = wait_for_ports(path, proc)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert data["ip"] == "127.0.0.1"
        bound = listening(proc.pid)
        assert {port for _, port in bound} >= {data[f"{c}_port"] for c in CHANNELS}, bound
        assert {ip for ip, _ in bound} == {"127.0.0.1"}, f"listening beyond loopback: {bound}"
    finally:
        processes.kill_all([proc])


@pytest.fixture
def nospark_kernelspec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernelspec running our kernel without Spark (the PySpark interpreter runs plain Python)."""
    spec = tmp_path / "jupyter" / "kernels" / "toree_nospark"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "toree_kernel", "-f", "{connection_file}", "--nosparkcontext"]
    spec.joinpath("kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "t", "language": "python"})
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("TOREE_HISTORY_FILE", str(tmp_path / "history.sqlite"))
    monkeypatch.setenv("TOREE_PROGRESS", "off")
    return "toree_nospark"


class Client(Kernel):
    """The kernel driver plus requests of any type and raw sockets for forged messages."""

    def __init__(self, kernel_name: str, tmp_path: Path) -> None:
        super().__init__(kernel_name, cwd=tmp_path, timeout=TIMEOUT, ready_timeout=TIMEOUT)
        self.ctx = zmq.Context()

    def request(self, channel: str, msg_type: str, content: dict[str, Any]) -> dict[str, Any]:
        chan = getattr(self.kc, f"{channel}_channel")
        msg = self.kc.session.msg(msg_type, content)
        chan.send(msg)
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            reply = chan.get_msg(timeout=deadline - time.monotonic())
            if reply["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
                return reply
        pytest.fail(f"no reply to {msg_type}")

    def raw(self, channel: str) -> zmq.Socket:
        sock = self.ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(
            self.kc.get_connection_info()["transport"]
            + f"://{self.kc.ip}:{getattr(self.kc, f'{channel}_port')}"
        )
        return sock

    def close(self) -> None:
        self.ctx.term()
        super().close()


@pytest.fixture
def client(nospark_kernelspec: str, tmp_path: Path) -> Iterator[Client]:
    c = Client(nospark_kernelspec, tmp_path)
    yield c
    c.close()


def test_jupyter_client_launch_leaves_a_0600_connection_file(client: Client) -> None:
    """The file jupyter_client writes and our kernel rewrites with its ports stays private."""
    assert stat.S_IMODE(os.stat(client.km.connection_file).st_mode) == 0o600
    assert read_connection_file(client.km.connection_file).key  # a key is set: signatures are checked
    assert {ip for ip, _ in listening(client.pid)} == {"127.0.0.1"}


def touch(marker: Path) -> str:
    return f"__import__('pathlib').Path({str(marker)!r}).touch()"


def test_bad_or_missing_signature_is_neither_answered_nor_run(client: Client, tmp_path: Path) -> None:
    key = client.kc.session.key
    good = Session(key=key, signature_scheme="hmac-sha256", username="attacker")
    other = Session(key=b"guessed-key", signature_scheme="hmac-sha256", username="attacker")
    forged_ids = []
    for channel in ("shell", "control"):
        sock = client.raw(channel)
        try:
            for how in ("wrong_key", "unsigned", "garbage", "tampered", "sha512_scheme"):
                marker = tmp_path / f"pwned-{channel}-{how}"
                msg = good.msg("execute_request", {"code": touch(marker), "silent": False})
                if how == "wrong_key":
                    frames = other.serialize(msg)
                elif how == "unsigned":
                    frames = Session(key=b"", username="attacker").serialize(msg)
                elif how == "garbage":
                    frames = good.serialize(msg)
                    frames[1] = b"f" * 64
                elif how == "tampered":  # signed, then the code changed
                    harmless = good.msg("execute_request", {"code": "1"})
                    harmless["header"] = msg["header"]
                    frames = good.serialize(harmless)
                    frames[5] = json.dumps({"code": touch(marker)}).encode()
                else:
                    frames = Session(key=key, signature_scheme="hmac-sha512").serialize(msg)
                sock.send_multipart(frames)
                forged_ids.append(msg["header"]["msg_id"])
            # A barrier: a signed request sent after them is answered, so they have all been handled.
            barrier = good.msg("kernel_info_request", {})
            sock.send_multipart(good.serialize(barrier))
            deadline = time.monotonic() + TIMEOUT
            answered = []
            while time.monotonic() < deadline and sock.poll(int((deadline - time.monotonic()) * 1000)):
                _, rest = good.feed_identities(sock.recv_multipart())
                parent = good.deserialize(rest)["parent_header"].get("msg_id")
                answered.append(parent)
                if parent == barrier["header"]["msg_id"]:
                    break
            assert answered and answered[-1] == barrier["header"]["msg_id"], "the barrier was not answered"
            assert not set(answered) & set(forged_ids), "a forged request got a reply"
        finally:
            sock.close(linger=0)
    content, _ = client.run("1 + 1")  # all shell input before this one is done
    assert content["status"] == "ok"
    assert not list(tmp_path.glob("pwned-*")), "a forged request was executed"
    # the positive control: the same code, correctly signed, does run
    content, _ = client.run(touch(tmp_path / "signed"))
    assert content["status"] == "ok" and (tmp_path / "signed").exists()


def test_a_captured_signed_request_sent_again_is_neither_answered_nor_run(client: Client, tmp_path: Path) -> None:
    """Replay protection, as jupyter_client's Session has it: the kernel remembers the signatures it saw."""
    session = Session(key=client.kc.session.key, signature_scheme="hmac-sha256", username="attacker")
    log = tmp_path / "runs.log"
    append = f"open({str(log)!r}, 'a').write('ran\\n')"
    captured = session.serialize(session.msg("execute_request", {"code": append, "silent": False}))
    sock = client.raw("shell")
    try:
        replies = []
        for frames in (captured, captured):  # the original, then the replay
            sock.send_multipart(frames)
        barrier = session.msg("kernel_info_request", {})
        sock.send_multipart(session.serialize(barrier))
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline and sock.poll(int((deadline - time.monotonic()) * 1000)):
            _, rest = session.feed_identities(sock.recv_multipart())
            replies.append(session.deserialize(rest)["msg_type"])
            if replies[-1] == "kernel_info_reply":
                break
    finally:
        sock.close(linger=0)
    assert replies == ["execute_reply", "kernel_info_reply"], replies
    assert log.read_text() == "ran\n"
    content, _ = client.run("1 + 1")  # the kernel carries on
    assert content["status"] == "ok"


def no_eval_requests(payload: str, marker_name: str) -> list[tuple[str, str, dict[str, Any]]]:
    codes = [
        payload,
        payload + ".",
        f"x = {payload}.real",
        f"{payload}(",
        f"%%PySpark\n{payload}.",
        f"%AddJar {payload}",
    ]
    requests: list[tuple[str, str, dict[str, Any]]] = []
    for code in codes:
        requests += [
            ("shell", "complete_request", {"code": code, "cursor_pos": len(code)}),
            ("shell", "complete_request", {"code": code, "cursor_pos": max(0, len(code) - 3)}),
            ("shell", "inspect_request", {"code": code, "cursor_pos": len(code), "detail_level": 0}),
            ("shell", "inspect_request", {"code": code, "cursor_pos": len(code) // 2, "detail_level": 1}),
            ("shell", "is_complete_request", {"code": code}),
        ]
    requests += [
        (
            "shell",
            "history_request",
            {"hist_access_type": "search", "pattern": payload, "output": False, "raw": True},
        ),
        ("shell", "history_request", {"hist_access_type": "tail", "n": 5, "output": True, "raw": False}),
        ("shell", "comm_info_request", {"target_name": payload}),
        ("shell", "kernel_info_request", {"code": payload}),
        ("control", "kernel_info_request", {"code": payload}),
        ("control", "comm_info_request", {"target_name": payload}),
    ]
    return requests


def no_eval_notifications(payload: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("comm_open", {"comm_id": "c1", "target_name": payload, "data": {"code": payload}}),
        (
            "comm_open",
            {"comm_id": "jupyter.widget", "target_name": "jupyter.widget", "data": {"code": payload}},
        ),
        ("comm_msg", {"comm_id": "c1", "data": {"code": payload, "method": payload}}),
        ("comm_close", {"comm_id": "c1", "data": {"code": payload}}),
    ]


def check_nothing_evaluated(client: Client, payload: str, marker: Path) -> None:
    for channel, msg_type, content in no_eval_requests(payload, marker.name):
        reply = client.request(channel, msg_type, content)
        assert reply["msg_type"] == msg_type.replace("_request", "_reply"), reply
        assert "Traceback" not in json.dumps(reply["content"]), reply["content"]
    for msg_type, content in no_eval_notifications(payload):
        client.kc.shell_channel.send(client.kc.session.msg(msg_type, content))
    reply = client.request("shell", "kernel_info_request", {})  # after every notification was handled
    assert reply["content"]["status"] == "ok"
    assert not marker.exists(), "a request other than execute_request evaluated its content"


def test_only_execute_requests_evaluate_code_pyspark(client: Client, tmp_path: Path) -> None:
    marker = tmp_path / "evaluated"
    content, _ = client.run("x = 1")  # a namespace with something in it for the completer
    assert content["status"] == "ok"
    check_nothing_evaluated(client, touch(marker), marker)
    content, _ = client.run(touch(marker))  # and the payload is live code: executed, it does run
    assert content["status"] == "ok" and marker.exists()


@pytest.mark.spark
def test_only_execute_requests_evaluate_code_scala(client_env: dict[str, str], tmp_path: Path) -> None:
    c = Client("apache_toree_scala", tmp_path)
    try:
        marker = tmp_path / "evaluated-scala"
        payload = f'new java.io.File("{marker}").createNewFile()'
        check_nothing_evaluated(c, payload, marker)
        content, _ = c.run(payload)
        assert content["status"] == "ok", content
        assert marker.exists()
    finally:
        c.close()


def hostile_magics(marker: Path) -> list[str]:
    return [
        "%AddJar not a url",
        "%AddJar ;rm -rf /",
        f"%AddJar $(touch {marker})",
        f"%AddJar `touch {marker}`",
        "%AddJar ../../etc/passwd",
        "%AddJar javascript:alert(1)",
        "%AddJar file://",
        "%AddJar http://",
        "%AddJar \x00",
        "%AddJar 'unterminated",
        "%AddDeps ../../etc/passwd",
        "%AddDeps ;rm -rf /",
        "%AddDeps a:b:c",
        "%AddDeps ../.. etc passwd",
        "%AddDeps a b c --repository ;rm",
        "%AddDeps a b c --credential /etc/shadow-nope",
        "%AddDeps 'unterminated",
    ]


def test_hostile_magic_arguments_give_clear_errors(client: Client, tmp_path: Path) -> None:
    marker = tmp_path / "shell-ran"
    problems: list[tuple[Any, ...]] = []
    for code in hostile_magics(marker):
        content, outputs = client.run(code)
        text = content.get("evalue", "") + "\n".join(content.get("traceback", []))
        ours = [
            line
            for line in content.get("traceback", [])
            if "toree_" in line or "Traceback (most recent" in line
        ]
        if content["status"] != "error" or ours or content["ename"] not in ("UsageError", "MagicError"):
            problems.append((code, content, outputs))
        elif not (
            "usage:" in text or "needs a URL" in text or "invalid Maven" in text or "no such file" in text
        ):
            problems.append((code, "unclear message", text))
        alive, _ = client.run("1 + 1")
        assert alive["status"] == "ok", (code, alive)
    assert not problems, "\n".join(map(repr, problems))
    assert not marker.exists()
