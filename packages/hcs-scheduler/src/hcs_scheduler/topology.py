"""Vendor-neutral link quality and the choice of devices inside one node.

Every path between two devices gets a quality 0-100: a direct device link (NVLink, HCCS, xGMI,
MLU-Link) is best, then PCIe by how far apart the devices sit (same switch, several switches,
host bridge, same NUMA node, across NUMA nodes). A multi-device request takes the subset with
the largest summed quality; a single device is taken where it breaks the fewest good links, so
well-connected groups stay free for the requests that need them.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from functools import cache

import numpy as np

from hcs_api.v1alpha1 import ComputeNodeSpec, LinkType, PcieScope

DIRECT_LINK = 100
PCIE_QUALITY = {
    PcieScope.SWITCH: 60,
    PcieScope.MULTI_SWITCH: 50,
    PcieScope.HOST_BRIDGE: 40,
    PcieScope.NUMA: 30,
    PcieScope.SYSTEM: 10,
}
SAME_NUMA = 30
"""No link reported, both devices on the same NUMA node: the PCIe path stays inside it."""
UNKNOWN = 10
"""No link reported and no NUMA information: assume the worst PCIe path."""

_EXACT_LIMIT = 16
"""Up to this many free devices, every subset is scored; beyond it, a greedy choice."""


def link_matrix(spec: ComputeNodeSpec) -> tuple[tuple[int, ...], ...]:
    """Quality of the best path between every pair of the node's devices."""
    index = {device.id: i for i, device in enumerate(spec.devices)}
    size = len(spec.devices)
    quality = np.zeros((size, size), dtype=np.int16)
    for i, a in enumerate(spec.devices):
        for j, b in enumerate(spec.devices):
            if i != j:
                same = a.numa_node is not None and a.numa_node == b.numa_node
                quality[i, j] = SAME_NUMA if same else UNKNOWN
    for i, device in enumerate(spec.devices):
        for link in device.links:
            if link.type is LinkType.ROCE:
                continue
            value = (
                PCIE_QUALITY.get(link.pcie_scope, UNKNOWN)
                if link.type is LinkType.PCIE and link.pcie_scope
                else UNKNOWN
                if link.type is LinkType.PCIE
                else DIRECT_LINK
            )
            for peer in link.peers:
                j = index[peer]
                quality[i, j] = quality[j, i] = max(quality[i, j], value)
    return tuple(tuple(int(v) for v in row) for row in quality)


def best_subset(quality: np.ndarray, candidates: Sequence[int], k: int) -> tuple[int, ...]:
    """The k candidates with the largest summed pairwise quality (ties: lowest slots)."""
    candidates = sorted(candidates)
    if k >= len(candidates):
        return tuple(candidates)
    if k == 1:
        return (isolated_first(quality, candidates)[0],)
    sub = quality[np.ix_(candidates, candidates)].astype(np.int64)
    if len(candidates) <= _EXACT_LIMIT:
        combos = _combinations(len(candidates), k)
        totals = (sub[combos[:, :, None], combos[:, None, :]]).sum(axis=(1, 2))
        best = combos[int(np.argmax(totals))]
    else:
        best = _greedy(sub, k)
    return tuple(candidates[i] for i in sorted(best.tolist()))


def linked_subset(quality: np.ndarray, candidates: Sequence[int], k: int) -> tuple[int, ...] | None:
    """The k candidates every pair of which is directly linked (hcs.io/topology: required),
    with the largest summed quality (ties: lowest slots); None if no such set exists."""
    candidates = sorted(candidates)
    if len(candidates) < k:
        return None
    if k <= 1:
        return best_subset(quality, candidates, k)
    sub = quality[np.ix_(candidates, candidates)].astype(np.int64)
    direct = sub >= DIRECT_LINK
    np.fill_diagonal(direct, True)
    if len(candidates) <= _EXACT_LIMIT:
        combos = _combinations(len(candidates), k)
        linked = direct[combos[:, :, None], combos[:, None, :]].all(axis=(1, 2))
        if not linked.any():
            return None
        totals = sub[combos[:, :, None], combos[:, None, :]].sum(axis=(1, 2))
        best = combos[int(np.argmax(np.where(linked, totals, -1)))]
    else:
        best = _greedy(np.where(direct, sub, -(10**9)), k)
        if not direct[np.ix_(best, best)].all():
            return None  # the greedy choice found none; beyond _EXACT_LIMIT that is the answer
    return tuple(candidates[i] for i in sorted(best.tolist()))


def isolated_first(quality: np.ndarray, candidates: Sequence[int]) -> list[int]:
    """Candidates ordered by how little they connect to the other candidates (ties: lowest slot).

    Taking the least connected device for a single-device request keeps the strongly linked
    groups whole for multi-device requests.
    """
    candidates = sorted(candidates)
    if len(candidates) <= 1:
        return list(candidates)
    sub = quality[np.ix_(candidates, candidates)].astype(np.int64)
    connectivity = sub.sum(axis=1)
    order = sorted(range(len(candidates)), key=lambda i: (int(connectivity[i]), candidates[i]))
    return [candidates[i] for i in order]


def subset_quality(quality: np.ndarray, devices: Sequence[int]) -> int:
    """Summed pairwise quality of a chosen set (each pair once)."""
    chosen = list(devices)
    return int(quality[np.ix_(chosen, chosen)].astype(np.int64).sum() // 2)


@cache
def _combinations(n: int, k: int) -> np.ndarray:
    return np.array(list(itertools.combinations(range(n), k)), dtype=np.int64)


def _greedy(sub: np.ndarray, k: int) -> np.ndarray:
    first, second = np.unravel_index(int(np.argmax(sub)), sub.shape)
    chosen = [int(first), int(second)]
    while len(chosen) < k:
        gain = sub[:, chosen].sum(axis=1)
        gain[chosen] = np.iinfo(np.int64).min  # never chosen twice, whatever the others score
        chosen.append(int(np.argmax(gain)))
    return np.array(chosen, dtype=np.int64)
