"""A YAML inventory of devices instead of real hardware: for demos and the simulator's clusters.

    devices:
      - {vendor: nvidia, id: "0", uuid: GPU-0, name: NVIDIA H100 80GB HBM3, numaNode: 0,
         links: [{type: nvlink, peers: ["1"], links: 18}]}
      - {vendor: ascend, id: "0", uuid: NPU-0, name: 910B3, vram: 64Gi, temperature: 45}

`name` is what the vendor tool would print or an hcs-exchange profile name; `vram` defaults to
the profile's. A bad file is an error naming the entry and field, never a silent skip.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from hcs_agent.model import Detection, DeviceInfo, HealthSignals, PeerLink, normalise_bus_id
from hcs_api import Quantity
from hcs_api.names import Vendor
from hcs_api.v1alpha1 import LinkType

VENDOR = "inventory"


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)


class InventoryLink(_Entry):
    type: LinkType
    peers: list[str] = Field(min_length=1)
    links: int = Field(default=1, ge=1)
    p2p: bool | None = None


class InventoryHealth(_Entry):
    vendor_status: str | None = None
    ecc_uncorrectable: int | None = Field(default=None, ge=0)
    ecc_correctable: int | None = Field(default=None, ge=0)
    retired_pages: int | None = Field(default=None, ge=0)
    retirement_pending: bool = False
    remap_failed: bool = False
    throttle_reasons: list[str] = Field(default_factory=list)
    xids: list[int] = Field(default_factory=list)


class InventoryDevice(_Entry):
    vendor: Vendor
    id: str = Field(min_length=1)
    uuid: str = Field(min_length=1)
    name: str = Field(min_length=1)
    vram: Quantity | None = None
    pci_bus_id: str | None = None
    numa_node: int | None = Field(default=None, ge=0)
    temperature: float | None = None
    utilization: float | None = Field(default=None, ge=0, le=100)
    sm_clock_ratio: float | None = Field(default=None, ge=0, le=1)
    links: list[InventoryLink] = Field(default_factory=list)
    health: InventoryHealth = Field(default_factory=InventoryHealth)


class Inventory(_Entry):
    devices: list[InventoryDevice] = Field(default_factory=list)


def _device(entry: InventoryDevice) -> DeviceInfo:
    health = entry.health
    return DeviceInfo(
        vendor=str(entry.vendor),
        index=entry.id,
        uuid=entry.uuid,
        name=entry.name,
        vram_bytes=entry.vram.ceil() if entry.vram is not None else None,
        pci_bus_id=normalise_bus_id(entry.pci_bus_id) if entry.pci_bus_id else None,
        numa_node=entry.numa_node,
        temperature_c=entry.temperature,
        utilization_pct=entry.utilization,
        sm_clock_ratio=entry.sm_clock_ratio,
        links=tuple(
            PeerLink(link.type, peer, links=link.links, p2p=link.p2p)
            for link in entry.links
            for peer in link.peers
        ),
        health=HealthSignals(
            vendor_status=health.vendor_status,
            ecc_uncorrectable=health.ecc_uncorrectable,
            ecc_correctable=health.ecc_correctable,
            retired_pages=health.retired_pages,
            retirement_pending=health.retirement_pending,
            remap_failed=health.remap_failed,
            throttle_reasons=tuple(health.throttle_reasons),
            xids=tuple(health.xids),
        ),
    )


class InventoryDetector:
    """Reads the file on every detect, so an edited inventory shows up at the next collection."""

    vendor = VENDOR

    def __init__(self, path: Path) -> None:
        self._path = path

    def detect(self) -> Detection:
        try:
            raw = yaml.safe_load(self._path.read_text()) or {}
            inventory = Inventory.model_validate(raw)
            devices = tuple(_device(entry) for entry in inventory.devices)
        except OSError as error:
            return Detection(VENDOR, error=f"inventory {self._path}: {error.strerror or error}")
        except yaml.YAMLError as error:
            return Detection(VENDOR, error=f"inventory {self._path}: not YAML: {error}")
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            return Detection(VENDOR, error=f"inventory {self._path}: {where}: {first['msg']}")
        except ValueError as error:
            return Detection(VENDOR, error=f"inventory {self._path}: {error}")
        return Detection(VENDOR, devices=devices)
