"""Huawei Ascend from `npu-smi`: `info` (the device table), `info -t topo` (HCCS peers),
`info -t board` and `-t memory` (static facts, read once per NPU and kept), and `info -t health`
(error codes, asked only for chips whose table Health is not OK: that keeps a healthy
collection to two tool calls).
"""

from __future__ import annotations

from collections.abc import Callable

from hcs_agent.detect._runner import Runner, ToolDetector, ToolMissing, run_tool
from hcs_agent.errors import AgentError
from hcs_agent.model import Detection, DeviceInfo, HealthSignals, PeerLink, normalise_bus_id
from hcs_agent.parse import npu_smi
from hcs_agent.parse.npu_smi import NpuChip
from hcs_api.v1alpha1 import LinkType

VENDOR = "ascend"
MIB = 1024 * 1024


class AscendDetector(ToolDetector):
    vendor = VENDOR

    def __init__(
        self,
        runner: Runner = run_tool,
        timeout: float = 5.0,
        tool: str = "npu-smi",
        numa_of: Callable[[str], int | None] | None = None,
    ) -> None:
        super().__init__(runner, timeout, tool, numa_of)
        self._static: dict[tuple[int, int], tuple[str | None, int | None]] = {}

    def detect(self) -> Detection:
        try:
            table = npu_smi.parse_info(self._call("info"))
        except ToolMissing as error:
            return Detection(VENDOR, absent=True, error=str(error))
        except AgentError as error:
            return Detection(VENDOR, error=str(error))
        if not table.chips:
            return Detection(VENDOR, absent=True, error="npu-smi lists no NPU")
        warnings: list[str] = []
        peers = self._hccs_peers(warnings)
        devices = tuple(
            self._device(chip, peers.get(chip.device_id, ()), warnings) for chip in table.chips
        )
        return Detection(VENDOR, devices=devices, warnings=tuple(warnings))

    def _hccs_peers(self, warnings: list[str]) -> dict[int, tuple[int, ...]]:
        try:
            matrix = npu_smi.parse_topo(self._call("info", "-t", "topo"))
        except AgentError as error:
            warnings.append(f"HCCS topology unknown: {error}")
            return {}
        return {
            npu: tuple(peer for peer, kind in row.items() if kind == "HCCS")
            for npu, row in matrix.items()
        }

    def _device(self, chip: NpuChip, peers: tuple[int, ...], warnings: list[str]) -> DeviceInfo:
        serial, memory_mb = self._static_facts(chip, warnings)
        vram = chip.vram_mb
        total_mb = vram[1] if vram and vram[1] else memory_mb
        bus_id = normalise_bus_id(chip.bus_id) if chip.bus_id else None
        return DeviceInfo(
            vendor=VENDOR,
            index=str(chip.device_id),
            uuid=self._uuid(chip, serial, bus_id),
            name=chip.name,
            vram_bytes=total_mb * MIB if total_mb else None,
            vram_free_bytes=(vram[1] - vram[0]) * MIB if vram and vram[1] else None,
            pci_bus_id=bus_id,
            numa_node=self._numa_of(bus_id) if bus_id else None,
            temperature_c=chip.temperature_c,
            power_w=chip.power_w,
            links=tuple(PeerLink(LinkType.HCCS, str(p), p2p=True) for p in peers),
            health=self._health(chip, warnings),
        )

    def _static_facts(self, chip: NpuChip, warnings: list[str]) -> tuple[str | None, int | None]:
        """Serial (-t board) and, where the table shows no total, memory (-t memory); cached."""
        key = (chip.npu_id, chip.chip)
        if key not in self._static:
            serial: str | None = None
            memory: int | None = None
            try:
                serial = npu_smi.parse_board(
                    self._call("info", "-t", "board", "-i", str(chip.npu_id))
                ).serial
                if chip.vram_mb is None or chip.vram_mb[1] == 0:
                    text = self._call(
                        "info", "-t", "memory", "-i", str(chip.npu_id), "-c", str(chip.chip)
                    )
                    memory = npu_smi.parse_memory_mb(text)
            except AgentError as error:
                warnings.append(f"NPU {chip.npu_id} chip {chip.chip}: {error}")
                return None, None  # not cached: asked again next time
            self._static[key] = (serial, memory)
        return self._static[key]

    def _health(self, chip: NpuChip, warnings: list[str]) -> HealthSignals:
        if chip.health == "OK":
            return HealthSignals(vendor_status="OK")
        try:
            text = self._call("info", "-t", "health", "-i", str(chip.npu_id), "-c", str(chip.chip))
            found = npu_smi.parse_health(text)
        except AgentError as error:
            warnings.append(f"NPU {chip.npu_id} health details unknown: {error}")
            return HealthSignals(vendor_status=chip.health)
        return HealthSignals(vendor_status=found.status, error_codes=found.error_codes)

    @staticmethod
    def _uuid(chip: NpuChip, serial: str | None, bus_id: str | None) -> str:
        if serial:
            return f"{serial}-{chip.chip}"
        if bus_id:
            return f"ascend-{bus_id}-{chip.chip}"
        return f"ascend-npu{chip.npu_id}-{chip.chip}"
