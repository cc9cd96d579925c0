from toree_kernel.history import HistoryStore


def test_history_spans_sessions(tmp_path) -> None:
    path = tmp_path / "h.sqlite"
    first = HistoryStore(path)
    first.store(1, "a = 1")
    first.store(2, "print(a)")
    first.close()
    second = HistoryStore(path)
    second.store(1, "spark.range(3).count()")
    assert second.session == first.session + 1
    assert second.tail(2) == [[first.session, 2, "print(a)"], [second.session, 1, "spark.range(3).count()"]]
    assert second.range(session=-1) == [[first.session, 1, "a = 1"], [first.session, 2, "print(a)"]]
    assert second.range(session=0, start=1, stop=2) == [[second.session, 1, "spark.range(3).count()"]]
    assert [r[2] for r in second.search("*a*")] == ["a = 1", "print(a)", "spark.range(3).count()"]
    assert second.search("print*", n=1) == [[first.session, 2, "print(a)"]]


def test_unique_search_keeps_newest(tmp_path) -> None:
    store = HistoryStore(tmp_path / "h.sqlite")
    for line, src in enumerate(["x", "y", "x"], start=1):
        store.store(line, src)
    assert store.search("*", unique=True) == [[store.session, 2, "y"], [store.session, 3, "x"]]


def test_unwritable_location_falls_back_to_memory(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    store = HistoryStore(blocker / "sub" / "h.sqlite")
    store.store(1, "still works")
    assert store.tail(1)[0][2] == "still works"
