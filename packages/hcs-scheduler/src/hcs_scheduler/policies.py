"""Placement policies: each scores the nodes that fit a request, higher is better.

HCS's own policies (default, fgd, binpack, spread, health) and the baselines of the FGD paper's
evaluation, written from their published descriptions (Weng et al., USENIX ATC 2023, section 6):
random-fit, best-fit, GPU packing, GPU clustering and dot-product. Policies compose:
"fgd:1,health:0.2" is the weighted sum of their scores, each first normalised to 0-100 over
the candidate nodes (`normalise`), which is also the 0-100 node score HCS reports.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from hcs_scheduler.cluster import FULL_SHARE, MIXED_MODELS, UNLIMITED, Cluster
from hcs_scheduler.fit import DeviceFit
from hcs_scheduler.fragmentation import FragmentationIndex, Option
from hcs_scheduler.request import PlacementRequest

BEST_FIT_CPU_SCALE = 128_000
"""Best-fit weighs free CPU per 128 cores and free devices per 8 (one large node each)."""
BEST_FIT_DEVICE_SCALE = 8


@dataclass
class Decision:
    """Everything a policy may look at for one request."""

    cluster: Cluster
    request: PlacementRequest
    fit: DeviceFit
    candidates: np.ndarray
    """Indices of the nodes that fit, ascending."""
    rng: np.random.Generator

    @cached_property
    def model(self) -> np.ndarray:
        """The model each candidate serves the request with: its only one, or on a node mixing
        models the model of its first fitting device; negative on a node without devices."""
        model: np.ndarray = self.cluster.node_model[self.candidates].copy()
        mixed = np.flatnonzero(model == MIXED_MODELS)
        if len(mixed):
            nodes = self.candidates[mixed]
            fitting = self.fit.share_ok[nodes] | self.fit.whole_ok[nodes]
            model[mixed] = self.cluster.dev_model[nodes, np.argmax(fitting, axis=1)]
        return model

    @cached_property
    def demand(self) -> np.ndarray:
        """Devices (fractional for a share) the request takes on each candidate."""
        safe = np.maximum(self.model, 0)
        whole = self.request.whole[safe]
        demand = np.where(whole > 0, whole, self.request.share[safe] / FULL_SHARE)
        return np.asarray(demand, dtype=np.float64)

    @cached_property
    def free_devices(self) -> np.ndarray:
        """Free compute of each candidate, in devices."""
        return np.asarray(self.cluster.node_free[self.candidates] / FULL_SHARE, dtype=np.float64)


@dataclass
class Scored:
    scores: np.ndarray
    """Per candidate, higher is better."""
    option: Callable[[int], Option] | None = None
    """The placement the policy chose at a candidate position (the fragmentation policies)."""


class Policy(abc.ABC):
    """Scores the candidate nodes of a decision; may also pick the device for a share."""

    name = "policy"

    @abc.abstractmethod
    def score(self, decision: Decision) -> Scored:
        """Per candidate node of `decision`, higher is better."""

    def share_slot(self, decision: Decision, node: int, slots: list[int]) -> int | None:
        """Which device takes a share on `node` (None: the placement default, best fit)."""
        return None


class RandomFit(Policy):
    """Any node that fits, uniformly at random."""

    name = "random-fit"

    def score(self, decision: Decision) -> Scored:
        return Scored(decision.rng.random(len(decision.candidates)))

    def share_slot(self, decision: Decision, node: int, slots: list[int]) -> int | None:
        return int(decision.rng.choice(slots))


class BestFit(Policy):
    """The node left with the least free resource: free CPU / 128 cores + free devices / 8."""

    name = "best-fit"

    def score(self, decision: Decision) -> Scored:
        cluster, nodes = decision.cluster, decision.candidates
        cpu_after = (cluster.cpu_free[nodes] - decision.request.cpu_milli).astype(np.float64)
        cpu_term = np.where(
            cluster.cpu_total[nodes] >= UNLIMITED, 0.0, cpu_after / BEST_FIT_CPU_SCALE
        )
        devices_after = decision.free_devices - decision.demand
        return Scored(-(cpu_term + devices_after / BEST_FIT_DEVICE_SCALE))


class DotProduct(Policy):
    """The node whose free (CPU, memory, devices), normalised by its capacity, has the smallest
    dot product with the request's demand: the alignment score of Tetris as the FGD paper
    evaluates it, which packs requests onto nodes they use up."""

    name = "dot-product"

    def score(self, decision: Decision) -> Scored:
        cluster, nodes, request = decision.cluster, decision.candidates, decision.request
        capacity = np.maximum((cluster.dev_model[nodes] >= 0).sum(axis=1), 1)
        limited_cpu = cluster.cpu_total[nodes] < UNLIMITED
        cpu_total = np.where(limited_cpu, cluster.cpu_total[nodes], 1)
        mem_total = np.where(cluster.mem_total[nodes] < UNLIMITED, cluster.mem_total[nodes], 1)
        dot = (decision.free_devices / capacity) * (decision.demand / capacity)
        dot += np.where(
            limited_cpu, (cluster.cpu_free[nodes] / cpu_total) * (request.cpu_milli / cpu_total), 0
        )
        dot += np.where(
            cluster.mem_total[nodes] < UNLIMITED,
            (cluster.mem_free[nodes] / mem_total) * (request.memory_mib / mem_total),
            0,
        )
        return Scored(-dot)


class GpuPacking(Policy):
    """Fill devices already shared first, then nodes already in use, then idle nodes."""

    name = "gpu-packing"

    def score(self, decision: Decision) -> Scored:
        cluster, nodes, fit = decision.cluster, decision.candidates, decision.fit
        used = cluster.dev_pods[nodes] > 0
        shared_fits = (fit.share_ok[nodes] & used).any(axis=1)
        tier = np.where(shared_fits, 2, np.where(used.any(axis=1), 1, 0))
        return Scored(tier.astype(np.float64))

    def share_slot(self, decision: Decision, node: int, slots: list[int]) -> int | None:
        pods = decision.cluster.dev_pods[node]
        free = decision.cluster.dev_share_free[node]
        return min(slots, key=lambda s: (pods[s] == 0, int(free[s]), s))


class GpuClustering(Policy):
    """Put requests with the same per-device share together: the node already holding most
    placements of this share wins, then nodes in use, then idle ones."""

    name = "gpu-clustering"

    def score(self, decision: Decision) -> Scored:
        cluster, nodes = decision.cluster, decision.candidates
        share = decision.request.share[np.maximum(decision.model, 0)]
        same = np.array(
            [
                cluster.share_counts[n][int(s)]
                for n, s in zip(nodes.tolist(), share.tolist(), strict=True)
            ],
            dtype=np.float64,
        )
        in_use = (cluster.dev_pods[nodes] > 0).any(axis=1)
        return Scored(same * 2 + in_use)


class Binpack(Policy):
    """The node left with the least free compute."""

    name = "binpack"

    def score(self, decision: Decision) -> Scored:
        return Scored(-(decision.free_devices - decision.demand))


class Spread(Policy):
    """The node left with the most free compute."""

    name = "spread"

    def score(self, decision: Decision) -> Scored:
        return Scored(decision.free_devices - decision.demand)


class Health(Policy):
    """The node whose usable devices are healthiest (mean health score)."""

    name = "health"

    def score(self, decision: Decision) -> Scored:
        cluster, nodes = decision.cluster, decision.candidates
        usable = cluster.dev_usable[nodes]
        health = (cluster.dev_health[nodes] * usable).sum(axis=1) / np.maximum(
            usable.sum(axis=1), 1
        )
        return Scored(health.astype(np.float64))


@dataclass
class Fragmentation(Policy):
    """FGD: the placement that raises the expected fragmentation of the cluster least."""

    index: FragmentationIndex
    name: str = "fgd"

    def score(self, decision: Decision) -> Scored:
        deltas, option = self.index.best(decision.cluster, decision.candidates, decision.request)
        return Scored(-deltas, option)


@dataclass
class Weighted(Policy):
    """A weighted sum of policies' scores, each normalised to 0-100 over the candidates."""

    parts: Sequence[tuple[Policy, float]]
    name: str = "weighted"

    def score(self, decision: Decision) -> Scored:
        total = np.zeros(len(decision.candidates))
        option = None
        for policy, weight in self.parts:
            scored = policy.score(decision)
            total += weight * normalise(scored.scores)
            option = option or scored.option
        return Scored(total, option)

    def share_slot(self, decision: Decision, node: int, slots: list[int]) -> int | None:
        return self.parts[0][0].share_slot(decision, node, slots) if self.parts else None


def normalise(scores: np.ndarray) -> np.ndarray:
    """Scores mapped to 0-100 over the candidates (all equal: all 100)."""
    if not len(scores):
        return scores.astype(np.float64)
    low, high = float(scores.min()), float(scores.max())
    if high - low < 1e-12:
        return np.full(len(scores), 100.0)
    return (scores - low) * (100.0 / (high - low))


BASELINES = ("random-fit", "best-fit", "gpu-packing", "gpu-clustering", "dot-product", "fgd")

_SIMPLE: dict[str, Callable[[], Policy]] = {
    "random-fit": RandomFit,
    "best-fit": BestFit,
    "dot-product": DotProduct,
    "gpu-packing": GpuPacking,
    "gpu-clustering": GpuClustering,
    "binpack": Binpack,
    "spread": Spread,
    "health": Health,
}
