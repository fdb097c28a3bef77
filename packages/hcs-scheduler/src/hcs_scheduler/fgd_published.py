"""FGD as its authors published it: the scoring of the paper's artifact, not HCS's exact `fgd`.

Facts read from the artifact (github.com/hkust-adsl/kubernetes-scheduler-simulator); no code
taken from it:

- `pkg/simulator/plugin/fgd_score.go`: a node's score is the integer
  `int(100 * sigmoid((F_before - F_after) / 1000))`, F in thousandths of a GPU, so many nodes
  tie. A pod sharing one GPU is scored on each GPU in index order with room for it; the node
  takes the best score and the GPU is the first (lowest index) one reaching it. Other pods
  (whole GPUs, CPU only) are scored on the one state they lead to.
- `pkg/utils/frag.go` (`NodeGpuShareFragAmount`, `GetNodePodFrag`, `CanNodeHostPodOnGpuMemory`):
  per typical pod, the node's free GPU share counts as fragmented in full unless the pod fits
  (enough GPUs with its per-GPU share free, enough CPU; memory is never looked at), in which case
  only the GPUs too small for it count. A CPU-only typical pod counts the node's whole free GPU
  share, whether it fits or not (everything but "Q3 satisfied" is summed).
- `pkg/utils/frag.go` (`GetTypicalPods`) with the configuration `pkg/simulator` sets
  (CPU pods involved, popularity threshold 95 %, step 1, no GPU weight): pods keyed on
  (CPU, GPU share per GPU, GPU count, GPU model), sorted by count (ties: the larger key first,
  `pkg/type/resource.go`), the most common kept until they cover 95 % of the pods, renormalised.
- Ties between nodes: the simulator's nodes carry a per-run random name prefix and the first
  name wins, i.e. a fixed random node order per run; here drawn from the run's rng.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from hcs_scheduler.cluster import FULL_SHARE, Cluster, Device, StateKey
from hcs_scheduler.fragmentation import WorkloadMix, placement_options
from hcs_scheduler.policies import Decision, Policy, Scored
from hcs_scheduler.request import PlacementRequest

POPULARITY_THRESHOLD = 95.0
"""Percent of pods the typical types must cover (`pkg/simulator`'s TypicalPodsConfig)."""
SCORE_SCALE = 1000.0
"""dF is divided by this before the sigmoid (`fgd_score.go`)."""
MAX_SCORE = 100
"""framework.MaxNodeScore."""

TypeKey = tuple[int, int, int, bytes]
"""(CPU milli, GPU share per GPU in thousandths, GPU count, allowed-models mask)."""


def published_score(delta: float) -> int:
    """The artifact's node score for a fragmentation increase `delta` (thousandths of a GPU)."""
    x = -delta / SCORE_SCALE
    if x < -700:  # exp overflows; the sigmoid is 0 to the last bit
        return 0
    return int(MAX_SCORE / (1.0 + math.exp(-x)))


def type_key(request: PlacementRequest) -> TypeKey:
    """The artifact's typical-pod key of a request: no memory, no VRAM. Per-model plans are
    read on the first allowed model (trace tasks have the same plan on every model)."""
    allowed = np.flatnonzero(request.allowed)
    model = int(allowed[0]) if len(allowed) else 0
    mask = request.allowed.astype(bool).tobytes()
    if not request.needs_device or not len(request.whole):
        return (request.cpu_milli, 0, 0, mask)
    whole = int(request.whole[model])
    if whole:
        return (request.cpu_milli, FULL_SHARE, whole, mask)
    return (request.cpu_milli, int(request.share[model]), 1, mask)


def typical_types(
    counts: Iterable[tuple[TypeKey, float]], threshold: float = POPULARITY_THRESHOLD
) -> list[tuple[TypeKey, float]]:
    """The most popular types covering `threshold` % of the pods, with their renormalised
    popularity; most popular first (ties: the larger key first, as the artifact sorts)."""
    merged: dict[TypeKey, float] = {}
    for key, count in counts:
        merged[key] = merged.get(key, 0.0) + count
    total = sum(merged.values())
    if total <= 0:
        return []
    # Rounded so that counts rebuilt from normalised weights tie where the counts tie.
    ranked = sorted(merged.items(), key=lambda item: (round(item[1], 9), item[0]), reverse=True)
    kept: list[tuple[TypeKey, float]] = []
    covered = 0.0
    for key, count in ranked:
        if covered >= threshold * total / 100.0:
            break
        kept.append((key, count))
        covered += count
    return [(key, count / covered) for key, count in kept]


def typical_from_requests(
    requests: Sequence[PlacementRequest], threshold: float = POPULARITY_THRESHOLD
) -> list[tuple[TypeKey, float]]:
    return typical_types(((type_key(r), 1.0) for r in requests), threshold)


def typical_from_mix(
    mix: WorkloadMix, threshold: float = POPULARITY_THRESHOLD
) -> list[tuple[TypeKey, float]]:
    """The typical types of a mix HCS built (its types keyed with memory and VRAM: merged)."""
    pairs = []
    for t in range(len(mix.weight)):
        allowed = mix.allowed[t, :-1].astype(bool)
        models = np.flatnonzero(allowed)
        model = int(models[0]) if len(models) else 0
        mask = allowed.tobytes()
        cpu = int(mix.cpu[t])
        if not mix.needs_device[t]:
            key: TypeKey = (cpu, 0, 0, mask)
        elif int(mix.whole[t, model]):
            key = (cpu, FULL_SHARE, int(mix.whole[t, model]), mask)
        else:
            key = (cpu, int(mix.threshold[t, model]), 1, mask)
        pairs.append((key, float(mix.weight[t])))
    return typical_types(pairs, threshold)


@dataclass(frozen=True)
class PublishedMeasure:
    """The artifact's fragmentation of a node state: GPU types through a memory- and VRAM-blind
    `WorkloadMix`, plus the CPU-only types' share of the whole free GPU."""

    gpu_mix: WorkloadMix
    cpu_only_weight: float

    @classmethod
    def from_types(cls, types: Sequence[tuple[TypeKey, float]], models: int) -> PublishedMeasure:
        gpu = [(k, w) for k, w in types if k[2] > 0]
        cpu_only = sum(w for k, w in types if k[2] == 0)
        width = models + 1
        rows = len(gpu)
        whole = np.zeros((rows, width), dtype=np.int32)
        threshold = np.zeros((rows, width), dtype=np.int32)
        allowed = np.zeros((rows, width), dtype=bool)
        for i, ((_, milli, count, mask), _) in enumerate(gpu):
            allowed[i, :models] = np.frombuffer(mask, dtype=bool)[:models]
            whole[i, :models] = count if milli >= FULL_SHARE else 0
            threshold[i, :models] = milli
        mix = WorkloadMix(
            cpu=np.array([k[0] for k, _ in gpu], dtype=np.int64),
            mem=np.zeros(rows, dtype=np.int64),  # the artifact's fit test ignores memory
            whole=whole,
            threshold=threshold,
            vram=np.zeros((rows, width), dtype=np.int64),  # and VRAM
            allowed=allowed,
            needs_device=np.ones(rows, dtype=bool),
            weight=np.array([w for _, w in gpu], dtype=np.float64),
        )
        return cls(mix, cpu_only)

    def values(self, keys: Sequence[StateKey]) -> np.ndarray:
        """Fragmentation of each state, thousandths of a GPU."""
        if not keys:
            return np.zeros(0)
        free = np.array(
            [sum(d[1] for d in k[2] if d[0] >= 0 and d[3]) for k in keys], dtype=np.float64
        )
        return np.asarray(self.gpu_mix.fragmentation(keys) + self.cpu_only_weight * free)


@dataclass
class _Memo:
    """Per request type: best score and the device states reaching it, by node state id."""

    score: dict[int, int] = field(default_factory=dict)
    devices: dict[int, frozenset[Device]] = field(default_factory=dict)


class PublishedFgd(Policy):
    """FGD as the artifact scores it: integer sigmoid scores, ties by a per-run node order."""

    name = "fgd-published"

    def __init__(self, measure: PublishedMeasure) -> None:
        self.measure = measure
        self._value: dict[StateKey, float] = {}
        self._memo: dict[tuple[object, ...], _Memo] = {}
        self._interner: object | None = None
        self._order_rng: np.random.Generator | None = None
        self._rank = np.zeros(0, dtype=np.int64)

    @classmethod
    def from_mix(cls, mix: WorkloadMix) -> PublishedFgd:
        """From the mix HCS built over the whole pod list (as the artifact reads all pods)."""
        models = mix.allowed.shape[1] - 1
        return cls(PublishedMeasure.from_types(typical_from_mix(mix), models))

    def node_rank(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Each node's place in this run's random order (0 first): drawn once per run (per rng
        given), like the artifact's random name prefixes drawn once per simulation."""
        if self._order_rng is not rng or len(self._rank) != size:
            self._order_rng = rng
            self._rank = np.argsort(rng.permutation(size))
        return self._rank

    def score(self, decision: Decision) -> Scored:
        cluster, nodes = decision.cluster, decision.candidates
        if cluster.interner is not self._interner:  # memos are by state id of one interner
            self._interner = cluster.interner
            self._memo.clear()
        memo = self._memo.setdefault(decision.request.key, _Memo())
        ids = cluster.state_ids[nodes].tolist()
        todo = sorted({i for i in ids if i not in memo.score})
        if todo:
            self._fill(cluster, decision.request, memo, todo)
        scores = np.array([memo.score[i] for i in ids], dtype=np.float64)
        rank = self.node_rank(decision.rng, cluster.size)[nodes]
        # Integer scores dominate; among equals the node earlier in the run's order wins.
        return Scored(scores + (cluster.size - rank) / (cluster.size + 1))

    def share_slot(self, decision: Decision, node: int, slots: list[int]) -> int | None:
        """The lowest-index device whose state reaches the node's best score."""
        memo = self._memo.get(decision.request.key)
        state = int(decision.cluster.state_ids[node])
        best = memo.devices.get(state) if memo is not None else None
        if not best:
            return None
        cluster = decision.cluster
        for slot in sorted(slots):
            device = (
                int(cluster.dev_model[node, slot]),
                int(cluster.dev_share_free[node, slot]),
                int(cluster.dev_vram_free[node, slot]),
                bool(cluster.dev_usable[node, slot]),
            )
            if device in best:
                return slot
        return None

    def _fill(
        self, cluster: Cluster, request: PlacementRequest, memo: _Memo, todo: list[int]
    ) -> None:
        keys = {i: cluster.interner.keys[i] for i in todo}
        options = {i: placement_options(keys[i], request) for i in todo}
        self._ensure([o.after for opts in options.values() for o in opts] + list(keys.values()))
        for i, opts in options.items():
            before = self._value[keys[i]]
            scored = [(published_score(self._value[o.after] - before), o.device) for o in opts]
            best = max((s for s, _ in scored), default=-1)
            memo.score[i] = best
            memo.devices[i] = frozenset(d for s, d in scored if s == best and d is not None)

    def _ensure(self, keys: Sequence[StateKey]) -> None:
        missing = list({k for k in keys if k not in self._value})
        if missing:
            self._value.update(zip(missing, self.measure.values(missing).tolist(), strict=True))
