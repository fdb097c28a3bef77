"""Prometheus metrics of the extender, in a registry per app (no global state).

- hcs_extender_decision_seconds{verb}: latency of filter, prioritize, bind and plan;
- hcs_extender_decisions_total{verb,outcome}: outcomes (filter: fits / none; bind: bound /
  refused / failed; bad requests: invalid);
- hcs_extender_leader: 1 while this replica leads (binds, writes status), 0 on standby;
- hcs_allocated_vram_bytes{node,vendor}, hcs_allocated_acu{node,vendor}: what bound and assumed
  pods hold, computed from the cache at scrape time (ACU in FP16, 1 ACU = 1 % of an A100-80G).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from fractions import Fraction

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from hcs_exchange import Exchange, Precision
from hcs_scheduler.extender.state import ClusterState

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class ExtenderMetrics:
    def __init__(
        self,
        state: ClusterState,
        exchange: Exchange,
        leading: Callable[[], bool] = lambda: True,
    ) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "hcs_extender_decision_seconds",
            "Time to answer one extender request, per verb.",
            ["verb"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.decisions = Counter(
            "hcs_extender_decisions",
            "Extender answers by verb and outcome.",
            ["verb", "outcome"],
            registry=self.registry,
        )
        self.leader = Gauge(
            "hcs_extender_leader",
            "1 while this replica leads (binds and writes status.devices), 0 on standby.",
            registry=self.registry,
        )
        self.leader.set_function(lambda: float(leading()))
        self.registry.register(_AllocatedCollector(state, exchange))


class _AllocatedCollector(Collector):
    def __init__(self, state: ClusterState, exchange: Exchange) -> None:
        self.state = state
        self.exchange = exchange

    def collect(self) -> Iterator[GaugeMetricFamily]:
        vram: dict[tuple[str, str], int] = defaultdict(int)
        acu: dict[tuple[str, str], Fraction] = defaultdict(Fraction)
        for _, allocation in self.state.held():
            key = (allocation.node, allocation.vendor.value)
            devices = len(allocation.device_ids())
            vram[key] += allocation.vram * devices
            per_device = self.exchange.device_acu(allocation.model, Precision.FP16) or Fraction(0)
            acu[key] += per_device * allocation.share / 1000 * devices
        labels = ["node", "vendor"]
        vram_family = GaugeMetricFamily("hcs_allocated_vram_bytes", "VRAM held.", labels=labels)
        acu_family = GaugeMetricFamily("hcs_allocated_acu", "FP16 ACU held.", labels=labels)
        for key, value in sorted(vram.items()):
            vram_family.add_metric(list(key), value)
            acu_family.add_metric(list(key), float(acu[key]))
        yield vram_family
        yield acu_family
