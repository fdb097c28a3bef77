"""One placement decision: which node, which devices. Pure: the cluster is read, never changed.

fit (which nodes can take it) -> policy (score those) -> the best node (ties: lowest index) ->
devices on it (the policy's choice, else best fit for a share, best-linked set for whole
devices) -> an Allocation the caller applies.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from hcs_api import TopologyPreference
from hcs_scheduler.cluster import Allocation, Cluster
from hcs_scheduler.fit import DeviceFit, device_fit, explain, whole_candidates
from hcs_scheduler.policies import Decision, Policy, Scored, normalise
from hcs_scheduler.request import PlacementRequest
from hcs_scheduler.topology import best_subset, isolated_first, linked_subset, subset_quality


@dataclass(frozen=True)
class Placement:
    """The decision, in the terms the extender writes onto the pod."""

    allocation: Allocation
    node: str
    model: str
    vendor: str
    device_ids: tuple[str, ...]
    link_quality: int
    """Summed pairwise link quality of the chosen devices (0 for one device)."""
    downgraded: bool


@dataclass(frozen=True)
class Rejection:
    """No node fits; `reasons` says why, per node, for the first few."""

    reasons: tuple[str, ...]


def score_nodes(
    cluster: Cluster,
    request: PlacementRequest,
    policy: Policy,
    rng: np.random.Generator,
    among: np.ndarray | None = None,
    fit: DeviceFit | None = None,
) -> tuple[Decision, Scored]:
    """Fit (unless the caller has it), then the policy's scores of the fitting nodes (only
    those in the `among` mask)."""
    fit = fit or device_fit(cluster, request)
    if among is not None:
        fit = DeviceFit(fit.share_ok, fit.whole_ok, fit.nodes & among)
    candidates = np.flatnonzero(fit.nodes)
    decision = Decision(cluster, request, fit, candidates, rng)
    if not len(candidates):
        return decision, Scored(np.zeros(0))
    return decision, policy.score(decision)


def node_scores(
    cluster: Cluster,
    request: PlacementRequest,
    policy: Policy,
    rng: np.random.Generator,
    among: np.ndarray | None = None,
) -> dict[str, float]:
    """Node name -> 0-100 score for every node that fits (the extender's prioritize)."""
    decision, scored = score_nodes(cluster, request, policy, rng, among)
    names = [cluster.nodes[n].name for n in decision.candidates.tolist()]
    return dict(zip(names, normalise(scored.scores).tolist(), strict=True))


def place(
    cluster: Cluster,
    request: PlacementRequest,
    policy: Policy,
    rng: np.random.Generator,
    among: np.ndarray | None = None,
    fit: DeviceFit | None = None,
) -> Placement | Rejection:
    """The best placement, on the nodes of the `among` mask if given (`fit`: the request's
    device fit over `cluster`, if the caller has it)."""
    decision, scored = score_nodes(cluster, request, policy, rng, among, fit)
    if not len(decision.candidates):
        nodes = range(cluster.size) if among is None else np.flatnonzero(among).tolist()
        return Rejection(_reasons(cluster, request, nodes))
    best = int(np.argmax(scored.scores))
    node = int(decision.candidates[best])
    option = scored.option(best) if scored.option is not None else None
    devices = _devices(decision, policy, node, option)
    if devices is None:
        return Rejection(
            (f"{cluster.nodes[node].name}: no device set meets the topology requirement",)
        )
    return _placement(cluster, request, node, devices)


def _devices(
    decision: Decision, policy: Policy, node: int, option: object
) -> tuple[int, ...] | None:
    cluster, request, fit = decision.cluster, decision.request, decision.fit
    if not request.needs_device:
        return ()
    slots, need = whole_candidates(cluster, request, fit, node)
    if need:
        if request.topology is TopologyPreference.REQUIRED:
            return linked_subset(cluster.link[node], slots, need)  # None: no linked set
        return best_subset(cluster.link[node], slots, need)
    share_slots = np.flatnonzero(fit.share_ok[node]).tolist()
    picked = policy.share_slot(decision, node, share_slots)
    if picked is not None:
        return (picked,)
    # The fragmentation policies chose a device state; any device in that state will do.
    wanted = getattr(option, "device", None)
    if wanted is not None:
        share_slots = [
            s for s in share_slots if _device_state(cluster, node, s) == wanted
        ] or share_slots
    return (_best_fit_slot(cluster, request, node, share_slots),)


def _best_fit_slot(cluster: Cluster, request: PlacementRequest, node: int, slots: list[int]) -> int:
    """The device left with the least free share, then VRAM; ties: the least linked device."""
    free = cluster.dev_share_free[node]
    vram = cluster.dev_vram_free[node]
    order = {s: i for i, s in enumerate(isolated_first(cluster.link[node], slots))}
    return min(slots, key=lambda s: (int(free[s]), int(vram[s]), order[s]))


def _device_state(cluster: Cluster, node: int, slot: int) -> tuple[int, int, int, bool]:
    return (
        int(cluster.dev_model[node, slot]),
        int(cluster.dev_share_free[node, slot]),
        int(cluster.dev_vram_free[node, slot]),
        bool(cluster.dev_usable[node, slot]),
    )


def _placement(
    cluster: Cluster, request: PlacementRequest, node: int, devices: tuple[int, ...]
) -> Placement:
    spec = cluster.nodes[node]
    model = int(cluster.dev_model[node, devices[0]]) if devices else int(cluster.node_model[node])
    whole = bool(devices) and request.whole[model] > 0
    # Whole devices are exclusive: they take all their VRAM, whatever the request said.
    vram = (
        int(cluster.dev_vram_total[node, devices[0]])
        if whole
        else int(request.vram[model])
        if devices
        else 0
    )
    allocation = Allocation(
        node=node,
        devices=devices,
        share=int(request.share[model]) if devices else 0,
        vram=vram,
        cpu_milli=request.cpu_milli,
        memory_mib=request.memory_mib,
    )
    return Placement(
        allocation=allocation,
        node=spec.name,
        model=cluster.models[model] if model >= 0 else "",
        vendor=cluster.vendors[model] if model >= 0 else "",
        device_ids=tuple(spec.devices[s].id for s in devices),
        link_quality=subset_quality(cluster.link[node], devices) if len(devices) > 1 else 0,
        downgraded=bool(request.downgraded[model])
        if devices and len(request.downgraded)
        else False,
    )


def _reasons(
    cluster: Cluster, request: PlacementRequest, nodes: Iterable[int], limit: int = 5
) -> tuple[str, ...]:
    if not request.allowed.any() and request.needs_device:
        return request.reasons or ("no model in the cluster can serve the request",)
    reasons = [
        f"{cluster.nodes[n].name}: {explain(cluster, request, n)}"
        for n in itertools.islice(nodes, limit)
    ]
    return tuple(reasons)
