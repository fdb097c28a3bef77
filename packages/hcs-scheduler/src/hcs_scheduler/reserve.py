"""What multi-device demand needs kept: whole idle devices, in blocks a request can use.

FGD weighs a request type by how *often* it arrives. A type asking for 8 whole devices arrives
rarely but brings 8 devices each time, and it can only use a node with 8 idle devices of an
allowed model and the host CPU and memory to go with them. FGD charges breaking such a block at
the type's task share (0.5 % on Alibaba's default list) while it is 5.8 % of the device demand.

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

from hcs_scheduler.cluster import FULL_SHARE, Cluster, StateInterner, StateKey
from hcs_scheduler.fragmentation import WorkloadMix, grown

POWER = 3
"""A block is worth pressure**POWER x its devices: almost nothing while the cluster offers
multi-device requests far more blocks than they will ask for (a block kept idle to the end is
lost), its whole size when they will claim every block left. Squared, and with every free
device counted as usable, the reserve cost 2.07 points on built-multispec (10 % multi-GPU, 30 %
model-constrained tasks; one seed); cubed, over usable devices, nothing there, and it still gains
where blocks run short (packages/hcs-scheduler/README.md)."""


class WholeDeviceReserve:
    """Reserve values (devices) of node states for the multi-device types of one mix."""

    def __init__(
        self, need: np.ndarray, cpu: np.ndarray, mem: np.ndarray, share: np.ndarray
    ) -> None:
        self.need = need
        """[type, model]: whole devices the type takes on the model (0: not there as whole
        devices). Conversions differ per model: 2 of one model may do what 4 of another do."""
        self.cpu = cpu
        self.mem = mem
        """Per type: host CPU (milli) and memory (MiB) it needs beside the devices."""
        self.share = share
        """Per type: its share of the mix's device demand (frequency x devices / mean)."""
        self._by_id: dict[int, tuple[StateInterner, np.ndarray]] = {}
        """Per interner (by identity): [state id, type] `blocks` memoised (NaN: not yet)."""
        self._pressure: tuple[tuple[int, int], np.ndarray] | None = None

    @property
    def active(self) -> bool:
        return bool(self.share.any())

    @classmethod
    def from_mix(cls, mix: WorkloadMix, models: int) -> WholeDeviceReserve:
        """The types of `mix` that take 2 or more whole devices on some model."""
        need = np.where(mix.allowed[:, :models], mix.whole[:, :models], 0)
        size = need.max(axis=1, initial=0)
        multi = np.flatnonzero(mix.needs_device & (size >= 2))
        share = mix.weight[multi] * size[multi] / mean_demand(mix, models)
        return cls(need[multi], mix.cpu[multi], mix.mem[multi], share)

    def pressure(self, cluster: Cluster, fragmented: Callable[[], float]) -> np.ndarray:
        """Per type, 0-1: the devices it will still ask for (its demand share of the free
        devices the mix can still use: free less `fragmented()`, FGD's measure, in devices)
        against those the cluster still offers it in blocks. Recomputed when the free
        capacity moves by 1 % of the cluster (cached per cluster)."""
        free = float(cluster.node_free.sum()) / FULL_SHARE
        stamp = (id(cluster), round(100 * free / cluster.device_count()))
        if self._pressure is not None and self._pressure[0] == stamp:
            return self._pressure[1]
        ids, counts = np.unique(cluster.state_ids, return_counts=True)
        offered = counts @ self.blocks_of(cluster.interner, ids)
        coming = self.share * max(free - fragmented(), 0.0)
        pressure = np.minimum(coming / np.where(offered > 0, offered, np.inf), 1.0)
        self._pressure = (stamp, pressure)
        return pressure

    def values(self, interner: StateInterner, ids: np.ndarray, pressure: np.ndarray) -> np.ndarray:
        """Reserve of each state (by id) under `pressure`, in devices."""
        return np.asarray(self.blocks_of(interner, ids) @ pressure**POWER)

    def blocks_of(self, interner: StateInterner, ids: np.ndarray) -> np.ndarray:
        """`blocks` of the states with these ids in `interner`, memoised by id."""
        table = self._by_id.get(id(interner), (interner, np.full((0, len(self.share)), np.nan)))[1]
        if len(table) < len(interner.keys):
            table = grown(table, len(interner.keys) * 2)
        self._by_id[id(interner)] = (interner, table)  # keeps the interner, so its id, alive
        rows = table[ids]
        missing = np.unique(ids[np.isnan(rows).any(axis=1)]) if rows.size else ids[:0]
        if len(missing):
            table[missing] = self.blocks([interner.keys[i] for i in missing.tolist()])
            rows = table[ids]
        return np.asarray(rows)

    def blocks(self, keys: Sequence[StateKey]) -> np.ndarray:
        """[state, type]: the idle devices each state keeps in blocks a request of the type
        can take whole (per allowed model, its count of them), for as many requests as the
        host's CPU and memory can also take."""
        if not keys:
            return np.zeros((0, len(self.share)))
        return self._count(keys)

    def _count(self, keys: Sequence[StateKey]) -> np.ndarray:
        models = self.need.shape[1]
        idle = np.zeros((len(keys), models), dtype=np.int64)
        for row, key in enumerate(keys):
            for model, free, _vram, usable in key[2]:
                if model >= 0 and usable and free == FULL_SHARE:
                    idle[row, model] += 1
        need = self.need[None]  # [1, type, model]
        requests = np.where(need > 0, idle[:, None, :] // np.maximum(need, 1), 0)
        devices = (requests * need).sum(axis=2)
        cpu = np.array([k[0] for k in keys], dtype=np.int64)
        mem = np.array([k[1] for k in keys], dtype=np.int64)
        host = np.minimum(_times(cpu, self.cpu), _times(mem, self.mem))
        # The host takes fewer requests than the devices would: keep that part of them.
        count = requests.sum(axis=2)
        kept = np.minimum(host, count) / np.maximum(count, 1)
        return np.asarray(devices * kept, dtype=np.float64)


def _times(free: np.ndarray, asked: np.ndarray) -> np.ndarray:
    """[state, type]: how many times each type's ask fits the free amount (no limit for 0)."""
    fits = free[:, None] // np.maximum(asked, 1)[None]
    return np.where(asked[None] > 0, fits, np.iinfo(np.int64).max)


def type_demand(mix: WorkloadMix, models: int) -> np.ndarray:
    """Per type of the mix: the devices it asks for (its largest plan over allowed models;
    a share counts its fraction of one device)."""
    whole = mix.whole[:, :models]
    demand = np.where(whole > 0, whole, mix.threshold[:, :models] / FULL_SHARE)
    return np.asarray((demand * mix.allowed[:, :models]).max(axis=1, initial=0), np.float64)


def mean_demand(mix: WorkloadMix, models: int) -> float:
    """Devices the mix's average request asks for; 1 for a mix asking none (no division by 0)."""
    mean = float(type_demand(mix, models) @ mix.weight)
    return mean if mean > 0 else 1.0
