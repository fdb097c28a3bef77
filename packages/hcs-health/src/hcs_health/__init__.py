"""hcs_health: catches sub-health in accelerators and moves work off them.

Kernel signals (eBPF programs from native/ebpf, or the polling fallback: /dev/kmsg and sysfs
AER counters) and the agent's vendor readings become `HealthEvent`s; the analyzer grades each
device 0-100 with its evidence; the remediation cordons sick devices in the ComputeNode, taints
the node, and evicts the pods on them with their newest complete checkpoint recorded for the
replacement. The hcs-agent runs it on every node.
"""

__version__ = "0.1.0"

from hcs_health.analyzer import Analyzer, AnalyzerConfig, Assessment, Evidence, Grade
from hcs_health.checkpoint import Checkpoint, Layout, find_newest, scan
from hcs_health.errors import (
    AnalyzerConfigError,
    CheckpointError,
    HealthError,
    SourceError,
)
from hcs_health.events import EventKind, HealthEvent, Severity, Source
from hcs_health.metrics import HealthMetrics
from hcs_health.monitor import Baseline, DeviceRef, EventSource, HealthMonitor
from hcs_health.remediation.act import Outcome, Remediator
from hcs_health.remediation.plan import RemediationConfig, remediation_config
from hcs_health.samples import VendorSample, events_from_samples

__all__ = [
    "Analyzer",
    "AnalyzerConfig",
    "AnalyzerConfigError",
    "Assessment",
    "Baseline",
    "Checkpoint",
    "CheckpointError",
    "DeviceRef",
    "EventKind",
    "EventSource",
    "Evidence",
    "Grade",
    "HealthError",
    "HealthEvent",
    "HealthMetrics",
    "HealthMonitor",
    "Layout",
    "Outcome",
    "RemediationConfig",
    "Remediator",
    "Severity",
    "Source",
    "SourceError",
    "VendorSample",
    "__version__",
    "events_from_samples",
    "find_newest",
    "remediation_config",
    "scan",
]
