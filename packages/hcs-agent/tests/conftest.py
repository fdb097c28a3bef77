"""Shared helpers: recorded fixtures by name, and sysfs trees built in a temporary directory."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_text(name: str) -> str:
    """A recorded output under tests/fixtures (see its SOURCES.md)."""
    return (FIXTURES / name).read_text()


def add_pci_device(
    root: Path,
    chain: list[str],
    numa: int = -1,
    speed: str | None = "16.0 GT/s PCIe",
    width: str | None = "16",
) -> None:
    """One device in a sysfs tree shaped as the kernel lays it out: the real directory under
    sys/devices/<host bridge>/<bridges...>/<device>, and sys/bus/pci/devices/<device> linking to
    it (Documentation/ABI/testing/sysfs-bus-pci)."""
    device_dir = root / "sys/devices" / Path(*chain)
    device_dir.mkdir(parents=True, exist_ok=True)
    (device_dir / "numa_node").write_text(f"{numa}\n")
    if speed is not None:
        (device_dir / "current_link_speed").write_text(f"{speed}\n")
    if width is not None:
        (device_dir / "current_link_width").write_text(f"{width}\n")
    links = root / "sys/bus/pci/devices"
    links.mkdir(parents=True, exist_ok=True)
    os.symlink(os.path.relpath(device_dir, links), links / chain[-1])


@pytest.fixture
def read() -> Callable[[str], str]:
    """Reads a recorded output by its path under tests/fixtures."""
    return fixture_text


@pytest.fixture
def add_pci() -> Callable[..., None]:
    """Adds a device to a sysfs tree (see add_pci_device)."""
    return add_pci_device
