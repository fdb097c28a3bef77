"""Workload mixes of our own, resampled from the shared openb lists.

The paper's lists move one dial at a time (sharing, multi-GPU, model constraints, CPU-only
share). A policy tuned on them can still lose on a mix they do not cover, so the benchmark also
runs a few built here: a shared list resampled (with replacement, fixed seed) so that a stated
share of its tasks is of a given kind, the rest drawn from the tasks of no named kind. The list
keeps its length, so the cluster fills about as many times over as with the source list.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from hcs_scheduler.cluster import FULL_SHARE
from hcs_scheduler.errors import InputError
from hcs_scheduler.sim.openb import TraceTask

KINDS: dict[str, Callable[[TraceTask], bool]] = {
    "multi-gpu": lambda t: t.num_gpu >= 2,
    "shared-gpu": lambda t: t.num_gpu == 1 and t.gpu_milli < FULL_SHARE,
    "constrained": lambda t: t.num_gpu > 0 and bool(t.gpu_spec),
    "cpu-only": lambda t: t.num_gpu == 0,
}
"""What a task is, for resampling; a task counts as the first kind of a mix it matches."""
MIX_SEED = 20261207
"""One fixed resampling per mix: every policy and protocol seed sees the same list."""


@dataclass(frozen=True)
class BuiltMix:
    name: str
    source: str
    """The shared pod list resampled (openb_pod_list_<source>.csv)."""
    shares: tuple[tuple[str, float], ...]
    """(kind, share of all tasks) pairs; the rest are drawn from tasks of none of these kinds."""
    why: str


BUILT: tuple[BuiltMix, ...] = (
    BuiltMix(
        "built-multigpu25",
        "default",
        (("multi-gpu", 0.25),),
        "a quarter of tasks ask for 2-8 whole GPUs (the default list has 0.9 %)",
    ),
    BuiltMix(
        "built-share70",
        "default",
        (("shared-gpu", 0.70),),
        "70 % of tasks ask for part of one GPU (38 % in the default list)",
    ),
    BuiltMix(
        "built-spec50",
        "gpuspec33",
        (("constrained", 0.50),),
        "half the tasks may run only on named GPU models (29 % in gpuspec33)",
    ),
    BuiltMix(
        "built-multispec",
        "gpuspec33",
        (("multi-gpu", 0.10), ("constrained", 0.30)),
        "10 % multi-GPU and 30 % model-constrained at once",
    ),
)
BY_NAME = {mix.name: mix for mix in BUILT}


def resample(tasks: Sequence[TraceTask], mix: BuiltMix, seed: int = MIX_SEED) -> list[TraceTask]:
    """`len(tasks)` tasks drawn with replacement so that each kind of `mix` makes up its share."""
    if sum(share for _, share in mix.shares) > 1.0:
        raise InputError(f"mix {mix.name}: shares add up to more than 1")
    buckets: dict[str, list[TraceTask]] = {kind: [] for kind, _ in mix.shares}
    rest: list[TraceTask] = []
    for task in tasks:
        kind = next((k for k in buckets if KINDS[k](task)), None)
        (buckets[kind] if kind is not None else rest).append(task)
    rng = np.random.default_rng(seed)
    total = len(tasks)
    counts = {kind: round(share * total) for kind, share in mix.shares}
    counts_rest = total - sum(counts.values())
    drawn: list[TraceTask] = []
    for kind, pool in [*buckets.items(), ("the rest", rest)]:
        wanted = counts.get(kind, counts_rest)
        if wanted and not pool:
            raise InputError(f"mix {mix.name}: {mix.source} has no {kind} task to draw from")
        if wanted:
            drawn += [pool[i] for i in rng.integers(0, len(pool), size=wanted).tolist()]
    return [drawn[i] for i in rng.permutation(len(drawn)).tolist()]
