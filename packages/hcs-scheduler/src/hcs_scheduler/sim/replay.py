"""Time replay: requests arrive and leave at their times; what does not fit waits in a queue.

Events are processed in time order. An arrival is placed at once if a node fits, else it
queues; every departure frees capacity and the queue is retried in arrival order (a request
that still does not fit lets the ones behind it try: backfill). A request no node of the
cluster could ever hold, even empty, fails at once. Reported: GPU utilisation (time-weighted
share of compute allocated), queueing delay, placed compute and failures.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from hcs_scheduler.cluster import FULL_SHARE, Allocation, NodeSpec, StateInterner, build_cluster
from hcs_scheduler.fit import device_fit, fits_on
from hcs_scheduler.placement import Placement, place
from hcs_scheduler.policies import Policy
from hcs_scheduler.request import PlacementRequest

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Job:
    request: PlacementRequest
    arrival: float
    duration: float
    """Seconds it runs once placed."""
    acu: float = 0.0
    """Compute it asks for, in ACU (for the placed-compute figure); 0 when not known."""


@dataclass
class ReplayResult:
    policy: str
    utilisation: float = 0.0
    """Time-weighted % of the cluster's compute allocated."""
    placed: int = 0
    failed: int = 0
    """Never placed: no node could ever hold it, or still waiting when the replay ended."""
    delays: list[float] = field(default_factory=list)
    placed_acu_hours: float = 0.0
    seconds: float = 0.0

    def delay(self, quantile: float) -> float:
        return float(np.quantile(self.delays, quantile)) if self.delays else 0.0


def run(
    nodes: Sequence[NodeSpec],
    jobs: Sequence[Job],
    policy: Policy,
    name: str,
    seed: int = 0,
    progress: Progress | None = None,
    interner: StateInterner | None = None,
) -> ReplayResult:
    """Replay `jobs` with `policy`; pass the policy factory's interner when it has one."""
    cluster = build_cluster(nodes, interner)
    empty = build_cluster(nodes)
    rng = np.random.default_rng(seed)
    result = ReplayResult(policy=name)
    capacity = max(cluster.device_count(), 1)
    events: list[tuple[float, int, int, int]] = []  # (time, kind 0=departure 1=arrival, seq, job)
    for index, job in enumerate(jobs):
        heapq.heappush(events, (job.arrival, 1, index, index))
    running: dict[int, Allocation] = {}
    queue: list[int] = []
    started = time.perf_counter()
    first = min((job.arrival for job in jobs), default=0.0)
    last_time = first
    busy_area = 0.0
    sequence = len(jobs)
    ever_fits: dict[tuple[object, ...], bool] = {}

    def try_place(index: int, now: float) -> bool:
        nonlocal sequence
        outcome = place(cluster, jobs[index].request, policy, rng)
        if not isinstance(outcome, Placement):
            return False
        cluster.allocate(outcome.allocation)
        running[index] = outcome.allocation
        result.placed += 1
        result.delays.append(now - jobs[index].arrival)
        result.placed_acu_hours += jobs[index].acu * jobs[index].duration / 3600
        sequence += 1
        heapq.heappush(events, (now + jobs[index].duration, 0, sequence, index))
        return True

    def retry(waiting: list[int], node: int, now: float) -> list[int]:
        """Place what now fits. Only `node` freed capacity: a queued request that does not fit
        there fits nowhere, so only those that do are placed, and each request type is checked
        once per change of the cluster."""
        fits: dict[tuple[object, ...], bool] = {}
        still: list[int] = []
        for q in waiting:
            request = jobs[q].request
            if request.key not in fits:
                fits[request.key] = fits_on(cluster, request, node)
            if fits[request.key] and try_place(q, now):
                fits.clear()  # the cluster changed: what fits must be asked again
            else:
                still.append(q)
        return still

    while events:
        now, kind, _, index = heapq.heappop(events)
        used = capacity - cluster.node_free.sum() / FULL_SHARE
        busy_area += used * (now - last_time)
        last_time = now
        if kind == 1:
            request = jobs[index].request
            if request.key not in ever_fits:
                ever_fits[request.key] = bool(device_fit(empty, request).nodes.any())
            if not ever_fits[request.key]:
                result.failed += 1
            elif not try_place(index, now):
                queue.append(index)
            if progress is not None:
                progress(1)
        else:
            freed = running.pop(index)
            cluster.release(freed)
            queue = retry(queue, freed.node, now)
    result.failed += len(queue)
    span = last_time - first
    result.utilisation = 100.0 * busy_area / (capacity * span) if span > 0 else 0.0
    result.seconds = time.perf_counter() - started
    return result
