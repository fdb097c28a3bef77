"""Hygon DCU from the KFD topology in sysfs and `hy-smi`.

The KFD nodes (sysfs, no tool needed) say which accelerators exist and where they sit on PCI;
their order among GPU nodes is the HIP device index. `hy-smi` adds temperature and power,
`hy-smi -a` the model name (Card Series), `hy-smi --showmemavailable` device memory. Hygon's PCI
vendor id is 0x1d94 (the PCI ID Repository, pci-ids.ucw.cz: "Chengdu Haiguang IC Design Co.");
other KFD devices (AMD's 0x1002) are not Hygon's.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hcs_agent.detect._runner import Runner, ToolDetector, ToolMissing, run_tool
from hcs_agent.errors import AgentError
from hcs_agent.model import Detection, DeviceInfo, HealthSignals
from hcs_agent.parse import hy_smi, kfd
from hcs_agent.parse.kfd import KfdNode

VENDOR = "hygon"
HYGON_PCI_VENDOR = 0x1D94
MIB = 1024 * 1024
KFD_NODES = Path("sys/class/kfd/kfd/topology/nodes")


def read_kfd_nodes(root: Path, vendor_ids: frozenset[int]) -> list[KfdNode]:
    """The accelerator nodes of `vendor_ids` under root/sys/class/kfd, in node order."""
    base = root / KFD_NODES
    if not base.is_dir():
        return []
    found = []
    for entry in sorted(base.iterdir(), key=lambda p: int(p.name) if p.name.isdigit() else -1):
        if not entry.name.isdigit() or not (entry / "properties").is_file():
            continue
        node = kfd.gpu_node(
            int(entry.name), kfd.parse_properties((entry / "properties").read_text())
        )
        if node is not None and node.vendor_id in vendor_ids:
            found.append(node)
    return found


class HygonDetector(ToolDetector):
    vendor = VENDOR

    def __init__(
        self,
        root: Path = Path("/"),
        runner: Runner = run_tool,
        timeout: float = 5.0,
        tool: str = "hy-smi",
        numa_of: Callable[[str], int | None] | None = None,
        vendor_ids: frozenset[int] = frozenset({HYGON_PCI_VENDOR}),
    ) -> None:
        self._root = root
        super().__init__(runner, timeout, tool, numa_of)
        self._vendor_ids = vendor_ids
        self._names: dict[int, str] = {}
        """Card Series per index from `hy-smi -a`, asked until it answers once."""

    def detect(self) -> Detection:
        try:
            nodes = read_kfd_nodes(self._root, self._vendor_ids)
        except (OSError, AgentError) as error:
            return Detection(VENDOR, error=f"KFD topology: {error}")
        if not nodes:
            return Detection(VENDOR, absent=True, error="no Hygon DCU in the KFD topology")
        warnings: list[str] = []
        try:
            rows = {row.index: row for row in hy_smi.parse_table(self._call())}
        except ToolMissing as error:
            warnings.append(f"{error}: no temperature or power")
            rows = {}
        except AgentError as error:
            return Detection(VENDOR, error=str(error))
        names, free = self._names_and_memory(warnings)
        devices = []
        for index, node in enumerate(nodes):
            row = rows.get(index)
            devices.append(
                DeviceInfo(
                    vendor=VENDOR,
                    index=str(index),
                    uuid=f"DCU-{node.unique_id:x}" if node.unique_id else f"DCU-{node.pci_bus_id}",
                    name=names.get(index, f"0x{node.device_id:04x}"),
                    vram_free_bytes=free[index] * MIB if index in free else None,
                    pci_bus_id=node.pci_bus_id,
                    numa_node=self._numa_of(node.pci_bus_id),
                    temperature_c=row.temperature_c if row else None,
                    power_w=row.power_w if row else None,
                    health=HealthSignals(vendor_status=row.mode if row else None),
                )
            )
        return Detection(VENDOR, devices=tuple(devices), warnings=tuple(warnings))

    def _names_and_memory(self, warnings: list[str]) -> tuple[dict[int, str], dict[int, int]]:
        """Card Series (hy-smi -a, asked once) and available memory (asked every time)."""
        free: dict[int, int] = {}
        if not self._names:
            try:
                self._names = hy_smi.parse_card_series(self._call("-a"))
            except AgentError as error:
                warnings.append(f"model names unknown: {error}")
        try:
            free = hy_smi.parse_available_mib(self._call("--showmemavailable"))
        except AgentError as error:
            warnings.append(f"available memory unknown: {error}")
        return self._names, free
