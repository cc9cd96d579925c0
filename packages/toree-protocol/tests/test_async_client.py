"""The asyncio face of the client offers every request of the sync one, against real kernels:
ipykernel (someone else's server) and the example kernel (ours)."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest

from toree_protocol.client import AsyncKernelClient, KernelClient
from toree_protocol.launcher import start_kernel

pytestmark = pytest.mark.timeout(120)
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "arith_kernel.py"
KERNELS = {
    "ipykernel": ([sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"], "pri", "len"),
    "arith": ([sys.executable, str(EXAMPLE), "-f", "{connection_file}"], "pri", "answer"),
}


@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_async_client_has_every_request(kernel: str, tmp_path: Path) -> None:
    signal.signal(signal.SIGINT, signal.default_int_handler)
    argv, prefix, known_name = KERNELS[kernel]
    proc, _, path = start_kernel(argv, connection_dir=tmp_path)

    async def scenario() -> None:
        async with AsyncKernelClient.from_connection_file(path) as kc:
            assert isinstance(kc, AsyncKernelClient)
            await kc.wait_for_ready(timeout=60)
            assert await kc.is_alive()
            assert (await kc.execute("answer = 42")).status == "ok"
            assert "print" in (await kc.complete(prefix)).content["matches"]
            assert (await kc.inspect(known_name)).content["found"]
            assert (await kc.is_complete("(1 +")).content["status"] == "incomplete"
            history = (await kc.history(n=5)).content
            assert history["status"] == "ok" and any("answer = 42" in row[2] for row in history["history"])
            comms = (await kc.comm_info()).content
            assert comms["status"] == "ok" and comms["comms"] == {}
            assert (await kc.interrupt()).content["status"] == "ok"  # harmless while idle
            assert (await kc.execute("1 + 1")).data == [{"text/plain": "2"}]
            assert (await kc.shutdown()).content["status"] == "ok"
            assert await asyncio.to_thread(proc.wait, 20) == 0
            assert not await kc.is_alive(timeout=0.5)

    try:
        asyncio.run(scenario())
    finally:
        proc.kill()
        proc.wait()


def test_both_faces_have_the_same_requests() -> None:
    public = {name for name in dir(KernelClient) if not name.startswith("_")}
    public_async = {name for name in dir(AsyncKernelClient) if not name.startswith("_")}
    assert public == public_async
    for name in public - {"close", "from_connection_file", "iopub_seen", "execute_iter"}:
        assert asyncio.iscoroutinefunction(getattr(AsyncKernelClient, name)), name
