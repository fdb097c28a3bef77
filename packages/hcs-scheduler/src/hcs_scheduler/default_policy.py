"""HCS's default placement policy: fragmentation first, scarce models kept for those who need them.

The score of placing a request on a node is, in thousandths of a device:

    - (fragmentation increase)                 FGD: the cluster keeps fitting the expected mix
    - SCARCITY x demand x pressure(model)      do not spend a model others can only run on
    + PACKING x tier                           devices already shared (2), nodes in use (1):
                                               keeps empty nodes for multi-device requests
    + small tie-breaks: share of the node's devices in use, device health

`pressure(model)` is the share of the model's capacity that requests able to run *only* on a set
of models including it will claim: the demand that has nowhere else to go. Requests that
could run anywhere are steered away from it while it is still free; the requests constrained to
it find it. Fragmentation-only scoring sees scarcity only indirectly, which is where it is weakest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hcs_scheduler.cluster import Cluster
from hcs_scheduler.fragmentation import FragmentationIndex, WorkloadMix
from hcs_scheduler.policies import Decision, Fragmentation, Policy, Scored

SCARCITY = 1.0
"""Weight of the scarcity cost against the fragmentation increase (both in device thousandths)."""
PACKING = 300.0
IN_USE_BONUS = 1e-3
HEALTH_BONUS = 1e-4


def model_pressure(mix: WorkloadMix, cluster: Cluster) -> np.ndarray:
    """Per model: how much of its capacity the constrained part of the mix will claim.

    Over a stretch of work that fills the cluster once (capacity / mean demand requests), a
    type constrained to a set of models brings weight x demand x that many devices, spread over
    the set's capacity. Summed per model: 1.0 means the requests that can run only on sets
    including this model will, by themselves, fill it.
    """
    models = len(cluster.models)
    capacity = np.array([(cluster.dev_model == m).sum() for m in range(models)], dtype=np.float64)
    allowed = mix.allowed[:, :models]
    constrained = ~allowed.all(axis=1) & mix.needs_device
    demand = np.where(
        mix.whole[:, :models] > 0, mix.whole[:, :models], mix.threshold[:, :models] / 1000
    )
    per_type = (demand * allowed).max(axis=1) * mix.weight
    mean_demand = float(per_type.sum())
    if mean_demand <= 0:
        return np.zeros(models)
    arrivals = capacity.sum() / mean_demand
    room = (allowed * capacity[None, :]).sum(axis=1)
    claim = np.where(constrained & (room > 0), per_type * arrivals / np.maximum(room, 1), 0.0)
    return np.asarray((claim[:, None] * allowed).sum(axis=0), dtype=np.float64)


@dataclass
class HcsDefault(Policy):
    index: FragmentationIndex
    pressure: np.ndarray
    name: str = "default"
    scarcity: float = SCARCITY
    packing: float = PACKING
    """Weight (device thousandths) of placing on devices and nodes already in use."""
    pack_devices: bool = False
    """Within the chosen node, put a share on a device already in use (least free first)."""

    def share_slot(self, decision: Decision, node: int, slots: list[int]) -> int | None:
        if not self.pack_devices:
            return None
        pods = decision.cluster.dev_pods[node]
        free = decision.cluster.dev_share_free[node]
        return min(slots, key=lambda s: (pods[s] == 0, int(free[s]), s))

    def score(self, decision: Decision) -> Scored:
        fragmentation = Fragmentation(self.index).score(decision)
        cluster, nodes = decision.cluster, decision.candidates
        model = cluster.node_model[nodes]
        pressure = np.where(model >= 0, self.pressure[np.where(model >= 0, model, 0)], 0.0)
        scarcity = self.scarcity * decision.demand() * pressure * 1000
        usable = cluster.dev_usable[nodes]
        in_use = ((cluster.dev_pods[nodes] > 0) & usable).sum(axis=1) / np.maximum(
            usable.sum(axis=1), 1
        )
        health = (cluster.dev_health[nodes] * usable).sum(axis=1) / np.maximum(
            usable.sum(axis=1), 1
        )
        # Packing counts only for requests that take devices: CPU-only work packed onto busy
        # accelerator nodes strands their devices.
        shared = (decision.fit.share_ok[nodes] & (cluster.dev_pods[nodes] > 0)).any(axis=1)
        tier = np.where(shared, 2.0, np.where(in_use > 0, 1.0, 0.0)) * decision.request.needs_device
        total = (
            fragmentation.scores
            - scarcity
            + self.packing * tier
            + IN_USE_BONUS * in_use
            + HEALTH_BONUS * health
        )
        return Scored(total, fragmentation.option)
