"""Quota reservations and the change log at their limits: a reservation made without a TTL
lasts exactly 30 s, and a change log reset any number of times reads every earlier mark as too
old."""

from __future__ import annotations

from typing import Any

import pytest

from hcs_api.v1alpha1 import ComputeQuota
from hcs_exchange import Exchange
from hcs_scheduler.extender.quota import QuotaBook
from hcs_scheduler.extender.state import ChangeLog, ClusterState


def reserving_pod(uid: str) -> dict[str, Any]:
    container = {"name": "main", "resources": {"requests": {"ai.compute/vram": "8Gi"}}}
    metadata = {"name": uid, "namespace": "ml", "uid": uid}
    return {"metadata": metadata, "spec": {"containers": [container]}}


@pytest.mark.parametrize(
    ("now", "held"),
    [(0.0, ["a"]), (29.999, ["a"]), (30.0, []), (31.0, [])],
    ids=["at-once", "just-before", "exactly-30", "after"],
)
def test_a_quota_reservation_lasts_30_seconds_by_default(
    exchange: Exchange, now: float, held: list[str]
) -> None:
    clock = [0.0]
    state = ClusterState(clock=lambda: clock[0])
    body = {"metadata": {"name": "team", "namespace": "ml"}, "spec": {"hard": {"vram": "64Gi"}}}
    state.upsert_quota(ComputeQuota.model_validate(body))
    QuotaBook(state, exchange).reserve(reserving_pod("a"))
    clock[0] = now
    assert [record.uid for record in state.quota_reserved()] == held


def test_a_change_log_reset_twice_reads_every_earlier_mark_as_too_old() -> None:
    log = ChangeLog()
    log.add(1)
    log.add(2)
    log.reset()
    log.add(5)
    before = log.mark()
    log.reset()
    assert log.since(before) is None
    after = log.mark()
    log.add(3)
    log.add(0)
    log.add(3)
    assert log.since(after) == [0, 3]
