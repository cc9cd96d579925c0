"""``kernel.data``: one map shared by every language of a kernel.

Python alone keeps it as a plain dict. Once the Scala interpreter starts, the entries move into a JVM
``ConcurrentHashMap`` that Scala's ``kernel.data`` is, and Python reads and writes through py4j: numbers,
strings, booleans and JVM objects cross; other Python objects give a clear TypeError.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any


class SharedData(MutableMapping[str, Any]):
    def __init__(self) -> None:
        self._local: dict[str, Any] = {}
        self._java: Any = None

    def attach(self, java_map: Any) -> None:
        """Move the entries into the JVM map; from now on both languages see one map."""
        for key, value in self._local.items():
            self._put(java_map, key, value)
        self._java = java_map
        self._local = {}

    def detach_lost(self) -> bool:
        """The JVM holding the map died: start empty and in Python again. True if it was attached."""
        attached, self._java, self._local = self._java is not None, None, {}
        return attached

    @staticmethod
    def _put(java_map: Any, key: str, value: Any) -> None:
        try:
            java_map.put(key, value)
        except Exception as exc:  # py4j cannot send this object to the JVM
            raise TypeError(
                f"kernel.data[{key!r}]: a {type(value).__name__} cannot be shared with Scala; "
                "use numbers, strings, booleans or JVM objects"
            ) from exc

    def __getitem__(self, key: str) -> Any:
        if self._java is None:
            return self._local[key]
        if not self._java.containsKey(key):
            raise KeyError(key)
        return self._java.get(key)

    def __setitem__(self, key: str, value: Any) -> None:
        if self._java is None:
            self._local[key] = value
        else:
            self._put(self._java, key, value)

    def __delitem__(self, key: str) -> None:
        if self._java is None:
            del self._local[key]
        elif self._java.remove(key) is None:
            raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._local) if self._java is None else iter(list(self._java.keySet()))

    def __len__(self) -> int:
        return len(self._local) if self._java is None else int(self._java.size())

    def __repr__(self) -> str:
        return f"kernel.data({dict(self.items())!r})"
