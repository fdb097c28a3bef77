"""One collection: every detector once, and the PCIe placement of every device found."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from hcs_agent.detect import Detector
from hcs_agent.model import Detection
from hcs_agent.topology import PciPlace, SysfsPci


@dataclass(frozen=True)
class Collection:
    detections: tuple[Detection, ...]
    places: dict[str, PciPlace] = field(default_factory=dict)
    """PCI placement by bus id, for devices sysfs knows."""
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    duration_s: float = 0.0


class Collector:
    """Runs the detectors side by side (each waits on its own tool, so a hung one costs its
    timeout once, not once per vendor); a detector that breaks costs its vendor only."""

    def __init__(
        self,
        detectors: Sequence[Detector],
        pci: SysfsPci,
        clock: Callable[[], float] = time.perf_counter,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._detectors = list(detectors)
        self._pci = pci
        self._clock = clock
        self._now = now

    def collect(self) -> Collection:
        start = self._clock()
        if len(self._detectors) > 1:
            with ThreadPoolExecutor(max_workers=len(self._detectors)) as pool:
                detections = tuple(pool.map(self._detect, self._detectors))
        else:
            detections = tuple(self._detect(detector) for detector in self._detectors)
        places: dict[str, PciPlace] = {}
        for detection in detections:
            for device in detection.devices:
                if device.pci_bus_id and device.pci_bus_id not in places:
                    place = self._pci.place(device.pci_bus_id)
                    if place is not None:
                        places[device.pci_bus_id] = place
        return Collection(detections, places, self._now(), self._clock() - start)

    @staticmethod
    def _detect(detector: Detector) -> Detection:
        try:
            return detector.detect()
        except Exception as error:  # a detector bug must not silence the other vendors
            return Detection(detector.vendor, error=f"detector failed: {error!r}")


def keep_last_good(
    detections: tuple[Detection, ...], good: dict[str, Detection]
) -> tuple[Detection, ...]:
    """A vendor whose detection failed (not merely absent) keeps the devices of its last good
    detection, so a hung tool does not make healthy devices vanish from the scheduler's view;
    the error stays, and the node reports Degraded until the vendor answers again."""
    kept = []
    for detection in detections:
        previous = good.get(detection.vendor)
        if detection.error and not detection.absent and previous is not None:
            detection = Detection(
                detection.vendor,
                devices=previous.devices,
                error=detection.error,
                warnings=(*detection.warnings, "devices as last detected"),
            )
        kept.append(detection)
    return tuple(kept)
