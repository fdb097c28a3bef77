"""One placement decision on a big cluster: latency per decision and decisions per second.

Builds N nodes x 8 devices of four vendors, fills them about half (random shares and whole
devices), then times `place()` with HCS's default policy for a stream of requests drawn from
the openb default list's shapes. Budgets (DESIGN.md): p99 under 10 ms at 5,000 nodes; at least
680 decisions/s at 500 candidate nodes.

    .venv/bin/python bench/placement_latency.py [--nodes 5000] [--decisions 2000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from hcs_scheduler import (
    DeviceSpec,
    NodeSpec,
    PolicyFactory,
    WorkloadMix,
    build_cluster,
    place,
    uniform_request,
)
from hcs_scheduler.cluster import Allocation
from hcs_scheduler.placement import Placement

MODELS = [
    ("A100-SXM4-80G", "nvidia"),
    ("Ascend-910B1", "ascend"),
    ("Hygon-K100-AI", "hygon"),
    ("MLU370-X8", "cambricon"),
]
SHAPES = [
    (0, 1000),
    (0, 810),
    (0, 470),
    (0, 320),
    (0, 650),
    (0, 230),
    (1, 1000),
    (2, 1000),
    (4, 1000),
    (8, 1000),
]
WEIGHTS = np.array([4, 11, 8, 3, 3, 2, 39, 1, 1, 1], dtype=float)


def make_nodes(count: int) -> list[NodeSpec]:
    nodes = []
    for n in range(count):
        model, vendor = MODELS[n % len(MODELS)]
        devices = tuple(DeviceSpec(str(i), model, vendor, 64 * 2**30) for i in range(8))
        quality = tuple(tuple(0 if i == j else 100 for j in range(8)) for i in range(8))
        nodes.append(NodeSpec(f"node-{n:05d}", devices, 128_000, 1 << 20, quality))
    return nodes


def requests(models: int):
    return [
        uniform_request(
            f"r{i}", models, whole=w, share=s if not w else 0, cpu_milli=4000, memory_mib=16384
        )
        for i, (w, s) in enumerate(SHAPES)
    ]


def fill(cluster, rng: np.random.Generator, target: float = 0.5) -> None:
    for n in range(cluster.size):
        for slot in range(8):
            if rng.random() < target:
                share = int(rng.choice([1000, 500, 300, 800]))
                cluster.allocate(Allocation(n, (slot,), share, 0))


def measure(nodes: int, decisions: int, seed: int = 0) -> tuple[float, float, float]:
    rng = np.random.default_rng(seed)
    cluster = build_cluster(make_nodes(nodes))
    fill(cluster, rng)
    kinds = requests(len(cluster.models))
    factory = PolicyFactory(
        WorkloadMix.from_requests(
            [kinds[i] for i in rng.choice(len(kinds), 500, p=WEIGHTS / WEIGHTS.sum())]
        ),
        cluster,
    )
    policy = factory.make("default")
    stream = rng.choice(len(kinds), decisions, p=WEIGHTS / WEIGHTS.sum())
    times = []
    for index in stream.tolist():
        start = time.perf_counter()
        outcome = place(cluster, kinds[index], policy, rng)
        times.append(time.perf_counter() - start)
        if isinstance(outcome, Placement) and rng.random() < 0.5:
            cluster.allocate(outcome.allocation)  # half the decisions bind: states keep changing
    ms = np.array(times) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99)), decisions / (ms.sum() / 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="*", default=[500, 5000])
    parser.add_argument("--decisions", type=int, default=2000)
    args = parser.parse_args()
    for nodes in args.nodes:
        p50, p99, rate = measure(nodes, args.decisions)
        print(
            f"{nodes:6d} nodes x 8 devices: p50 {p50:.2f} ms, p99 {p99:.2f} ms, "
            f"{rate:.0f} decisions/s"
        )


if __name__ == "__main__":
    main()
