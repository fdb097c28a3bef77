"""What multi-device demand needs kept: whole idle devices, in blocks a request can use.

FGD weighs a request type by how *often* it arrives. A type asking for 8 whole devices arrives
rarely but brings 8 devices each time, and it can only use a node with 8 idle devices of an
allowed model and the host CPU and memory to go with them. FGD charges breaking such a block at
the type's task share (0.5 % on Alibaba's default list) while it is 5 % of the device demand.

The reserve values a node state by the blocks it keeps for each multi-device request type of
the expected mix: how many such requests it could take at once (idle devices per allowed model
over the type's count, capped by host CPU and memory), times the type's size, times its
*pressure* to the power `POWER`. The pressure is what the type will still ask for before the
cluster is full (its share of the mix's device demand x the free devices the mix can still
use) over the devices the cluster still offers it in blocks, capped at 1. It is read from the
cluster as it is now and from the mix's own frequencies: no look-ahead at the arrival order.
The default policy charges a placement the reserve it destroys (value before - value after).

Link groups inside a node are not counted: node states carry no links, and the topology-aware
pick of a request's own devices (placement.py) handles them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from hcs_scheduler.cluster import FULL_SHARE, Cluster, StateKey
from hcs_scheduler.fragmentation import WorkloadMix

POWER = 3
"""A block is worth pressure**POWER x its devices: almost nothing while the cluster offers
multi-device requests far more blocks than they will ask for (a block kept idle to the end is
lost), its whole size when they will claim every block left. With the pressure itself (power 1)
the reserve cost 2.1 points on a mix of 10 % multi-GPU and 30 % model-constrained tasks; at 3 it
costs nothing there and still gains where blocks run short (bench/openb_compare.py)."""


class WholeDeviceReserve:
    """Reserve values (devices) of node states for the multi-device types of one mix."""

    def __init__(
        self,
        need: np.ndarray,
        allowed: np.ndarray,
        cpu: np.ndarray,
        mem: np.ndarray,
        share: np.ndarray,
    ) -> None:
        self.need = need
        """Per multi-device request type: whole devices it asks for (>= 2)."""
        self.allowed = allowed
        """[type, model]: models the type may run on."""
        self.cpu = cpu
        self.mem = mem
        """Per type: host CPU (milli) and memory (MiB) it needs beside the devices."""
        self.share = share
        """Per type: its share of the mix's device demand (frequency x devices / mean)."""
        self._blocks: dict[StateKey, np.ndarray] = {}
        self._pressure: tuple[tuple[int, int], np.ndarray] | None = None

    @property
    def active(self) -> bool:
        return bool(self.share.any())

    @classmethod
    def from_mix(cls, mix: WorkloadMix, models: int) -> WholeDeviceReserve:
        """The multi-device types of `mix` over a cluster of `models` models."""
        whole = mix.whole[:, :models]
        allowed = mix.allowed[:, :models] & (whole > 0)
        need = np.where(allowed, whole, 0).max(axis=1, initial=0)
        multi = np.flatnonzero(mix.needs_device & (need >= 2))
        share = mix.weight[multi] * need[multi] / mean_demand(mix, models)
        return cls(need[multi], allowed[multi], mix.cpu[multi], mix.mem[multi], share)

    def pressure(self, cluster: Cluster, fragmented: Callable[[], float]) -> np.ndarray:
        """Per type, 0-1: the devices it will still ask for (its demand share of the free
        devices the mix can still use: free less `fragmented()`, FGD's measure, in devices)
        against those the cluster still offers it in blocks. Recomputed when the free
        capacity moves by 1 % of the cluster (cached per cluster)."""
        free = float(cluster.node_free.sum()) / FULL_SHARE
        stamp = (id(cluster), round(100 * free / max(cluster.device_count(), 1)))
        if self._pressure is not None and self._pressure[0] == stamp:
            return self._pressure[1]
        ids, counts = np.unique(cluster.state_ids, return_counts=True)
        blocks = self.blocks([cluster.interner.keys[i] for i in ids.tolist()])
        offered = (blocks * counts[:, None]).sum(axis=0) * self.need
        coming = self.share * max(free - fragmented(), 0.0)
        pressure = np.where(offered > 0, np.minimum(coming / np.maximum(offered, 1), 1.0), 0.0)
        self._pressure = (stamp, pressure)
        return pressure

    def values(self, keys: Sequence[StateKey], pressure: np.ndarray) -> np.ndarray:
        """Reserve of each state under `pressure`, in devices."""
        return np.asarray(self.blocks(keys) @ (pressure**POWER * self.need), dtype=np.float64)

    def blocks(self, keys: Sequence[StateKey]) -> np.ndarray:
        """[state, type]: how many requests of each type the state can still take at once."""
        memo = self._blocks
        missing = [k for k in dict.fromkeys(keys) if k not in memo]
        if missing:
            memo.update(zip(missing, self._count(missing), strict=True))
        if not keys:
            return np.zeros((0, len(self.need)), dtype=np.int64)
        return np.stack([memo[k] for k in keys])

    def _count(self, keys: Sequence[StateKey]) -> np.ndarray:
        models = self.allowed.shape[1]
        idle = np.zeros((len(keys), models), dtype=np.int64)
        for row, key in enumerate(keys):
            for model, free, _vram, usable in key[2]:
                if model >= 0 and usable and free == FULL_SHARE:
                    idle[row, model] += 1
        cpu = np.array([k[0] for k in keys], dtype=np.int64)
        mem = np.array([k[1] for k in keys], dtype=np.int64)
        devices = ((idle[:, None, :] // self.need[None, :, None]) * self.allowed[None]).sum(axis=2)
        host = np.minimum(_times(cpu, self.cpu), _times(mem, self.mem))
        return np.asarray(np.minimum(devices, host), dtype=np.int64)


def _times(free: np.ndarray, asked: np.ndarray) -> np.ndarray:
    """[state, type]: how many times each type's ask fits the free amount (no limit for 0)."""
    fits = free[:, None] // np.maximum(asked, 1)[None]
    return np.where(asked[None] > 0, fits, np.iinfo(np.int64).max)


def mean_demand(mix: WorkloadMix, models: int) -> float:
    """Devices the mix's average request asks for (its largest plan over allowed models)."""
    whole = mix.whole[:, :models]
    demand = np.where(whole > 0, whole, mix.threshold[:, :models] / FULL_SHARE)
    per_type = (demand * mix.allowed[:, :models]).max(axis=1, initial=0) * mix.needs_device
    mean = float((per_type * mix.weight).sum())
    return mean if mean > 0 else 1.0
