"""Per-vendor detectors behind one small interface, and the runner that calls vendor tools."""

from __future__ import annotations

from typing import Protocol

from hcs_agent.model import Detection


class Detector(Protocol):
    """Fingerprints one vendor's devices on this machine. Never raises: failures are reported."""

    vendor: str

    def detect(self) -> Detection:
        """The vendor's devices now, or why there are none."""
        ...
