"""hcs_health's errors: one small hierarchy, translated once at the edge (the agent's CLI)."""

from __future__ import annotations


class HealthError(Exception):
    """Base of hcs_health's errors; the message names the problem."""


class SourceError(HealthError):
    """An event source cannot start or read (no privilege, no tracepoint, no /dev/kmsg)."""


class CheckpointError(HealthError):
    """A checkpoint directory cannot be read."""


class AnalyzerConfigError(HealthError):
    """An analyzer or remediation setting is out of range; the message names the key."""
