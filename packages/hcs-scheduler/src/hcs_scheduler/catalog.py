"""Policies by name: `make_policy("default", ...)`, or a weighted mix "fgd:1,health:0.2"."""

from __future__ import annotations

from hcs_scheduler.cluster import Cluster
from hcs_scheduler.default_policy import (
    HOST_CPU,
    HcsDefault,
    cpu_per_device,
    cpu_pressure,
    model_pressure,
)
from hcs_scheduler.errors import ConfigError
from hcs_scheduler.fgd_published import PublishedFgd
from hcs_scheduler.fragmentation import FragmentationIndex, WorkloadMix
from hcs_scheduler.policies import _SIMPLE, BASELINES, Fragmentation, Policy, Weighted
from hcs_scheduler.reserve import WholeDeviceReserve

NAMES = ("default", *BASELINES, "fgd-published", "binpack", "spread", "health")


class PolicyFactory:
    """Builds policies that share one fragmentation index (its memo serves them all)."""

    def __init__(self, mix: WorkloadMix, cluster: Cluster) -> None:
        # Clusters placed into by these policies must share `cluster`'s interner:
        # build them with build_cluster(nodes, factory.interner).
        self.interner = cluster.interner
        self.index = FragmentationIndex(mix, self.interner)
        self.pressure = model_pressure(mix, cluster)
        self.cpu_per_device = cpu_per_device(mix)
        self.host_cpu = HOST_CPU * cpu_pressure(mix, cluster)
        self.reserve = WholeDeviceReserve.from_mix(mix, len(cluster.models))

    def make(self, spec: str) -> Policy:
        if "," in spec or ":" in spec:
            return Weighted(
                [self._weighted(part) for part in spec.split(",") if part.strip()], name=spec
            )
        name = spec.strip()
        if name == "default":
            return HcsDefault(
                self.index,
                self.pressure,
                self.cpu_per_device,
                reserve=self.reserve,
                host_cpu=self.host_cpu,
            )
        if name == "fgd":
            return Fragmentation(self.index)
        if name == "fgd-published":
            return PublishedFgd.from_mix(self.index.mix)
        if name in _SIMPLE:
            return _SIMPLE[name]()
        raise ConfigError(f"unknown policy {name!r}; known: {', '.join(NAMES)}")

    def _weighted(self, part: str) -> tuple[Policy, float]:
        name, _, weight = part.partition(":")
        try:
            value = float(weight) if weight else 1.0
        except ValueError:
            raise ConfigError(f"policy weight {weight!r} in {part!r} is not a number") from None
        return self.make(name), value
