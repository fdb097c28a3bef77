"""The simulator at scale: 100,000 jobs on 1,000 nodes, time replay with arrivals and departures.

Nodes are the first 1,000 of the openb GPU node list; jobs are drawn (seeded) from the openb
default pod list with their own durations and Poisson arrivals at a rate that keeps the cluster
busy. Budget (DESIGN.md): under 60 s on 2 cores, with HCS's default policy.

    .venv/bin/python bench/simulator_throughput.py [--jobs 100000] [--nodes 1000]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from hcs_exchange import load_database
from hcs_scheduler import PolicyFactory, WorkloadMix, build_cluster
from hcs_scheduler.sim import openb, replay

TRACE = (
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "traces" / "alibaba-gpu-v2023"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--policy", default="default")
    parser.add_argument("--trace", type=Path, default=TRACE)
    args = parser.parse_args()
    profiles = load_database()
    nodes = openb.read_nodes(args.trace / "openb_node_list_gpu_node.csv", profiles)[: args.nodes]
    tasks = openb.read_tasks(args.trace / "openb_pod_list_default.csv", profiles)
    cluster = build_cluster(nodes)
    rng = np.random.default_rng(0)
    picks = rng.integers(0, len(tasks), size=args.jobs)
    durations = np.array([_duration(tasks[i]) for i in picks.tolist()])
    demand = float(np.mean([tasks[i].gpu_demand for i in picks.tolist()]))
    # Arrivals that would keep ~95 % of the devices busy on average (Little's law).
    rate = 0.95 * cluster.device_count() / (demand * float(durations.mean()))
    arrivals = np.cumsum(rng.exponential(1.0 / rate, size=args.jobs))
    requests = {i: tasks[i].request(cluster) for i in set(picks.tolist())}
    jobs = [
        replay.Job(requests[i], float(t), float(d))
        for i, t, d in zip(picks.tolist(), arrivals, durations, strict=True)
    ]
    factory = PolicyFactory(WorkloadMix.from_requests([t.request(cluster) for t in tasks]), cluster)
    started = time.perf_counter()
    result = replay.run(
        nodes, jobs, factory.make(args.policy), args.policy, interner=factory.interner
    )
    seconds = time.perf_counter() - started
    print(
        f"{args.jobs} jobs on {len(nodes)} nodes ({cluster.device_count()} devices), "
        f"policy {args.policy}: {seconds:.1f} s ({args.jobs / seconds:.0f} jobs/s); "
        f"utilisation {result.utilisation:.1f} %, placed {result.placed}, failed {result.failed}, "
        f"delay p50 {result.delay(0.5):.0f} s p95 {result.delay(0.95):.0f} s"
    )


def _duration(task: openb.TraceTask) -> float:
    start = task.scheduled if task.scheduled is not None else task.creation
    if task.deletion is None or start is None or task.deletion <= start:
        return 3600.0
    # Capped at four hours so that 100,000 arrivals keep the cluster busy, not idle in a long tail.
    return float(min(task.deletion - start, 4 * 3600))


if __name__ == "__main__":
    main()
