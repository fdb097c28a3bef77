"""Fragmentation of a node against the expected request mix (the FGD measure), and its change.

Following Weng et al., "Beware of Fragmentation" (USENIX ATC 2023): for a request type t, the
free compute of a node is *fragmented* when t cannot use it: all of it when t does not fit the
node at all (host resources, model, device count), otherwise the free share of every device
that cannot host t. A node's fragmentation is the expectation over the mix of request types
(their popularity p_t). Placing a request changes one node's state; the best placement is the
one that raises the cluster's fragmentation least (fragmentation gradient descent).

Node states repeat across nodes and over time, so fragmentation is memoised per state key
(`Cluster.state_keys`) and computed for many states at once with numpy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import numpy as np

from hcs_scheduler.cluster import FULL_SHARE, Cluster, Device, StateInterner, StateKey
from hcs_scheduler.request import PlacementRequest

_MEMO_LIMIT = 2_000_000


@dataclass(frozen=True)
class WorkloadMix:
    """Request types and their popularity, as arrays over types x (models + one padding column)."""

    cpu: np.ndarray
    mem: np.ndarray
    whole: np.ndarray
    threshold: np.ndarray
    """Free share a device needs to host the type (its share, or all of it for whole devices)."""
    vram: np.ndarray
    allowed: np.ndarray
    needs_device: np.ndarray
    weight: np.ndarray

    @cached_property
    def _shapes(self) -> tuple[np.ndarray, ...]:
        """Types grouped by *device shape* (everything but host CPU and memory): each type's
        shape, then the shapes' whole, threshold, VRAM, allowed and needs-device rows. The
        per-device work of `fragmentation` is done once per shape, not once per type."""
        rows = np.concatenate(
            [self.whole, self.threshold, self.vram, self.allowed, self.needs_device[:, None]],
            axis=1,
        ).astype(np.int64)
        _, first, shape_of = np.unique(rows, axis=0, return_index=True, return_inverse=True)
        return (
            shape_of.reshape(-1),
            self.whole[first],
            self.threshold[first],
            self.vram[first],
            self.allowed[first],
            self.needs_device[first],
        )

    @classmethod
    def from_requests(cls, requests: Sequence[PlacementRequest]) -> WorkloadMix:
        """The mix of `requests`: each distinct request is a type, repeats raise its popularity."""
        counts: dict[tuple[object, ...], int] = {}
        types: dict[tuple[object, ...], PlacementRequest] = {}
        for request in requests:
            counts[request.key] = counts.get(request.key, 0) + 1
            types.setdefault(request.key, request)
        chosen = list(types.values())
        weight = np.array([counts[t.key] for t in chosen], dtype=np.float64)
        whole = _padded([t.whole for t in chosen], 0)
        return cls(
            cpu=np.array([t.cpu_milli for t in chosen], dtype=np.int64),
            mem=np.array([t.memory_mib for t in chosen], dtype=np.int64),
            whole=whole,
            threshold=np.where(whole > 0, FULL_SHARE, _padded([t.share for t in chosen], 0)),
            vram=_padded([t.vram for t in chosen], 0),
            allowed=_padded([t.allowed for t in chosen], False),
            needs_device=np.array([t.needs_device for t in chosen], dtype=bool),
            weight=weight / weight.sum() if len(chosen) else weight,
        )

    def fragmentation(self, keys: Sequence[StateKey]) -> np.ndarray:
        """Expected fragmented free share of each state, in thousandths of a device."""
        return self.fragments(keys)[0]

    def fragments(self, keys: Sequence[StateKey]) -> tuple[np.ndarray, np.ndarray]:
        """Per state: the expected fragmented free share (thousandths of a device), and the
        expected free host CPU (milli) no request can use there: all of it for a type that
        does not fit the node, none for one that does. The second is FGD's measure on the CPU
        axis: a CPU-only task that leaves a node 2 cores where every type needs 4 or more
        strands them as surely as a share leaves a sliver of a device."""
        if not len(self.weight):
            return np.zeros(len(keys)), np.zeros(len(keys))
        cpu = np.array([k[0] for k in keys], dtype=np.int64)
        mem = np.array([k[1] for k in keys], dtype=np.int64)
        devices = np.array([k[2] for k in keys], dtype=np.int64).reshape(len(keys), -1, 4)
        model, free, vram, usable = (devices[..., i] for i in range(4))
        present = (model >= 0) & (usable > 0)
        column = np.where(model >= 0, model, self.allowed.shape[1] - 1)
        # Per device shape (rows of the first type of each shape), over states x slots.
        shape_of, whole_s, threshold_s, vram_s, allowed_s, needs_s = self._shapes
        allowed, need_vram = allowed_s[:, column], vram_s[:, column]
        threshold, whole = threshold_s[:, column], whole_s[:, column]
        can_host = allowed & present[None] & (vram[None] >= need_vram) & (free[None] >= threshold)
        total = (free * present).sum(axis=1)
        stranded = (free[None] * (present[None] & ~can_host)).sum(axis=2)
        share_fit = (can_host & (whole == 0)).any(axis=2)
        need = whole.max(axis=2, initial=0)  # a state without device slots needs none
        whole_fit = (need > 0) & ((can_host & (whole > 0)).sum(axis=2) >= need)
        device_fit = np.where(needs_s[:, None], share_fit | whole_fit, True)
        # Back to types: a type fits where its shape fits and its host resources do.
        host_fit = (cpu[None] >= self.cpu[:, None]) & (mem[None] >= self.mem[:, None])
        fits = host_fit & device_fit[shape_of]
        fragmented = np.where(fits, stranded[shape_of], total[None])
        cpu_unused = np.where(fits, 0, cpu[None])
        return (
            np.asarray(self.weight @ fragmented, dtype=np.float64),
            np.asarray(self.weight @ cpu_unused, dtype=np.float64),
        )


class Option(NamedTuple):
    """One way to place a request on a node in a given state, and the state it leads to."""

    device: Device | None
    """The device taken for a share (its state before), or None."""
    whole_model: int | None
    """The model whose whole devices are taken, or None."""
    after: StateKey


class FragmentationIndex:
    """Memoised fragmentation of node states and of the best placement from each state."""

    def __init__(self, mix: WorkloadMix, interner: StateInterner) -> None:
        self.mix = mix
        self.interner = interner
        self._value: dict[StateKey, float] = {}
        self._cpu: dict[StateKey, float] = {}
        """Per state: host CPU no request can use there (`WorkloadMix.fragments`), milli."""
        self._types: dict[tuple[object, ...], int] = {}
        # Per request type: best fragmentation increase by node state id (NaN: not computed
        # yet) and the placement achieving it. Ids only grow, so lookups are array gathers.
        self._deltas: dict[int, np.ndarray] = {}
        self._options: dict[int, dict[int, Option]] = {}
        # Per request type, by node state id: the change of unusable host CPU that placement
        # causes, and the id in `after_states` of the state it leads to (filled with deltas).
        self._cpu_deltas: dict[int, np.ndarray] = {}
        self._after: dict[int, np.ndarray] = {}
        self.after_states = StateInterner()
        """The states placements would lead to: apart from the clusters' interner, whose ids
        size every table here, and which these (mostly never reached) states would swell."""

    def values(self, keys: Sequence[StateKey]) -> list[float]:
        self._ensure(keys)
        return [self._value[k] for k in keys]

    def _ensure(self, keys: Sequence[StateKey]) -> None:
        """Compute (in one batch) the fragmentation of every key not memoised yet."""
        value = self._value
        missing = list({k for k in keys if k not in value})
        if not missing:
            return
        if len(value) > _MEMO_LIMIT:
            value.clear()  # and every key asked now is computed again, not only the missing
            self._cpu.clear()
            missing = list(dict.fromkeys(keys))
        # Rounded: BLAS may sum a batch in another order than a single state, and the
        # last bits must not break ties differently from one run to the next.
        devices, cpu = (np.round(part, 6).tolist() for part in self.mix.fragments(missing))
        value.update(zip(missing, devices, strict=True))
        self._cpu.update(zip(missing, cpu, strict=True))

    def cluster_fragmentation(self, cluster: Cluster) -> float:
        """Expected fragmented share summed over the cluster's nodes, thousandths of a device."""
        ids, counts = np.unique(cluster.state_ids, return_counts=True)
        values = self.values([cluster.interner.keys[i] for i in ids.tolist()])
        return float(np.dot(values, counts))

    def best(
        self, cluster: Cluster, nodes: np.ndarray, request: PlacementRequest
    ) -> tuple[np.ndarray, Callable[[int], Option]]:
        """Per node: the smallest fragmentation increase a placement of `request` causes there,
        and a function giving the placement that causes it (by position in `nodes`)."""
        if cluster.interner is not self.interner:
            raise ValueError("the cluster was built with another state interner than this index")
        kind = self._types.setdefault(request.key, len(self._types))
        table = self._deltas.setdefault(kind, np.full(0, np.nan))
        ids = cluster.state_ids[nodes]
        if len(table) < len(self.interner.keys):
            size = max(len(self.interner.keys), 2 * len(table))
            table = self._deltas[kind] = grown(table, size)
            self._cpu_deltas[kind] = grown(self._cpu_deltas.get(kind, table[:0]), size)
            self._after[kind] = grown(self._after.get(kind, table[:0]), size)
        deltas = table[ids]
        unknown = np.isnan(deltas)
        if unknown.any():
            self._fill(cluster, kind, table, np.unique(ids[unknown]).tolist(), request)
            deltas = table[ids]
        options = self._options[kind]
        return deltas, lambda position: options[int(ids[position])]

    def cpu_change(
        self, cluster: Cluster, nodes: np.ndarray, request: PlacementRequest
    ) -> np.ndarray:
        """Per node: the change of host CPU no request can use (milli) that the placement
        `best` chose there causes. Call `best` for the same nodes and request first."""
        kind = self._types[request.key]
        return np.asarray(self._cpu_deltas[kind][cluster.state_ids[nodes]])

    def after_ids(self, states: np.ndarray, request: PlacementRequest) -> np.ndarray:
        """Per state id in `states`: the id in `after_states` of the state the placement
        `best` chose from it leads to. Call `best` for nodes in those states first."""
        kind = self._types[request.key]
        return np.asarray(self._after[kind][states], dtype=np.int64)

    def _fill(
        self,
        cluster: Cluster,
        kind: int,
        table: np.ndarray,
        todo: list[int],
        request: PlacementRequest,
    ) -> None:
        keys = {i: self.interner.keys[i] for i in todo}
        options = {i: placement_options(keys[i], request) for i in todo}
        self._ensure([o.after for opts in options.values() for o in opts] + list(keys.values()))
        chosen = self._options.setdefault(kind, {})
        cpu, after = self._cpu_deltas[kind], self._after[kind]
        for i, opts in options.items():
            before = self._value[keys[i]]
            if not opts:  # cannot happen for a node that fits; never chosen if it does
                table[i] = np.inf
                continue
            delta, option = min(
                ((self._value[o.after] - before, o) for o in opts), key=lambda item: item[0]
            )
            table[i] = delta
            cpu[i] = self._cpu[option.after] - self._cpu[keys[i]]
            after[i] = self.after_states.intern(option.after)
            chosen[i] = option


def grown(table: np.ndarray, size: int) -> np.ndarray:
    """`table` extended with NaN rows (not computed yet) to `size` rows: the memo tables kept
    by state id grow with their interner."""
    bigger = np.full((size, *table.shape[1:]), np.nan)
    bigger[: len(table)] = table
    return bigger


def placement_options(key: StateKey, request: PlacementRequest) -> list[Option]:
    """Every distinct way `request` fits a node in state `key` (empty when it does not)."""
    cpu, mem, devices = int(key[0]), int(key[1]), key[2]
    if cpu < request.cpu_milli or mem < request.memory_mib:
        return []
    host = (cpu - request.cpu_milli, mem - request.memory_mib)
    if not request.needs_device:
        return [Option(None, None, (*host, devices))]
    allowed, whole, share, need_vram = request.plan_lists
    options: list[Option] = []
    for device in dict.fromkeys(devices):  # distinct device states, in order
        model, free, vram, usable = device
        if model < 0 or not usable or not allowed[model] or whole[model]:
            continue
        if free >= share[model] and vram >= need_vram[model]:
            taken = (model, free - share[model], vram - need_vram[model], usable)
            options.append(Option(device, None, (*host, _replace(devices, device, taken, 1))))
    for model in {d[0] for d in devices if d[0] >= 0}:
        need = whole[model]
        if not need or not allowed[model]:
            continue
        free_whole = [
            d
            for d in devices
            if d[0] == model and d[1] == FULL_SHARE and d[3] and d[2] >= need_vram[model]
        ]
        if len(free_whole) >= need:
            device = max(free_whole)
            taken = (model, 0, device[2] - need_vram[model], True)
            options.append(Option(None, model, (*host, _replace(devices, device, taken, need))))
    return options


def _padded(rows: list[np.ndarray], fill: object) -> np.ndarray:
    """Rows stacked with one extra column (the slot without a device) set to `fill`."""
    stacked = np.stack(rows)
    return np.concatenate([stacked, np.full((len(rows), 1), fill, dtype=stacked.dtype)], axis=1)


def _replace(
    devices: tuple[Device, ...], old: Device, new: Device, count: int
) -> tuple[Device, ...]:
    out = list(devices)
    for _ in range(count):
        out.remove(old)
        out.append(new)
    return tuple(sorted(out, reverse=True))
