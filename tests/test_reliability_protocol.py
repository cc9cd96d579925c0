"""Reliability of the live kernel process at the wire: fuzzing, load, liveness (issue #9).

One kernel process (``python -m toree_kernel --nosparkcontext``: plain Python cells, no JVM) is started by
``toree_protocol.launcher`` and driven with raw zmq DEALER/SUB/REQ sockets; well-formed requests are
built and signed by jupyter_client's ``Session`` (an implementation independent of ours), the hostile
ones by hand. Codec-level properties of the same input live in
``packages/toree-protocol/tests/test_wire_properties.py``; this checks what the process does with it.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jupyter_client.session import Session

from toree_protocol.connection import ConnectionInfo
from toree_protocol.launcher import start_kernel

DELIM = b"<IDS|MSG>"
FUZZ_PER_CHANNEL = int(
    os.environ.get("TOREE_FUZZ_PER_CHANNEL", "5000")
)  # shell + control: 10,000 hostile or mutated messages in the default run
CHECK_EVERY = 250  # a well-formed request (and its correct reply) every this many fuzz messages
COUNTER = "_reliability_counter_"  # a name no fuzz message uses: the kernel's state must stay intact


class RawKernel:
    """A kernel process plus raw sockets to it; everything is closed and killed by ``close``."""

    def __init__(self, proc: Any, info: ConnectionInfo, path: Path) -> None:
        self.proc, self.info, self.connection_file = proc, info, path
        self.log_path = path.with_suffix(".log")
        self.session = Session(key=info.key.encode(), signature_scheme=info.signature_scheme, username="fuzz")
        self.ctx = zmq.Context()
        self.sockets: dict[str, zmq.Socket] = {}
        for channel in ("shell", "control"):
            sock = self.ctx.socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.RCVHWM, 0)
            sock.setsockopt(zmq.SNDHWM, 0)
            sock.connect(info.url(channel))
            self.sockets[channel] = sock
        self.hb = self._hb_socket()
        self.sent = {"fuzz": 0, "checks": 0}

    def _hb_socket(self) -> zmq.Socket:
        sock = self.ctx.socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(self.info.url("hb"))
        return sock

    # Well-formed traffic ---------------------------------------------------------------------------
    def send(
        self, channel: str, msg_type: str, content: dict[str, Any], buffers: list[bytes] | None = None
    ) -> str:
        msg = self.session.msg(msg_type, content)
        frames = self.session.serialize(msg)
        self.sockets[channel].send_multipart(frames + list(buffers or []))
        return msg["header"]["msg_id"]

    def reply(self, channel: str, msg_id: str, timeout: float = 60) -> dict[str, Any]:
        """The reply to ``msg_id``; replies to other (fuzz) requests that come first are skipped."""
        sock, deadline = self.sockets[channel], time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if not sock.poll(int(min(left, 1) * 1000)):
                if not self.alive():
                    pytest.fail(f"the kernel died (exit code {self.proc.returncode}):\n{self.log()[-3000:]}")
                continue
            msg = self.parse(sock.recv_multipart())
            if msg["parent_header"].get("msg_id") == msg_id:
                return msg
        pytest.fail(f"no reply to {msg_id} on {channel} within {timeout} s (kernel alive: {self.alive()})")

    def request(
        self, channel: str, msg_type: str, content: dict[str, Any], timeout: float = 60
    ) -> dict[str, Any]:
        return self.reply(channel, self.send(channel, msg_type, content), timeout)

    def parse(self, frames: list[bytes]) -> dict[str, Any]:
        _, rest = self.session.feed_identities(frames)
        return self.session.deserialize(rest)  # checks the kernel's signature too

    def ping(self, timeout: float = 5) -> bool:
        self.hb.send(b"ping")
        if self.hb.poll(int(timeout * 1000)):
            return self.hb.recv() == b"ping"
        self.hb.close()  # a REQ socket without its answer cannot send again
        self.hb = self._hb_socket()
        return False

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def check_state(self, channel: str) -> None:
        """Well-formed requests still get correct replies, and the cell namespace is intact."""
        # A barrier on the fuzzed channel first: everything sent before it has been handled, so
        # the execute below is not aborted by an erroring fuzz cell (stop_on_error) still queued.
        info = self.request(channel, "kernel_info_request", {})
        assert info["msg_type"] == "kernel_info_reply"
        assert info["content"]["status"] == "ok" and info["content"]["implementation"] == "toree"
        self.sent["checks"] += 1
        if channel == "shell":
            reply = self.request("shell", "execute_request", {"code": f"{COUNTER} = {COUNTER} + 1"})
            assert reply["content"]["status"] == "ok", reply["content"]
            self.expected_counter += 1
            self.sent["checks"] += 1

    def counter(self) -> int:
        msg_id = self.send(
            "shell", "execute_request", {"code": "", "silent": True, "user_expressions": {"n": COUNTER}}
        )
        reply = self.reply("shell", msg_id)["content"]
        assert reply["status"] == "ok", reply
        return int(reply["user_expressions"]["n"]["data"]["text/plain"])

    def close(self) -> None:
        for sock in [*self.sockets.values(), self.hb]:
            sock.close(linger=0)
        self.ctx.term()


def launch(processes: Any, tmp_path: Path, *args: str, **env: str) -> RawKernel:
    proc, info, path = start_kernel(
        [sys.executable, "-m", "toree_kernel", "-f", "{connection_file}", *args],
        connection_dir=tmp_path,
        env={
            **os.environ,
            "TOREE_HISTORY_FILE": str(tmp_path / "history.sqlite"),
            "TOREE_PROGRESS": "off",
            **env,
        },
        timeout=60,
    )
    processes.started.append(proc)  # killed with its tree by the fixture, pass or fail
    return RawKernel(proc, info, path)


@pytest.fixture(scope="module")
def kernel(processes: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RawKernel]:
    k = launch(processes, tmp_path_factory.mktemp("reliability"), "--nosparkcontext")
    try:
        reply = k.request("shell", "execute_request", {"code": f"{COUNTER} = 0"}, timeout=120)
        assert reply["content"]["status"] == "ok", reply["content"]
        k.expected_counter = 0
        yield k
    finally:
        k.close()
        processes.kill_all([k.proc])


# Hostile input -----------------------------------------------------------------------------------
REQUEST_TYPES = [  # never a well-formed shutdown_request: that one would be obeyed
    "kernel_info_request",
    "execute_request",
    "complete_request",
    "inspect_request",
    "is_complete_request",
    "history_request",
    "comm_info_request",
    "interrupt_request",
    "comm_open",
    "comm_msg",
    "comm_close",
    "debug_request",
    "usage_request",
    "input_reply",
    "execute_reply",
    "status",
]
NAUGHTY_TYPES = [
    "__init__",
    "close",
    "_run",
    "_comm",
    "interrupt_running",
    "install_sigint_handler",
    "_default_shutdown_request",
    "__class___request",
    "__init___request",
    "_run_request",
    "close_request",
    "x" * 10_000 + "_request",
    "",
    "shutdown\x00_request",
    "kernel_info_request ",
    "KERNEL_INFO_REQUEST",
    "abort_request",
    "foo_request",
]
CODES = [
    "1 + 1",
    "print('fuzz')",
    "raise ValueError('fuzz')",
    "def f(:",
    "",
    "%lsmagic",
    "%%bogus\nx",
    "%AddJar",
]
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
wrong_values = st.one_of(
    json_values, st.sampled_from([["x"], {"a": 1}, 42, -1, 1.5, True, None, "", "\u0000"])
)
CONTENT_KEYS = [
    "code",
    "silent",
    "store_history",
    "user_expressions",
    "allow_stdin",
    "stop_on_error",
    "cursor_pos",
    "detail_level",
    "hist_access_type",
    "session",
    "start",
    "stop",
    "n",
    "pattern",
    "unique",
    "output",
    "raw",
    "target_name",
    "comm_id",
    "data",
    "restart",
]


@st.composite
def headers(draw: st.DrawFn, msg_type: str) -> dict[str, Any]:
    header = {
        "msg_id": uuid.uuid4().hex,
        "session": "fuzz",
        "username": "fuzz",
        "date": "2026-01-01T00:00:00+00:00",
        "msg_type": msg_type,
        "version": "5.4",
    }
    if draw(st.integers(0, 3)) == 0:  # a field of the wrong type, or missing
        key = draw(st.sampled_from(sorted(header)))
        if draw(st.booleans()):
            del header[key]
        else:
            header[key] = draw(wrong_values)
    return header


@st.composite
def contents(draw: st.DrawFn) -> dict[str, Any]:
    content: dict[str, Any] = {
        "code": draw(
            st.one_of(st.sampled_from(CODES), st.text(alphabet="xyz+-*/( )0123456789'\n", max_size=20))
        )
    }
    for key in draw(st.lists(st.sampled_from(CONTENT_KEYS), max_size=4)):
        content[key] = draw(wrong_values)
    return content


def body(
    session: Session, header: Any, content: Any, parent: Any = None, metadata: Any = None
) -> list[bytes]:
    parts = [header, {} if parent is None else parent, {} if metadata is None else metadata, content]
    return [json.dumps(p).encode() if not isinstance(p, bytes) else p for p in parts]


@st.composite
def hostile(draw: st.DrawFn, session: Session, wrong: Session) -> tuple[str, list[bytes]]:
    """(kind, frames): what can arrive on a ROUTER socket from a broken or malicious client."""
    kind = draw(
        st.sampled_from(
            [
                "signed",
                "signed",
                "naughty",
                "bad_sig",
                "unsigned",
                "other_key",
                "bad_json",
                "truncated",
                "no_delim",
                "garbage",
                "mutated",
                "surrogate",
                "nested",
            ]
        )
    )
    msg_type = draw(st.one_of(st.sampled_from(REQUEST_TYPES), st.text(max_size=30)))
    if kind == "naughty":
        msg_type = draw(st.sampled_from(NAUGHTY_TYPES))
    if "shutdown" in msg_type.lower():
        msg_type = "kernel_info_request"
    parts = body(session, draw(headers(msg_type)), draw(contents()))
    if kind in ("signed", "naughty"):
        return kind, [DELIM, session.sign(parts), *parts]
    if kind == "bad_sig":
        sig = draw(
            st.one_of(
                st.binary(max_size=70),
                st.text(alphabet="0123456789abcdef", min_size=64, max_size=64).map(str.encode),
            )
        )
        return kind, [DELIM, sig, *parts]
    if kind == "unsigned":
        return kind, [DELIM, b"", *parts]
    if kind == "other_key":
        return kind, [DELIM, wrong.sign(parts), *parts]
    if kind == "bad_json":
        index = draw(st.integers(0, 3))
        parts[index] = draw(
            st.sampled_from(
                [b"{", b"[1, 2", b"nul", b"\xff\xfe", b"", b"{'a': 1}", b"[]", b"42", b'"s"', b"null"]
            )
        )
        return kind, [DELIM, session.sign(parts), *parts]
    if kind == "truncated":
        frames = [DELIM, session.sign(parts), *parts]
        return kind, frames[: draw(st.integers(0, len(frames) - 1))]
    if kind == "no_delim":
        return kind, [session.sign(parts), *parts]
    if kind == "garbage":
        return kind, draw(st.lists(st.binary(max_size=64), min_size=1, max_size=8))
    if kind == "mutated":  # a byte of a correctly signed message flipped: the signature no longer matches
        frames = [DELIM, session.sign(parts), *parts]
        index = draw(st.integers(1, len(frames) - 1))
        frame = bytearray(frames[index])
        if not frame:
            frame = bytearray(b"x")
        pos = draw(st.integers(0, len(frame) - 1))
        frame[pos] ^= draw(st.integers(1, 255))
        frames[index] = bytes(frame)
        return kind, frames
    if kind == "surrogate":  # valid JSON, lone surrogate in a field the reply echoes (the msg_id)
        header = draw(headers("kernel_info_request"))
        header["msg_id"] = "id-\ud800"
        parts = body(session, header, {})
        return kind, [DELIM, session.sign(parts), *parts]
    # nested: deep JSON, signed
    depth = draw(st.sampled_from([50, 900, 5000, 100_000]))
    parts[3] = b'{"code": ' + b"[" * depth + b"]" * depth + b"}"
    return kind, [DELIM, session.sign(parts), *parts]


def fuzz(kernel: RawKernel, channel: str, data: st.DataObject) -> None:
    wrong = Session(key=b"not-the-key", signature_scheme="hmac-sha256")
    kind, frames = data.draw(hostile(kernel.session, wrong))
    identities = (
        data.draw(st.lists(st.binary(min_size=1, max_size=8), max_size=2)) if kind == "garbage" else []
    )
    kernel.sockets[channel].send_multipart([*identities, *frames] or [b""])
    kernel.sent["fuzz"] += 1
    kernel.sent[kind] = kernel.sent.get(kind, 0) + 1
    if kernel.sent["fuzz"] % CHECK_EVERY == 0:
        kernel.check_state(channel)


FUZZ_SETTINGS = settings(
    max_examples=FUZZ_PER_CHANNEL,
    deadline=None,
    database=None,
    derandomize=False,
    suppress_health_check=list(HealthCheck),
)


@pytest.mark.parametrize("channel", ["shell", "control"])
def test_fuzzed_messages_never_break_the_kernel(kernel: RawKernel, channel: str) -> None:
    before = kernel.sent["fuzz"]

    @FUZZ_SETTINGS
    @given(st.data())
    def run(data: st.DataObject) -> None:
        fuzz(kernel, channel, data)

    run()
    sent = kernel.sent["fuzz"] - before
    assert sent >= FUZZ_PER_CHANNEL, f"hypothesis ran only {sent} examples"
    kernel.check_state(channel)
    kernel.check_state("shell")
    assert kernel.alive(), kernel.log()[-3000:]
    assert kernel.ping()
    assert kernel.counter() == kernel.expected_counter


REGRESSIONS = [  # (channel, msg_type, header msg_id, content): each took the kernel down or logged a traceback
    ("shell", "kernel_info_request", "id-\ud800", {}),  # a lone surrogate echoed in the parent header: exit 1
    ("shell", "close_request", None, {}),
    ("shell", "close", None, {}),  # ToreeKernel.close(ctx) was called
    ("shell", "__init__", None, {}),
    ("shell", "_comm", None, {"comm_id": "x"}),
    ("shell", "execute_request", None, {"code": 5}),  # was run as "5"
    ("shell", "execute_request", None, {"code": "1", "user_expressions": [1]}),  # ran, then AttributeError
    ("shell", "complete_request", None, {"code": "x", "cursor_pos": "a"}),
    ("shell", "history_request", None, {"hist_access_type": "tail", "n": 2**70}),  # SQLite OverflowError
    ("shell", "history_request", None, {"hist_access_type": "range", "session": -(2**80)}),
    ("control", "execute_request", None, {"code": f"{COUNTER} = -1"}),  # ran on the control thread
]


def test_known_bad_requests_are_rejected_cleanly(kernel: RawKernel) -> None:
    for channel, msg_type, msg_id, content in REGRESSIONS:
        header = {"msg_id": msg_id or uuid.uuid4().hex, "session": "s", "username": "u", "date": ""}
        parts = body(kernel.session, {**header, "msg_type": msg_type, "version": "5.4"}, content)
        kernel.sockets[channel].send_multipart([DELIM, kernel.session.sign(parts), *parts])
        kernel.sent["fuzz"] += 1
        kernel.check_state(channel)
    assert kernel.counter() == kernel.expected_counter
    assert "Traceback" not in kernel.log()


def test_huge_buffers_and_content(kernel: RawKernel) -> None:
    """Several-MB buffers and content, well-formed and forged: answered or dropped, never fatal."""
    big = os.urandom(4 * 1024 * 1024)
    for channel in ("shell", "control"):
        msg_id = kernel.send(channel, "kernel_info_request", {}, buffers=[big, big[: 1024 * 1024]])
        assert kernel.reply(channel, msg_id)["content"]["status"] == "ok"
        # forged: the signature of another message; must be dropped without a reply
        msg = kernel.session.msg("kernel_info_request", {"padding": "p" * (3 * 1024 * 1024)})
        frames = kernel.session.serialize(msg)
        frames[1] = b"0" * 64
        kernel.sockets[channel].send_multipart([*frames, big])
        kernel.sent["fuzz"] += 2
    reply = kernel.request("shell", "execute_request", {"code": "len('" + "y" * (5 * 1024 * 1024) + "')"})
    assert reply["content"]["status"] == "ok"
    kernel.check_state("shell")
    assert kernel.alive() and kernel.ping()


def test_load_1000_requests_at_once(kernel: RawKernel) -> None:
    """1,000 cells sent without waiting: replies in order, consecutive counts, every output delivered."""
    iopub = kernel.ctx.socket(zmq.SUB)
    iopub.setsockopt(zmq.LINGER, 0)
    iopub.setsockopt(zmq.RCVHWM, 0)
    iopub.setsockopt(zmq.SUBSCRIBE, b"")
    iopub.connect(kernel.info.url("iopub"))
    try:
        deadline = time.monotonic() + 30
        while True:  # the kernel welcomes every subscription (spec 5.4): from then on nothing is lost
            assert iopub.poll(int((deadline - time.monotonic()) * 1000)), "no iopub_welcome"
            if kernel.parse(iopub.recv_multipart())["msg_type"] == "iopub_welcome":
                break
        n = 1000
        ids = [kernel.send("shell", "execute_request", {"code": f"print('load', {i})"}) for i in range(n)]
        index = {msg_id: i for i, msg_id in enumerate(ids)}
        replies: list[dict[str, Any]] = []
        stdout: dict[str, str] = {}
        idle: set[str] = set()
        poller = zmq.Poller()
        poller.register(kernel.sockets["shell"], zmq.POLLIN)
        poller.register(iopub, zmq.POLLIN)
        deadline = time.monotonic() + 240
        while (len(replies) < n or len(idle) < n) and time.monotonic() < deadline:
            events = dict(poller.poll(1000))
            if kernel.sockets["shell"] in events:
                replies.append(kernel.parse(kernel.sockets["shell"].recv_multipart()))
            if iopub in events:
                msg = kernel.parse(iopub.recv_multipart())
                parent = msg["parent_header"].get("msg_id")
                if parent not in index:
                    continue
                if msg["msg_type"] == "stream":
                    assert msg["content"]["name"] == "stdout"
                    stdout[parent] = stdout.get(parent, "") + msg["content"]["text"]
                elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                    idle.add(parent)
        assert len(replies) == n, f"{len(replies)} of {n} replies"
        assert [r["parent_header"]["msg_id"] for r in replies] == ids, "replies out of order"
        assert all(r["content"]["status"] == "ok" for r in replies)
        counts = [r["content"]["execution_count"] for r in replies]
        assert counts == list(range(counts[0], counts[0] + n)), "execution counts not consecutive"
        assert len(idle) == n, f"idle status for {len(idle)} of {n} cells"
        missing = [i for msg_id, i in index.items() if stdout.get(msg_id) != f"load {i}\n"]
        assert not missing, f"{len(missing)} cells' output missing or misattributed, first: {missing[:5]}"
    finally:
        iopub.close(linger=0)
    kernel.check_state("shell")


def check_liveness(kernel: RawKernel, seconds: float) -> None:
    """While a cell sleeps ``seconds``: heartbeat, control kernel_info and finally interrupt, each < 1 s."""
    started = time.monotonic()
    cell = kernel.send("shell", "execute_request", {"code": f"import time; time.sleep({seconds})"})
    time.sleep(1)
    worst = {"hb": 0.0, "kernel_info": 0.0}
    probes = 0
    while time.monotonic() - started < seconds - 2:
        t0 = time.monotonic()
        assert kernel.ping(timeout=5), "heartbeat did not answer while a cell runs"
        worst["hb"] = max(worst["hb"], time.monotonic() - t0)
        t0 = time.monotonic()
        reply = kernel.request("control", "kernel_info_request", {}, timeout=5)
        worst["kernel_info"] = max(worst["kernel_info"], time.monotonic() - t0)
        assert reply["content"]["status"] == "ok"
        probes += 1
        time.sleep(0.2)
    assert probes >= 3
    t0 = time.monotonic()
    reply = kernel.request("control", "interrupt_request", {}, timeout=5)
    worst["interrupt"] = time.monotonic() - t0
    assert reply["content"]["status"] == "ok"
    assert max(worst.values()) < 1.0, worst
    result = kernel.reply("shell", cell, timeout=30)
    ended = time.monotonic() - started
    assert result["content"]["status"] == "error" and "KeyboardInterrupt" in result["content"]["ename"]
    assert ended < seconds + 1, f"the interrupt did not stop the cell ({ended:.1f} s)"
    kernel.check_state("shell")


def test_liveness_while_a_cell_runs(kernel: RawKernel) -> None:
    check_liveness(kernel, 10)


@pytest.mark.slow
def test_liveness_while_a_cell_runs_a_minute(kernel: RawKernel) -> None:
    check_liveness(kernel, 60)


def test_rejects_are_logged_not_spammed(kernel: RawKernel) -> None:
    """Every run of this module sent thousands of rejects: the log says so, in summaries, not line by line."""
    assert kernel.sent["fuzz"] >= 2 * FUZZ_PER_CHANNEL
    forged = sum(
        kernel.sent.get(k, 0)
        for k in ("bad_sig", "unsigned", "other_key", "mutated", "truncated", "no_delim")
    )
    deadline = time.monotonic() + 30  # summaries come once the 10 s window is over and the kernel is idle
    totals: list[int] = []
    while time.monotonic() < deadline:
        log = kernel.log()
        totals = [
            int(t) for t in re.findall(r"rejected .* more messages in the last .*; (\d+) in total", log)
        ]
        if totals and totals[-1] >= forged:
            break
        time.sleep(1)
    lines = [line for line in log.splitlines() if "rejected" in line]
    assert "rejected a message on shell: dropped: message signature does not match" in log
    assert "rejected a message on control" in log
    assert totals and totals[-1] >= forged, (totals, forged, log[-2000:])
    assert len(lines) < 1000, f"{len(lines)} reject lines for {kernel.sent['fuzz']} messages"
    assert "Traceback" not in log, log[log.index("Traceback") - 500 :][:5000]
    assert kernel.alive() and kernel.ping()
