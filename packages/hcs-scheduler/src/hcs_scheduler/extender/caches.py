"""What the extender keeps between requests, so a decision costs what changed since the last
one, not the cluster's size. Every entry is keyed by what makes it true (a snapshot version, a
request shape), so none can answer for a cluster that has moved on."""

from __future__ import annotations

from typing import Generic, TypeVar

import numpy as np

from hcs_scheduler.extender.state import ClusterState

Key = TypeVar("Key")
Value = TypeVar("Value")


class Recent(Generic[Key, Value]):
    """The `size` entries used last; the least recently used is dropped first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: dict[Key, Value] = {}

    def get(self, key: Key) -> Value | None:
        value = self._entries.pop(key, None)
        if value is not None:
            self._entries[key] = value  # most recently used: last out
        return value

    def put(self, key: Key, value: Value) -> Value:
        self._entries.pop(key, None)
        self._entries[key] = value
        while len(self._entries) > self.size:
            self._entries.pop(next(iter(self._entries)))
        return value


RECENT_LISTS = 32
"""Node-name lists whose rows are kept: the candidate list, and the list each pod in flight
passed filter with."""


class NameRows:
    """Snapshot rows of node-name lists (-1: no ComputeNode), keeping the last few lists.

    kube-scheduler sends the same candidates pod after pod, and prioritize gets back the list
    filter answered. Comparing a fresh list with a kept one costs a quarter of hashing and
    looking up thousands of fresh names (as strings decoded from each request are).
    """

    def __init__(self, state: ClusterState) -> None:
        self.state = state
        self._lists: Recent[tuple[int, int, str, str], tuple[list[str], np.ndarray]] = Recent(
            RECENT_LISTS
        )

    def rows(self, names: list[str]) -> np.ndarray:
        """Read-only: shared with the next caller that sends the same list."""
        index = self.state.index()  # first: a rebuilt snapshot bumps the version
        if not names:
            return np.zeros(0, np.int64)
        kept = self._lists.get(self._key(names))
        if kept is not None and kept[0] == names:
            return kept[1]
        rows = np.fromiter(map(index.__getitem__, names), np.int64, len(names))
        self.remember(names, rows)
        return rows

    def remember(self, names: list[str], rows: np.ndarray) -> None:
        if names:
            rows.flags.writeable = False
            self._lists.put(self._key(names), (names, rows))

    def _key(self, names: list[str]) -> tuple[int, int, str, str]:
        return (self.state.version, len(names), names[0], names[-1])
