"""toree_protocol's client drives a real ipykernel: the 'custom 0MQ client' path, no jupyter_client."""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from toree_protocol.client import AsyncKernelClient, KernelClient
from toree_protocol.launcher import start_kernel

pytestmark = pytest.mark.timeout(120)
IPYKERNEL = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]


@pytest.fixture(scope="module")
def ipykernel() -> Iterator[tuple]:
    signal.signal(signal.SIGINT, signal.default_int_handler)
    proc, info, _ = start_kernel(IPYKERNEL)
    client = KernelClient(info)
    try:
        client.wait_for_ready(timeout=60)
        yield proc, info, client
    finally:
        client.close()
        proc.kill()
        proc.wait()


def test_kernel_info_and_heartbeat(ipykernel) -> None:
    _, _, kc = ipykernel
    reply = kc.kernel_info()
    assert reply.content["status"] == "ok"
    assert reply.content["language_info"]["name"] == "python"
    assert kc.is_alive()


def test_execute_outputs(ipykernel) -> None:
    _, _, kc = ipykernel
    result = kc.execute("import sys\nprint('out')\nprint('err', file=sys.stderr)\n6 * 7")
    assert result.status == "ok"
    assert result.stdout == "out\n"
    assert result.stderr == "err\n"
    assert result.data == [{"text/plain": "42"}]
    failed = kc.execute("1 / 0")
    assert failed.error is not None and failed.error["ename"] == "ZeroDivisionError"
    assert [m.msg_type for m in failed.outputs] == ["execute_input", "error"]


def test_execute_iter_streams_in_order_then_reply(ipykernel) -> None:
    _, _, kc = ipykernel
    seen = [m.msg_type for m in kc.execute_iter("for i in range(3): print(i, flush=True)")]
    assert seen[0] == "execute_input"
    assert seen[-1] == "execute_reply"
    assert "stream" in seen


def test_complete_inspect_is_complete_history(ipykernel) -> None:
    _, _, kc = ipykernel
    assert "print" in kc.complete("pri").content["matches"]
    assert kc.inspect("len").content["found"]
    assert kc.is_complete("def f():").content["status"] == "incomplete"
    assert kc.is_complete("x = 1").content["status"] == "complete"
    assert kc.history(n=3).content["status"] == "ok"


def test_stdin_round_trip(ipykernel) -> None:
    _, _, kc = ipykernel
    asked = []
    result = kc.execute(
        "name = input('who? ')\nname", on_input=lambda prompt, pw: asked.append(prompt) or "ada"
    )
    assert asked == ["who? "]
    assert result.data == [{"text/plain": "'ada'"}]


def test_interrupt_ends_a_sleeping_cell(ipykernel) -> None:
    _, _, kc = ipykernel
    box: dict = {}
    worker = threading.Thread(target=lambda: box.setdefault("r", kc.execute("import time; time.sleep(30)")))
    # The client is not thread-safe: interrupt with a second client on the same kernel.
    _, info, _ = ipykernel
    other = KernelClient(info)
    try:
        worker.start()
        time.sleep(1.5)
        started = time.monotonic()
        assert other.interrupt().content["status"] == "ok"
        worker.join(timeout=20)
        assert time.monotonic() - started < 10
    finally:
        other.close()
    assert box["r"].error["ename"] == "KeyboardInterrupt"


def test_async_client_execute_and_shutdown() -> None:
    proc, info, _ = start_kernel(IPYKERNEL)

    async def scenario() -> None:
        async with AsyncKernelClient(info) as kc:
            await kc.wait_for_ready(timeout=60)
            result = await kc.execute("print('async hi')\n1 + 1")
            assert result.stdout == "async hi\n"
            assert result.data == [{"text/plain": "2"}]
            outputs = [m.msg_type async for m in kc.execute_iter("2 + 2")]
            assert outputs[-1] == "execute_reply" and "execute_result" in outputs
            assert (await kc.shutdown()).content["status"] == "ok"

    try:
        asyncio.run(scenario())
        assert proc.wait(timeout=20) == 0
    finally:
        proc.kill()


def test_shutdown_ends_the_process() -> None:
    proc, _, path = start_kernel(IPYKERNEL)
    with KernelClient.from_connection_file(path) as kc:
        try:
            kc.wait_for_ready(timeout=60)
            assert kc.shutdown().content["status"] == "ok"
            assert proc.wait(timeout=20) == 0
            assert not kc.is_alive(timeout=0.5)
        finally:
            proc.kill()


def test_start_kernel_reports_a_dying_kernel(tmp_path) -> None:
    with pytest.raises(RuntimeError, match="exited with code 3"):
        start_kernel([sys.executable, "-c", "import sys; sys.stderr.write('bad config'); sys.exit(3)"])
