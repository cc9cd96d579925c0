import threading
import time

from toree_kernel.iopub_sink import IOPubSink


class RecordingContext:
    def __init__(self) -> None:
        self.messages: list[tuple[str, dict]] = []
        self.lock = threading.Lock()

    def publish(self, msg_type, content, **kw):
        with self.lock:
            self.messages.append((msg_type, content))

    def input(self, prompt, password=False):
        return f"answer to {prompt}"


def test_many_small_writes_become_few_messages_in_order() -> None:
    ctx = RecordingContext()
    sink = IOPubSink(ctx, interval=0.05)
    for i in range(100_000):
        sink.stream("stdout", f"{i}\n")
    sink.close()
    sink.retire()
    streams = [c for t, c in ctx.messages if t == "stream"]
    text = "".join(c["text"] for c in streams)
    assert text == "".join(f"{i}\n" for i in range(100_000))
    assert len(streams) < 50  # batched, not one message per write


def test_interleaved_streams_keep_order_and_flush_before_display() -> None:
    ctx = RecordingContext()
    sink = IOPubSink(ctx, interval=10)  # only explicit flushes
    sink.stream("stdout", "a")
    sink.stream("stdout", "b")
    sink.stream("stderr", "c")
    sink.display({"text/plain": "d"}, display_id="x")
    sink.stream("stdout", "e")
    sink.publish("execute_result", {"data": {"text/plain": "f"}})
    sink.retire()
    kinds = [(t, c.get("name"), c.get("text")) for t, c in ctx.messages]
    assert kinds == [
        ("stream", "stdout", "ab"),
        ("stream", "stderr", "c"),
        ("display_data", None, None),
        ("stream", "stdout", "e"),
        ("execute_result", None, None),
    ]
    assert ctx.messages[2][1]["transient"] == {"display_id": "x"}


def test_periodic_flush_without_close() -> None:
    ctx = RecordingContext()
    sink = IOPubSink(ctx, interval=0.02)
    sink.stream("stdout", "late output from a thread\n")
    deadline = time.monotonic() + 5
    while not ctx.messages and time.monotonic() < deadline:
        time.sleep(0.01)
    sink.retire()
    assert ctx.messages == [("stream", {"name": "stdout", "text": "late output from a thread\n"})]


def test_update_and_input_go_through() -> None:
    ctx = RecordingContext()
    sink = IOPubSink(ctx)
    sink.display({"text/plain": "1"}, display_id="p", update=True)
    assert sink.input("name?") == "answer to name?"
    sink.clear_output(wait=True)
    sink.retire()
    assert [t for t, _ in ctx.messages] == ["update_display_data", "clear_output"]
