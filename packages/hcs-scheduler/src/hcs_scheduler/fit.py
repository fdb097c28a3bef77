"""Which nodes and devices can take a request: vectorised over the whole cluster.

A device can take a *share* when its model's plan is a share, it is usable (healthy, not
cordoned), and it has the share and the VRAM free. It can be one of N *whole* devices when its
model's plan asks for whole devices and nothing is allocated on it. A node fits when its host
resources suffice and it has one fitting device (share) or N fitting devices of one model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hcs_api import TopologyPreference
from hcs_scheduler.cluster import FULL_SHARE, MIXED_MODELS, Cluster
from hcs_scheduler.request import PlacementRequest
from hcs_scheduler.topology import linked_subset


@dataclass(frozen=True)
class DeviceFit:
    """Masks [node, slot] of devices that can take the request, and the node mask."""

    share_ok: np.ndarray
    whole_ok: np.ndarray
    nodes: np.ndarray


def device_fit(cluster: Cluster, request: PlacementRequest) -> DeviceFit:
    fit = _device_fit(cluster, request)
    if request.topology is not TopologyPreference.REQUIRED:
        return fit
    # Required topology: a node fits a multi-device request only with that many free
    # devices all directly linked (per fitting node: such requests are few, and nodes small).
    nodes = fit.nodes.copy()
    for node in np.flatnonzero(nodes).tolist():
        if not _linked_set_free(cluster, request, fit, node):
            nodes[node] = False
    return DeviceFit(fit.share_ok, fit.whole_ok, nodes)


def _linked_set_free(
    cluster: Cluster, request: PlacementRequest, fit: DeviceFit, node: int
) -> bool:
    slots, need = whole_candidates(cluster, request, fit, node)
    return need <= 1 or linked_subset(cluster.link[node], slots, need) is not None


def _device_fit(cluster: Cluster, request: PlacementRequest) -> DeviceFit:
    host_ok = (cluster.cpu_free >= request.cpu_milli) & (cluster.mem_free >= request.memory_mib)
    if not request.needs_device:
        empty = np.zeros_like(cluster.dev_usable)
        return DeviceFit(empty, empty, host_ok)
    if not (cluster.node_model == MIXED_MODELS).any():
        return _single_model_fit(cluster, request, host_ok)
    model = cluster.dev_model
    present = model >= 0
    safe = np.where(present, model, 0)
    candidate = present & cluster.dev_usable & request.allowed[safe]
    whole_need = request.whole[safe]
    vram_need = request.vram[safe]
    share_ok = (
        candidate
        & (whole_need == 0)
        & (cluster.dev_share_free >= request.share[safe])
        & (cluster.dev_vram_free >= vram_need)
    )
    whole_ok = (
        candidate & (whole_need > 0) & untouched(cluster) & (cluster.dev_vram_total >= vram_need)
    )
    nodes = host_ok & (share_ok.any(axis=1) | _enough_whole(cluster, request, whole_ok))
    return DeviceFit(share_ok, whole_ok, nodes)


def untouched(cluster: Cluster, node: int | slice = slice(None)) -> np.ndarray:
    """Devices nothing is held on, neither compute share nor VRAM (of one node, or all): the
    ones a whole-device request may take (a VRAM-only pod holds no share, and its memory)."""
    share, vram = cluster.dev_share_free[node], cluster.dev_vram_free[node]
    free: np.ndarray = (share == FULL_SHARE) & (vram == cluster.dev_vram_total[node])
    return free


def refit(
    cluster: Cluster, request: PlacementRequest, fit: DeviceFit, rows: Sequence[int]
) -> DeviceFit:
    """`fit` (of `request` over `cluster` as it was) with the nodes at `rows` computed anew:
    after a few allocations changed, cheaper than fitting the whole cluster again."""
    if not rows:
        return fit
    part = device_fit(cluster.take(rows), request)
    share_ok, whole_ok, nodes = fit.share_ok.copy(), fit.whole_ok.copy(), fit.nodes.copy()
    index = np.asarray(rows, dtype=np.int64)
    share_ok[index], whole_ok[index], nodes[index] = part.share_ok, part.whole_ok, part.nodes
    return DeviceFit(share_ok, whole_ok, nodes)


def _single_model_fit(
    cluster: Cluster, request: PlacementRequest, host_ok: np.ndarray
) -> DeviceFit:
    """The same masks when every node has one model: per-node needs, broadcast over slots."""
    model = np.maximum(cluster.node_model, 0)
    allowed = request.allowed[model] & (cluster.node_model >= 0)
    whole = request.whole[model]
    vram = request.vram[model][:, None]
    base = cluster.dev_usable & allowed[:, None]
    share_ok = whole_ok = np.zeros_like(base)
    if (request.whole == 0).any():
        share_ok = (
            base
            & (whole == 0)[:, None]
            & (cluster.dev_share_free >= request.share[model][:, None])
            & (cluster.dev_vram_free >= vram)
        )
    nodes = share_ok.any(axis=1)
    if request.whole.any():
        free = untouched(cluster)
        whole_ok = base & (whole > 0)[:, None] & free & (cluster.dev_vram_total >= vram)
        nodes |= (whole > 0) & (whole_ok.sum(axis=1) >= whole)
    return DeviceFit(share_ok, whole_ok, host_ok & nodes)


def fits_on(cluster: Cluster, request: PlacementRequest, node: int) -> bool:
    """Whether `node` alone can take `request` (a cheap check for one node, no cluster scan)."""
    if cluster.cpu_free[node] < request.cpu_milli or cluster.mem_free[node] < request.memory_mib:
        return False
    if not request.needs_device:
        return True
    model = cluster.dev_model[node]
    present = model >= 0
    safe = np.where(present, model, 0)
    candidate = present & cluster.dev_usable[node] & request.allowed[safe]
    share_ok = (
        candidate
        & (request.whole[safe] == 0)
        & (cluster.dev_share_free[node] >= request.share[safe])
        & (cluster.dev_vram_free[node] >= request.vram[safe])
    )
    if share_ok.any():
        return True
    big_enough = cluster.dev_vram_total[node] >= request.vram[safe]  # as device_fit checks
    whole_ok = candidate & (request.whole[safe] > 0) & untouched(cluster, node) & big_enough
    required = request.topology is TopologyPreference.REQUIRED
    for m in sorted(set(model[whole_ok].tolist())):
        group, need = np.flatnonzero(whole_ok & (model == m)).tolist(), int(request.whole[m])
        if len(group) >= need and (
            not required or need <= 1 or linked_subset(cluster.link[node], group, need)
        ):
            return True
    return False


def _enough_whole(cluster: Cluster, request: PlacementRequest, whole_ok: np.ndarray) -> np.ndarray:
    counts = whole_ok.sum(axis=1)
    single = cluster.node_model >= 0
    needed = request.whole[np.where(single, cluster.node_model, 0)]
    enough = single & (needed > 0) & (counts >= needed)
    for n in np.flatnonzero(~single & whole_ok.any(axis=1)):
        models = cluster.dev_model[n][whole_ok[n]]
        enough[n] = any((models == m).sum() >= request.whole[m] for m in set(models.tolist()))
    return np.asarray(enough, dtype=bool)


def whole_candidates(
    cluster: Cluster, request: PlacementRequest, fit: DeviceFit, node: int
) -> tuple[list[int], int]:
    """Slots of the model that can serve `request` whole on `node`, and how many it needs."""
    slots = np.flatnonzero(fit.whole_ok[node])
    by_model: dict[int, list[int]] = {}
    for slot in slots.tolist():
        by_model.setdefault(int(cluster.dev_model[node, slot]), []).append(slot)
    for model, group in sorted(by_model.items()):
        if len(group) >= request.whole[model]:
            return group, int(request.whole[model])
    return [], 0


def explain(cluster: Cluster, request: PlacementRequest, node: int) -> str:
    """Why `node` cannot take `request`, in terms an operator can act on."""
    if cluster.cpu_free[node] < request.cpu_milli:
        return f"needs {request.cpu_milli}m CPU; {cluster.cpu_free[node]}m free"
    if cluster.mem_free[node] < request.memory_mib:
        return f"needs {request.memory_mib}Mi memory; {cluster.mem_free[node]}Mi free"
    present = cluster.dev_model[node] >= 0
    if not present.any():
        return "has no accelerators"
    models = sorted({int(m) for m in cluster.dev_model[node][present]})
    if not any(request.allowed[m] for m in models):
        # The rule that ruled out each of the node's own models, not the whole catalog's.
        names = [cluster.models[m] for m in models]
        why = [r for r in request.reasons if r.partition(":")[0] in names]
        return "; ".join(why) or f"its models ({', '.join(names)}) cannot serve the request"
    usable = present & cluster.dev_usable[node]
    if not usable.any():
        return "every device is cordoned or unhealthy"
    model = next(m for m in models if request.allowed[m])
    if request.whole[model]:
        free = int((usable & untouched(cluster, node)).sum())
        need = f"needs {request.whole[model]} whole {cluster.models[model]} devices"
        if free >= request.whole[model] and request.topology is TopologyPreference.REQUIRED:
            return f"{need} all directly linked (hcs.io/topology: required); no such set is free"
        return f"{need}; {free} free"
    best_vram = int(cluster.dev_vram_free[node][usable].max())
    if best_vram < request.vram[model]:
        return (
            f"needs {_gib(int(request.vram[model]))} on one device; "
            f"largest free here is {_gib(best_vram)}"
        )
    best_share = int(cluster.dev_share_free[node][usable].max())
    wanted = request.share[model] / 10
    return f"needs {wanted:g}% of one device; most free here is {best_share / 10:g}%"


def _gib(value: int) -> str:
    return f"{value / 2**30:.4g}Gi"
