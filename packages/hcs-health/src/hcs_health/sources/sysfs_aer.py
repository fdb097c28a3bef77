"""PCIe AER counters from sysfs: AER without eBPF, and without the kernel log's rate limit.

Linux 4.19+ (CONFIG_PCIEAER) gives every AER-capable device three files under
/sys/bus/pci/devices/<addr>/: aer_dev_correctable, aer_dev_nonfatal, aer_dev_fatal. Each line is
"<name> <count>" and the last is "TOTAL_ERR_COR|TOTAL_ERR_NONFATAL|TOTAL_ERR_FATAL <count>"
(drivers/pci/pcie/aer.c, aer_stats_dev_attr: "%s %llu\\n"; unnamed bits print as
"dev_cor_errs_bit[N] <count>"; Documentation/ABI/testing/sysfs-bus-pci-devices-aer_stats). Names
may hold spaces on older kernels ("Receiver Error 2"), so the count is the last field.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

from hcs_health.errors import SourceError
from hcs_health.events import EventKind, HealthEvent, Severity, Source

# file -> (kind, severity) of an error counted there
AER_FILES: dict[str, tuple[EventKind, Severity]] = {
    "aer_dev_correctable": (EventKind.AER_CORRECTABLE, Severity.INFO),
    "aer_dev_nonfatal": (EventKind.AER_UNCORRECTABLE, Severity.ERROR),
    "aer_dev_fatal": (EventKind.AER_UNCORRECTABLE, Severity.FATAL),
}


def parse_counters(text: str, name: str = "<text>") -> dict[str, int]:
    """Counter name -> value of one aer_dev_* file; name is the file, for the error message.

    TOTAL_* counts ERR_* messages, not errors (one message may carry several), so it is kept
    in the result but the source does not turn it into events."""
    counters: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        label, _, value = line.rstrip().rpartition(" ")
        if not label.strip() or not value.isdigit():
            raise SourceError(f"{name} line {number}: expected '<name> <count>', got {line!r}")
        counters[label.strip()] = int(value)
    return counters


class SysfsAerSource:
    """Polls the AER counters of the devices HCS knows; one event per counter that grew.
    Counters are read at most every `every_s` (three small files per device): a poll sooner
    returns nothing at once, so the health loop's other source sets the pace."""

    name = "sysfs-aer"

    def __init__(
        self,
        root: Path = Path("/"),
        addresses: Callable[[], Iterable[str]] = tuple,
        clock: Callable[[], float] = time.monotonic,
        every_s: float = 5.0,
    ) -> None:
        self._addresses, self._root, self._clock = addresses, root, clock
        self._every_s = every_s
        self._read_at: float | None = None
        self._last: dict[tuple[str, str], dict[str, int]] = {}
        self.unsupported: dict[str, str] = {}
        """address -> why it has no AER counters (noted once, not an error)."""

    def _device_dir(self, address: str) -> Path:
        return self._root / "sys/bus/pci/devices" / address

    def poll(self, timeout_s: float = 0.0) -> list[HealthEvent]:
        """Read every watched device's counters (the first read of a file is the baseline);
        never waits: `timeout_s` is the EventSource signature's."""
        events: list[HealthEvent] = []
        at = self._clock()
        if self._read_at is not None and at - self._read_at < self._every_s:
            return events
        self._read_at = at
        for address in self._addresses():
            if address in self.unsupported:
                continue
            directory = self._device_dir(address)
            if not (directory / "aer_dev_correctable").is_file():
                self.unsupported[address] = self._why_unsupported(directory)
                continue
            for file_name, kind_sev in AER_FILES.items():
                events.extend(self._poll_file(address, directory / file_name, kind_sev, at))
        return events

    def close(self) -> None:
        """Nothing to release: every read opens and closes its file."""

    @staticmethod
    def _why_unsupported(directory: Path) -> str:
        if not directory.exists():
            return f"{directory} does not exist (no such PCI device)"
        return f"{directory} has no aer_dev_* files (no AER capability, or no CONFIG_PCIEAER)"

    def _poll_file(
        self, address: str, path: Path, kind_sev: tuple[EventKind, Severity], at: float
    ) -> list[HealthEvent]:
        try:
            current = parse_counters(path.read_text(), str(path))
        except OSError as exc:
            raise SourceError(f"cannot read {path}: {exc.strerror}") from exc
        previous = self._last.get((address, path.name))
        self._last[address, path.name] = current
        if previous is None:
            return []
        return [
            HealthEvent(
                at=at,
                kind=kind_sev[0],
                severity=kind_sev[1],
                source=Source.SYSFS_AER,
                pci=address,
                count=value - previous.get(name, 0),
                message=f"{path.name} {name} +{value - previous.get(name, 0)} (now {value})",
            )
            for name, value in current.items()
            if not name.startswith("TOTAL_") and value > previous.get(name, 0)
        ]
