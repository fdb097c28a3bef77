"""Processes killed mid-allocation never take a container past its VRAM quota nor lose any."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # pytest imports in importlib mode

from interceptor_race import Load, MiB, Tools, build, failed, race

# Short: 2,000 allocations a process (the full run makes 10,000), on a quota small enough that
# every process meets it.
LOAD = Load(lanes=8, count=2_000, kills=8, quota=64 * MiB, seed=1)


@pytest.fixture(scope="module")
def tools(tmp_path_factory: pytest.TempPathFactory) -> Tools:
    return build(tmp_path_factory.mktemp("race"))


@pytest.mark.timeout(60)
def test_the_quota_holds_under_sigkills_and_nothing_is_lost(tools: Tools) -> None:
    outcome = race(tools, LOAD)
    assert outcome.errors == []
    assert sum(outcome.killed.values()) >= 4, outcome.killed  # the faults were injected
    assert outcome.ledger["max_live"] > 0.9 * LOAD.quota  # the racers did reach the quota
    assert outcome.ledger["violations"] == 0
    assert outcome.lost == 0
    assert not failed(outcome)


@pytest.mark.timeout(60)
def test_without_the_interceptor_the_driver_sees_the_quota_exceeded(tools: Tools) -> None:
    # The measure can fail: the same race with nothing enforcing the quota goes over it.
    outcome = race(tools, LOAD, preload=False)
    assert outcome.errors == []
    assert outcome.ledger["violations"] > 0
