"""The cluster snapshot the placement core decides over.

Every node's devices and free capacity live in numpy arrays (nodes x device slots), so that one
decision checks and scores thousands of nodes with a few vectorised operations. Each node also
keeps a *state key* (its free host resources and the sorted state of its devices), interned to
an integer id: nodes in the same state are interchangeable for every policy that looks only at
capacity, which lets the fragmentation policy evaluate each distinct state once, not each node.

The snapshot is plain data. `allocate` and `release` are the only mutations; the simulator and
the extender's cache call them, placement functions never do.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

FULL_SHARE = 1000
"""A device's whole compute share, in thousandths (the unit of Alibaba's gpu_milli)."""

Device = tuple[int, int, int, bool]
"""(model, free share, free VRAM, usable): one device in a state key."""
StateKey = tuple[int, int, tuple[Device, ...]]
"""(free CPU, free memory, devices sorted): what makes two nodes interchangeable."""

UNLIMITED = np.iinfo(np.int64).max // 4
"""Host CPU/memory of a node whose host resources HCS does not account (kube-scheduler does)."""


@dataclass(frozen=True)
class DeviceSpec:
    """One device as the snapshot needs it."""

    id: str
    """From a ComputeNode, its `<vendor>-<index>`; synthetic clusters may use bare indexes."""
    model: str
    vendor: str
    vram: int
    """Bytes."""
    health: int = 100
    cordoned: bool = False
    numa_node: int | None = None


@dataclass(frozen=True)
class NodeSpec:
    """One node: host resources, devices and the link quality between them (0-100)."""

    name: str
    devices: tuple[DeviceSpec, ...]
    cpu_milli: int = UNLIMITED
    memory_mib: int = UNLIMITED
    link_quality: tuple[tuple[int, ...], ...] = ()
    """Square matrix over `devices`; empty means unknown (treated as the weakest PCIe path)."""


@dataclass(frozen=True)
class Allocation:
    """What one placement took: node, devices (slot indices) and the amounts per device."""

    node: int
    devices: tuple[int, ...]
    share: int
    """Compute share per device, thousandths."""
    vram: int
    """Bytes per device."""
    cpu_milli: int = 0
    memory_mib: int = 0


HEALTH_FLOOR = 50
"""A device below this health score gets no new work, like a cordoned one."""


class StateInterner:
    """Node state keys to small integer ids, and back. Ids only grow.

    Memos keyed by state id (the fragmentation index) are valid for every cluster built with
    the same interner, and only for those.
    """

    def __init__(self) -> None:
        self.keys: list[StateKey] = []
        self._ids: dict[StateKey, int] = {}

    def intern(self, key: StateKey) -> int:
        found = self._ids.get(key)
        if found is None:
            found = self._ids[key] = len(self.keys)
            self.keys.append(key)
        return found


@dataclass
class Cluster:
    """Mutable snapshot: arrays indexed [node] and [node, slot]."""

    nodes: list[NodeSpec]
    models: list[str]
    """Model names; `dev_model` holds indices into this list."""
    vendors: list[str]
    """Vendor of each model, by model index."""
    dev_model: np.ndarray
    dev_share_free: np.ndarray
    dev_vram_total: np.ndarray
    dev_vram_free: np.ndarray
    dev_usable: np.ndarray
    dev_health: np.ndarray
    dev_pods: np.ndarray
    cpu_total: np.ndarray
    cpu_free: np.ndarray
    mem_total: np.ndarray
    mem_free: np.ndarray
    link: np.ndarray
    """[node, slot, slot] link quality 0-100."""
    node_model: np.ndarray
    """The node's single model index; MIXED_MODELS (-1) or NO_DEVICES (-2) otherwise."""
    share_counts: list[Counter[int]] = field(default_factory=list)
    """Per node: how many placements of each per-device share it holds (GPU clustering)."""
    node_free: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Per node: free share summed over usable devices (thousandths), kept up to date."""
    node_in_use: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Per node: usable devices holding at least one placement."""
    node_usable: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    node_health: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    """Per node: mean health of its usable devices."""
    state_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Per node: the id of its state key (equal ids, interchangeable nodes)."""
    interner: StateInterner = field(default_factory=lambda: StateInterner())
    """Gives state keys their ids; clusters sharing a fragmentation index share one."""

    @property
    def size(self) -> int:
        return len(self.nodes)

    @property
    def slots(self) -> int:
        return int(self.dev_model.shape[1])

    def take(self, rows: Sequence[int]) -> Cluster:
        """The sub-snapshot of the nodes at `rows` (copies; state ids from the same interner)."""
        index = np.asarray(rows, dtype=np.int64)
        return Cluster(
            nodes=[self.nodes[r] for r in rows],
            models=self.models,
            vendors=self.vendors,
            dev_model=self.dev_model[index],
            dev_share_free=self.dev_share_free[index],
            dev_vram_total=self.dev_vram_total[index],
            dev_vram_free=self.dev_vram_free[index],
            dev_usable=self.dev_usable[index],
            dev_health=self.dev_health[index],
            dev_pods=self.dev_pods[index],
            cpu_total=self.cpu_total[index],
            cpu_free=self.cpu_free[index],
            mem_total=self.mem_total[index],
            mem_free=self.mem_free[index],
            link=self.link[index],
            node_model=self.node_model[index],
            share_counts=[self.share_counts[r].copy() for r in rows],
            node_free=self.node_free[index],
            node_in_use=self.node_in_use[index],
            node_usable=self.node_usable[index],
            node_health=self.node_health[index],
            state_ids=self.state_ids[index],
            interner=self.interner,
        )

    def model_index(self, name: str) -> int:
        return self.models.index(name)

    def device_count(self) -> int:
        return int((self.dev_model >= 0).sum())

    def allocate(self, allocation: Allocation) -> None:
        self._apply(allocation, sign=-1)

    def release(self, allocation: Allocation) -> None:
        self._apply(allocation, sign=+1)

    def _apply(self, allocation: Allocation, sign: int) -> None:
        n = allocation.node
        share_free, vram_free, pods = (
            self.dev_share_free[n],
            self.dev_vram_free[n],
            self.dev_pods[n],
        )
        overcommitted = False
        for slot in allocation.devices:  # a handful of slots: scalar updates beat fancy indexing
            share = int(share_free[slot]) + sign * allocation.share
            vram = int(vram_free[slot]) + sign * allocation.vram
            share_free[slot], vram_free[slot] = share, vram
            pods[slot] -= sign
            overcommitted = overcommitted or share < 0 or vram < 0
        if allocation.devices:
            self.share_counts[n][allocation.share] -= sign
        self.cpu_free[n] += sign * allocation.cpu_milli
        self.mem_free[n] += sign * allocation.memory_mib
        if overcommitted or self.cpu_free[n] < 0 or self.mem_free[n] < 0:
            self._apply(allocation, -sign)  # undo: a refused allocation changes nothing
            raise ValueError(f"allocation {allocation} overcommits node {self.nodes[n].name}")
        self._refresh_node(n)

    def _refresh_node(self, n: int) -> None:
        key = self._state_key(n)
        self.node_free[n] = sum(free for _, free, _, usable in key[2] if usable)
        self.node_in_use[n] = int(((self.dev_pods[n] > 0) & self.dev_usable[n]).sum())
        self.state_ids[n] = self._intern(key)

    def state_key(self, n: int) -> StateKey:
        return self.interner.keys[int(self.state_ids[n])]

    def _intern(self, key: StateKey) -> int:
        return self.interner.intern(key)

    def _state_key(self, n: int) -> StateKey:
        devices: list[Device] = sorted(
            zip(
                self.dev_model[n].tolist(),
                self.dev_share_free[n].tolist(),
                self.dev_vram_free[n].tolist(),
                self.dev_usable[n].tolist(),
                strict=True,
            ),
            reverse=True,
        )
        return (int(self.cpu_free[n]), int(self.mem_free[n]), tuple(devices))

    def refresh_state_keys(self) -> None:
        """Recompute every per-node summary (after building, or after health changes)."""
        usable = self.dev_usable
        self.node_usable = usable.sum(axis=1).astype(np.int64)
        self.node_health = (self.dev_health * usable).sum(axis=1) / np.maximum(self.node_usable, 1)
        self.node_free = (self.dev_share_free * usable).sum(axis=1).astype(np.int64)
        self.node_in_use = ((self.dev_pods > 0) & usable).sum(axis=1).astype(np.int64)
        self.state_ids = np.array(
            [self._intern(self._state_key(n)) for n in range(self.size)], dtype=np.int64
        )


def build_cluster(nodes: Sequence[NodeSpec], interner: StateInterner | None = None) -> Cluster:
    """A snapshot of `nodes` with nothing allocated (state ids from `interner`, if given)."""
    models = sorted({d.model for node in nodes for d in node.devices})
    vendor_of = {d.model: d.vendor for node in nodes for d in node.devices}
    index = {m: i for i, m in enumerate(models)}
    size, slots = len(nodes), max((len(node.devices) for node in nodes), default=0)
    dev_model = np.full((size, slots), -1, dtype=np.int32)
    share = np.zeros((size, slots), dtype=np.int32)
    vram = np.zeros((size, slots), dtype=np.int64)
    usable = np.zeros((size, slots), dtype=bool)
    health = np.zeros((size, slots), dtype=np.int32)
    link = np.zeros((size, slots, slots), dtype=np.int16)
    for n, node in enumerate(nodes):
        for s, device in enumerate(node.devices):
            dev_model[n, s] = index[device.model]
            share[n, s] = FULL_SHARE
            vram[n, s] = device.vram
            health[n, s] = device.health
            usable[n, s] = not device.cordoned and device.health >= HEALTH_FLOOR
        count = len(node.devices)
        if node.link_quality:
            link[n, :count, :count] = np.asarray(node.link_quality, dtype=np.int16)
    node_model = np.array([_single_model(dev_model[n]) for n in range(size)], dtype=np.int32)
    cluster = Cluster(
        nodes=list(nodes),
        models=models,
        vendors=[vendor_of[m] for m in models],
        dev_model=dev_model,
        dev_share_free=share,
        dev_vram_total=vram.copy(),
        dev_vram_free=vram,
        dev_usable=usable,
        dev_health=health,
        dev_pods=np.zeros((size, slots), dtype=np.int32),
        cpu_total=np.array([node.cpu_milli for node in nodes], dtype=np.int64),
        cpu_free=np.array([node.cpu_milli for node in nodes], dtype=np.int64),
        mem_total=np.array([node.memory_mib for node in nodes], dtype=np.int64),
        mem_free=np.array([node.memory_mib for node in nodes], dtype=np.int64),
        link=link,
        node_model=node_model,
        share_counts=[Counter() for _ in nodes],
        interner=interner if interner is not None else StateInterner(),
    )
    cluster.refresh_state_keys()
    return cluster


MIXED_MODELS = -1
NO_DEVICES = -2


def _single_model(row: np.ndarray) -> int:
    present = set(row[row >= 0].tolist())
    if not present:
        return NO_DEVICES
    return present.pop() if len(present) == 1 else MIXED_MODELS
