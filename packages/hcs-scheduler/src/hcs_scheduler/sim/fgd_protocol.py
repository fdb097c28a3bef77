"""The FGD paper's experiment: tasks arrive until their GPU demand equals the cluster's capacity.

Tasks are drawn at random (with replacement, seeded) from a pod list and placed one by one with
no departures until the GPU they asked for reaches 100 % of the cluster's GPUs. At each step of
arrived workload we record the share of GPU compute left unallocated and the share that is
fragmented for the expected mix. Every policy sees the same draw.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from hcs_scheduler.catalog import PolicyFactory
from hcs_scheduler.cluster import FULL_SHARE, Cluster, NodeSpec, build_cluster
from hcs_scheduler.fragmentation import WorkloadMix
from hcs_scheduler.placement import Placement, place
from hcs_scheduler.policies import Policy
from hcs_scheduler.request import PlacementRequest
from hcs_scheduler.sim.openb import TraceTask

Progress = Callable[[int], None]


@dataclass
class Curve:
    """One policy's run: values in % of the cluster's GPU capacity at each arrived-workload step."""

    policy: str
    arrived: list[float] = field(default_factory=list)
    unallocated: list[float] = field(default_factory=list)
    fragmented: list[float] = field(default_factory=list)
    placed: int = 0
    failed: int = 0
    seconds: float = 0.0

    def at_full(self) -> tuple[float, float]:
        """(unallocated %, fragmented %) when the arrived workload reaches 100 %."""
        return self.unallocated[-1], self.fragmented[-1]


def draw(tasks: Sequence[TraceTask], capacity: float, seed: int) -> list[int]:
    """Task indices drawn until their GPU demand reaches `capacity` devices."""
    rng = np.random.default_rng(seed)
    demand = np.array([t.gpu_demand for t in tasks])
    order: list[int] = []
    total = 0.0
    while total < capacity:
        batch = rng.integers(0, len(tasks), size=1024)
        for index in batch.tolist():
            order.append(index)
            total += demand[index]
            if total >= capacity:
                break
    return order


def run(
    nodes: Sequence[NodeSpec],
    tasks: Sequence[TraceTask],
    policies: Sequence[str],
    seed: int = 0,
    step: float = 5.0,
    progress: Progress | None = None,
) -> list[Curve]:
    """Each policy over the same draw; `step` is the arrived-workload interval in %."""
    template = build_cluster(nodes)
    requests = [t.request(template) for t in tasks]
    mix = WorkloadMix.from_requests(requests)
    factory = PolicyFactory(mix, template)
    capacity = template.device_count()
    order = draw(tasks, capacity, seed)
    curves = []
    for name in policies:
        cluster = build_cluster(nodes, factory.interner)
        policy = factory.make(name)
        rng = np.random.default_rng(seed)
        curve = Curve(policy=name)
        started = time.perf_counter()
        arrived = 0.0
        marks = Marks(step)
        for count, index in place_in_order(cluster, requests, order, policy, rng, curve):
            arrived += tasks[index].gpu_demand
            percent = 100.0 * arrived / capacity
            if marks.due(percent, last=count == len(order)):
                record(curve, cluster, factory, capacity, min(percent, 100.0))
            if progress is not None:
                progress(1)
        curve.seconds = time.perf_counter() - started
        curves.append(curve)
    return curves


def place_in_order(
    cluster: Cluster,
    requests: Sequence[PlacementRequest],
    order: Sequence[int],
    policy: Policy,
    rng: np.random.Generator,
    curve: Curve,
) -> Iterator[tuple[int, int]]:
    """Places `order`'s requests one by one with no departures, counting placed and failed on
    `curve`; yields (how many so far, the request's index) after each, for the caller to read
    the cluster."""
    for count, index in enumerate(order, start=1):
        outcome = place(cluster, requests[index], policy, rng)
        if isinstance(outcome, Placement):
            cluster.allocate(outcome.allocation)
            curve.placed += 1
        else:
            curve.failed += 1
        yield count, index


@dataclass
class Marks:
    """Every `step` % of arrived workload, and the last task: when a curve records a point."""

    step: float
    next: float = 0.0

    def __post_init__(self) -> None:
        self.next = self.step

    def due(self, percent: float, last: bool) -> bool:
        if percent + 1e-9 < self.next and not last:
            return False
        while self.next <= percent + 1e-9:
            self.next += self.step
        return True


def measure(cluster: Cluster, factory: PolicyFactory, capacity: int) -> tuple[float, float]:
    """(unallocated %, fragmented %) of `capacity` devices now; shared with artifact_protocol."""
    free = cluster.node_free.sum() / FULL_SHARE
    fragmented = factory.index.cluster_fragmentation(cluster) / FULL_SHARE
    return 100.0 * free / capacity, 100.0 * fragmented / capacity


def record(
    curve: Curve, cluster: Cluster, factory: PolicyFactory, capacity: int, arrived: float
) -> None:
    """Appends one arrived-workload point to `curve`."""
    unallocated, fragmented = measure(cluster, factory, capacity)
    curve.arrived.append(round(arrived, 3))
    curve.unallocated.append(unallocated)
    curve.fragmented.append(fragmented)
