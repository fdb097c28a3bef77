"""The agent itself: detectors assembled from settings, and one cycle (collect, build, report)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from hcs_agent.collect import Collection, Collector, keep_last_good
from hcs_agent.computenode import Built, build
from hcs_agent.detect import Detector
from hcs_agent.detect.ascend import AscendDetector
from hcs_agent.detect.cambricon import CambriconDetector
from hcs_agent.detect.hygon import HygonDetector
from hcs_agent.detect.inventory import InventoryDetector
from hcs_agent.detect.nvidia import NvidiaDetector
from hcs_agent.healthloop import Guarded
from hcs_agent.metrics import AgentMetrics
from hcs_agent.model import Detection
from hcs_agent.report import Reporter, ReportOutcome
from hcs_agent.topology import SysfsPci
from hcs_api.names import Vendor
from hcs_exchange import ProfileDatabase, apply_overrides, load_database


def make_detectors(
    vendors: list[Vendor], sysfs_root: Path, timeout: float, inventory: Path | None = None
) -> list[Detector]:
    """The inventory alone when one is given; else one detector per vendor asked for."""
    if inventory is not None:
        return [InventoryDetector(inventory)]
    numa = SysfsPci(sysfs_root).numa_node
    factories: dict[Vendor, Callable[[], Detector]] = {
        Vendor.NVIDIA: lambda: NvidiaDetector(numa_of=numa),
        Vendor.ASCEND: lambda: AscendDetector(timeout=timeout, numa_of=numa),
        Vendor.HYGON: lambda: HygonDetector(root=sysfs_root, timeout=timeout, numa_of=numa),
        Vendor.CAMBRICON: lambda: CambriconDetector(timeout=timeout, numa_of=numa),
    }
    return [factories[vendor]() for vendor in Vendor if vendor in vendors]


def profile_database(overrides: Path | None) -> ProfileDatabase:
    database = load_database()
    return apply_overrides(database, overrides)[0] if overrides is not None else database


class Agent:
    """One node's agent: each `cycle` collects, builds the ComputeNode, updates metrics, reports."""

    def __init__(
        self,
        node_name: str,
        collector: Collector,
        database: ProfileDatabase,
        metrics: AgentMetrics,
        reporter: Reporter | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        health: Guarded | None = None,
    ) -> None:
        self.node_name = node_name
        self.health = health
        self._collector = collector
        self._database = database
        self.metrics = metrics
        self._reporter = reporter
        self._monotonic = monotonic
        self._good: dict[str, Detection] = {}
        self.last_built: Built | None = None
        self.last_collection: Collection | None = None
        self.last_outcome: ReportOutcome | None = None
        self.last_cycle_at: float | None = None

    def pci_addresses(self) -> list[str]:
        """The PCI addresses of the devices last reported (what sysfs AER polling watches)."""
        if self.last_built is None:
            return []
        return [d.pci_bus_id for d in self.last_built.node.spec.devices if d.pci_bus_id]

    def cycle(self) -> Built:
        collection = self._collector.collect()
        detections = keep_last_good(collection.detections, self._good)
        self._good.update({d.vendor: d for d in collection.detections if not d.error})
        collection = replace(collection, detections=detections)
        status = self.last_built.node.status if self.last_built else None
        previous = status.conditions if status is not None else []
        built = build(self.node_name, collection, self._database, previous)
        if self.health is not None:
            analyzed = self.health.on_built(collection, built, self._monotonic())
            if any(analyzed.get(d, 100) < s.value for d, s in built.scores.items()):
                built = build(self.node_name, collection, self._database, previous, analyzed)
        self.metrics.update(collection, built)
        if self._reporter is not None:
            self.last_outcome = self._reporter.report(built.node)
            if not self.last_outcome.ok:
                self.metrics.report_failures.inc()
        self.last_built, self.last_collection = built, collection
        self.last_cycle_at = self._monotonic()
        return built
