"""Which event sources run: eBPF where it loads, else the polling fallback, and always the sysfs
AER counters where the eBPF AER program could not attach. Every choice is logged with its reason
and shown in /metrics (`hcs_health_source_active`, `hcs_health_source_unavailable`)."""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from hcs_health.errors import SourceError
from hcs_health.metrics import HealthMetrics
from hcs_health.monitor import EventSource
from hcs_health.sources.ebpf import EbpfSource, find_loader
from hcs_health.sources.kmsg import KmsgSource
from hcs_health.sources.sysfs_aer import SysfsAerSource

log = logging.getLogger("hcs_health")


class SourceMode(enum.StrEnum):
    AUTO = "auto"
    """eBPF if it loads, else /dev/kmsg polling; sysfs AER counters unless eBPF's AER attached."""
    EBPF = "ebpf"
    """eBPF only: the agent stops at start when the programs cannot load."""
    POLL = "poll"
    """The polling fallback only (/dev/kmsg and sysfs AER counters)."""
    OFF = "off"
    """No kernel signals: only the vendor tools' periodic readings."""


@dataclass
class Selected:
    sources: list[EventSource] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Why each source is or is not in use, for the log and `hcs-agent health`."""


def open_sources(
    mode: SourceMode,
    metrics: HealthMetrics,
    addresses: Callable[[], Iterable[str]],
    loader: Path | None = None,
    ioctl_slow_ms: float = 50.0,
    kmsg_path: Path = Path("/dev/kmsg"),
    sysfs_root: Path = Path("/"),
) -> Selected:
    """Start the sources `mode` asks for. SourceError only when mode is EBPF and it fails."""
    selected = Selected()
    if mode is SourceMode.OFF:
        selected.notes.append("kernel event sources off (health_source: off)")
        return selected
    aer_attached = False
    if mode in (SourceMode.AUTO, SourceMode.EBPF):
        try:
            ebpf = EbpfSource(find_loader(loader), ioctl_slow_ms=ioctl_slow_ms)
            ebpf.start()
        except SourceError as error:
            metrics.source_errors.labels("ebpf").set(1)
            if mode is SourceMode.EBPF:
                raise
            selected.notes.append(f"eBPF unavailable, polling instead: {error}")
        else:
            selected.sources.append(ebpf)
            for program, problem in ebpf.attached.items():
                state = "attached" if problem is None else f"not attached: {problem}"
                selected.notes.append(f"eBPF {program}: {state}")
            aer_attached = ebpf.attached.get("aer") is None
    if not selected.sources:
        kmsg = KmsgSource(kmsg_path)
        try:
            kmsg.start()
        except SourceError as error:
            metrics.source_errors.labels("kmsg").set(1)
            selected.notes.append(f"kernel log not watched: {error}")
        else:
            selected.sources.append(kmsg)
            selected.notes.append(f"polling {kmsg_path} for driver lines")
    if not aer_attached:
        selected.sources.append(SysfsAerSource(sysfs_root, addresses))
        selected.notes.append("polling sysfs AER counters of the node's devices")
    for note in selected.notes:
        log.info("health source: %s", note)
    return selected
