"""Jupyter comms through the real kernel: ipywidgets in PySpark cells, kernel.comm targets, comm_info."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kernel_support import Kernel

pytestmark = [pytest.mark.spark, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def py() -> Iterator[Kernel]:
    k = Kernel("apache_toree_pyspark", TOREE_PROGRESS="off")
    yield k
    k.close()


def client_says(kernel: Kernel, msg_type: str, content: dict[str, Any], timeout: float = 30) -> list[dict]:
    """Send a comm message as a client does; the IOPub messages it caused (until its idle)."""
    msg = kernel.kc.session.msg(msg_type, content)
    kernel.kc.shell_channel.send(msg)
    caused = []
    while True:
        out = kernel.kc.get_iopub_msg(timeout=timeout)
        if out["parent_header"].get("msg_id") != msg["header"]["msg_id"]:
            continue
        if out["msg_type"] == "status":
            if out["content"]["execution_state"] == "idle":
                return caused
            continue
        caused.append(out)


def comm_info(kernel: Kernel, target_name: str | None = None) -> dict[str, Any]:
    reply = kernel.kc.comm_info(target_name, reply=True, timeout=30)
    assert reply["content"]["status"] == "ok", reply
    return reply["content"]["comms"]


def test_an_ipywidgets_slider_talks_over_comms(py) -> None:
    content, outputs = py.run(
        "import ipywidgets as widgets\nprint('before')\nslider = widgets.IntSlider(value=3)\nslider"
    )
    assert content["status"] == "ok", content
    types = [m["msg_type"] for m in outputs]
    opens = [m for m in outputs if m["msg_type"] == "comm_open"]
    assert opens and all(m["content"]["target_name"] == "jupyter.widget" for m in opens)
    (slider,) = [m for m in opens if m["content"]["data"]["state"]["_model_name"] == "IntSliderModel"]
    assert slider["content"]["data"]["state"]["value"] == 3
    assert slider["metadata"].get("version"), slider  # the widget protocol version rides in metadata
    assert types.index("stream") < types.index("comm_open")  # the cell's output keeps its order
    (result,) = [m for m in outputs if m["msg_type"] == "execute_result"]
    view = result["content"]["data"]["application/vnd.jupyter.widget-view+json"]
    comm_id = slider["content"]["comm_id"]
    assert view["model_id"] == comm_id

    assert comm_id in comm_info(py)
    assert comm_info(py, "jupyter.widget")[comm_id] == {"target_name": "jupyter.widget"}
    assert comm_info(py, "no.such.target") == {}

    # The front end moves the slider: the kernel's widget follows.
    client_says(
        py,
        "comm_msg",
        {"comm_id": comm_id, "data": {"method": "update", "state": {"value": 7}, "buffer_paths": []}},
    )
    assert py.value("slider.value") == "7"

    # The kernel changes it: the front end is told, in the cell that did it.
    content, outputs = py.run("slider.value = 9")
    updates = [m["content"]["data"] for m in outputs if m["msg_type"] == "comm_msg"]
    assert {"method": "update", "state": {"value": 9}, "buffer_paths": []} in updates


def test_a_kernel_comm_target_answers_the_client(py) -> None:
    py.run(
        "closed = []\n"
        "def echo(comm, msg):\n"
        "    comm.send({'opened': msg['content']['data']})\n"
        "    comm.on_msg(lambda m: comm.send({'echo': m['content']['data']}))\n"
        "    comm.on_close(lambda m: closed.append(m['content']['data']))\n"
        "kernel.comm.register_target('toree.echo', echo)"
    )
    comm_id = uuid.uuid4().hex
    opened = client_says(py, "comm_open", {"comm_id": comm_id, "target_name": "toree.echo", "data": {"x": 1}})
    assert [(m["msg_type"], m["content"]) for m in opened] == [
        ("comm_msg", {"comm_id": comm_id, "data": {"opened": {"x": 1}}})
    ]
    assert comm_info(py, "toree.echo") == {comm_id: {"target_name": "toree.echo"}}

    echoed = client_says(py, "comm_msg", {"comm_id": comm_id, "data": {"n": 2}})
    assert [m["content"]["data"] for m in echoed] == [{"echo": {"n": 2}}]

    assert client_says(py, "comm_close", {"comm_id": comm_id, "data": {"bye": True}}) == []
    assert py.value("closed") == "[{'bye': True}]"
    assert comm_info(py, "toree.echo") == {}


def test_unknown_targets_are_closed_and_the_kernel_opens_comms_too(py) -> None:
    comm_id = uuid.uuid4().hex
    answer = client_says(py, "comm_open", {"comm_id": comm_id, "target_name": "no.such.target", "data": {}})
    assert [(m["msg_type"], m["content"]["comm_id"]) for m in answer] == [("comm_close", comm_id)]
    assert comm_id not in comm_info(py)

    content, outputs = py.run("c = kernel.comm.open('client.side', {'a': 1})\nc.send({'b': 2})\nc.close()")
    assert content["status"] == "ok", content
    sent = [(m["msg_type"], m["content"]) for m in outputs if m["msg_type"].startswith("comm_")]
    cid = sent[0][1]["comm_id"]
    assert sent == [
        ("comm_open", {"comm_id": cid, "data": {"a": 1}, "target_name": "client.side"}),
        ("comm_msg", {"comm_id": cid, "data": {"b": 2}}),
        ("comm_close", {"comm_id": cid, "data": {}}),
    ]


@pytest.fixture(scope="module")
def scala() -> Iterator[Kernel]:
    k = Kernel("apache_toree_scala", TOREE_PROGRESS="off")
    yield k
    k.close()


def test_scala_kernel_comm_opens_sends_and_serves_a_target(scala) -> None:
    content, outputs = scala.run(
        'val c = kernel.comm.open("client.side", """{"a": 1}""")\nc.send("""{"b": 2}""")\nc.close()'
    )
    assert content["status"] == "ok", content
    sent = [(m["msg_type"], m["content"]) for m in outputs if m["msg_type"].startswith("comm_")]
    assert sent and sent[0][0] == "comm_open", outputs
    cid = sent[0][1]["comm_id"]
    assert sent == [
        ("comm_open", {"comm_id": cid, "data": {"a": 1}, "target_name": "client.side"}),
        ("comm_msg", {"comm_id": cid, "data": {"b": 2}}),
        ("comm_close", {"comm_id": cid, "data": {}}),
    ]

    content, _ = scala.run(
        'kernel.comm.registerTarget("scala.echo", c => {\n'
        '  c.send("""{"opened": true}""")\n'
        '  c.onMsg(d => c.send(s"""{"echo": $d}"""))\n'
        "})"
    )
    assert content["status"] == "ok", content
    comm_id = uuid.uuid4().hex
    opened = client_says(scala, "comm_open", {"comm_id": comm_id, "target_name": "scala.echo", "data": {}})
    assert [(m["msg_type"], m["content"]["data"]) for m in opened] == [("comm_msg", {"opened": True})]
    assert comm_info(scala, "scala.echo") == {comm_id: {"target_name": "scala.echo"}}
    echoed = client_says(scala, "comm_msg", {"comm_id": comm_id, "data": {"n": 2}})
    assert [m["content"]["data"] for m in echoed] == [{"echo": {"n": 2}}]
    assert client_says(scala, "comm_close", {"comm_id": comm_id, "data": {}}) == []
    assert comm_info(scala, "scala.echo") == {}
