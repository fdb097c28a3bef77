"""What vendor-neutral requests buy: the same abstract workload, HCS-style and vendor-locked.

Each request kind says which vendor its authors would have written it for (`nvidia.com/gpu`,
`huawei.com/Ascend910`...). The vendor-locked run lets it use only that vendor's models; the HCS
run lets it use any model that can serve it, converted through hcs-exchange. Same arrivals,
same durations, same default policy; the difference is the routing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hcs_exchange import Demand, Exchange, Precision
from hcs_scheduler.catalog import PolicyFactory
from hcs_scheduler.cluster import NodeSpec, build_cluster
from hcs_scheduler.fragmentation import WorkloadMix
from hcs_scheduler.request import PlacementRequest, request_from_pod
from hcs_scheduler.sim import replay
from hcs_scheduler.sim.scenario import RequestKind, WorkloadFile


def compare(
    nodes: Sequence[NodeSpec], workload: WorkloadFile, exchange: Exchange, seed: int = 0
) -> list[replay.ReplayResult]:
    cluster = build_cluster(nodes)
    max_devices = max(len(n.devices) for n in nodes)
    kinds = workload.requests
    free = [
        _request(kind, cluster.models, cluster.vendors, exchange, max_devices) for kind in kinds
    ]
    locked = [
        _locked(request, kind, cluster.vendors) for request, kind in zip(free, kinds, strict=True)
    ]
    rng = np.random.default_rng(seed)
    weights = np.array([k.weight for k in kinds]) / sum(k.weight for k in kinds)
    chosen = rng.choice(len(kinds), size=workload.jobs, p=weights)
    gaps = rng.exponential(3600.0 / workload.arrivals_per_hour, size=workload.jobs)
    arrivals = np.cumsum(gaps)
    acu = [_acu(kind, exchange) for kind in kinds]
    results = []
    for label, requests in (("hcs (any vendor)", free), ("vendor-locked", locked)):
        jobs = [
            replay.Job(requests[k], float(t), kinds[k].duration, acu[k])
            for k, t in zip(chosen.tolist(), arrivals.tolist(), strict=True)
        ]
        factory = PolicyFactory(WorkloadMix.from_requests([j.request for j in jobs]), cluster)
        results.append(
            replay.run(nodes, jobs, factory.make("default"), label, seed, interner=factory.interner)
        )
    return results


def _request(
    kind: RequestKind, models: list[str], vendors: list[str], exchange: Exchange, max_devices: int
) -> PlacementRequest:
    return request_from_pod(kind.name, kind.pod_request(), models, vendors, exchange, max_devices)


def _locked(request: PlacementRequest, kind: RequestKind, vendors: list[str]) -> PlacementRequest:
    allowed = request.allowed & np.array([v == str(kind.written_for) for v in vendors])
    return PlacementRequest(
        name=request.name,
        cpu_milli=request.cpu_milli,
        memory_mib=request.memory_mib,
        whole=request.whole,
        share=request.share,
        vram=request.vram,
        allowed=allowed,
        downgraded=request.downgraded,
        topology=request.topology,
        reasons=request.reasons,
    )


def _acu(kind: RequestKind, exchange: Exchange) -> float:
    demand = Demand.from_request(kind.compute_request(), sharded=kind.sharded)
    acu = exchange.demand_acu(demand)
    return float(acu.get(Precision.FP16, sum(acu.values(), 0)))
