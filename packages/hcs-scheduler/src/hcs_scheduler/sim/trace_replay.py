"""Alibaba's trace replayed in time: each task arrives at its creation time and runs as long as
it ran in production (deletion - scheduled, or - creation); a task still running when the trace
was cut runs to the trace's end. Every policy replays the same jobs."""

from __future__ import annotations

from collections.abc import Sequence

from hcs_scheduler.catalog import PolicyFactory
from hcs_scheduler.cluster import NodeSpec, build_cluster
from hcs_scheduler.errors import InputError
from hcs_scheduler.fragmentation import WorkloadMix
from hcs_scheduler.sim import replay
from hcs_scheduler.sim.openb import TraceTask


def run(
    nodes: Sequence[NodeSpec], tasks: Sequence[TraceTask], policies: Sequence[str], seed: int = 0
) -> list[replay.ReplayResult]:
    timed = [t for t in tasks if t.creation is not None]
    if not timed:
        raise InputError("no task has a creation_time: this pod list cannot be replayed in time")
    end = max(t.deletion or t.creation or 0 for t in timed)
    template = build_cluster(nodes)
    requests = [t.request(template) for t in timed]
    factory = PolicyFactory(WorkloadMix.from_requests(requests), template)
    jobs = [
        replay.Job(request, float(task.creation or 0), _duration(task, end))
        for task, request in zip(timed, requests, strict=True)
    ]
    return [
        replay.run(nodes, jobs, factory.make(name), name, seed, interner=factory.interner)
        for name in policies
    ]


def _duration(task: TraceTask, end: int) -> float:
    start = task.scheduled if task.scheduled is not None else task.creation or 0
    stop = task.deletion if task.deletion is not None else end
    return float(max(stop - start, 1))
