"""Cambricon MLU from `cnmon` (the device table: name, bus, temperature, power, memory, ECC).

`cnmon topo` (MLU-Link peers) is not read: no recorded real output of it was found (only
screenshots; see tests/fixtures/SOURCES.md), and a parser is not written against a guessed
format. Cambricon devices get their PCIe links from sysfs like every other device.
"""

from __future__ import annotations

from collections.abc import Callable

from hcs_agent.detect._runner import Runner, ToolDetector, ToolMissing, run_tool
from hcs_agent.errors import AgentError
from hcs_agent.model import Detection, DeviceInfo, HealthSignals, normalise_bus_id
from hcs_agent.parse import cnmon

VENDOR = "cambricon"
MIB = 1024 * 1024


class CambriconDetector(ToolDetector):
    vendor = VENDOR

    def __init__(
        self,
        runner: Runner = run_tool,
        timeout: float = 5.0,
        tool: str = "cnmon",
        numa_of: Callable[[str], int | None] | None = None,
    ) -> None:
        super().__init__(runner, timeout, tool, numa_of)

    def detect(self) -> Detection:
        try:
            cards = cnmon.parse_table(self._call())
        except ToolMissing as error:
            return Detection(VENDOR, absent=True, error=str(error))
        except AgentError as error:
            return Detection(VENDOR, error=str(error))
        if not cards:
            return Detection(VENDOR, absent=True, error="cnmon lists no MLU")
        devices = []
        for card in cards:
            bus_id = normalise_bus_id(card.bus_id) if card.bus_id else None
            used, total = card.memory_mib
            devices.append(
                DeviceInfo(
                    vendor=VENDOR,
                    index=str(card.card),
                    uuid=f"MLU-{bus_id}" if bus_id else f"MLU-card{card.card}",
                    name=card.name,
                    vram_bytes=total * MIB if total else None,
                    vram_free_bytes=(total - used) * MIB if total and used is not None else None,
                    pci_bus_id=bus_id,
                    numa_node=self._numa_of(bus_id) if bus_id else None,
                    temperature_c=card.temperature_c,
                    power_w=card.power_w,
                    # cnmon does not say which kind its Ecc-Error counts: scored as the milder one.
                    health=HealthSignals(ecc_correctable=card.ecc_errors),
                )
            )
        return Detection(VENDOR, devices=tuple(devices))
