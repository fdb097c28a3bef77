"""Clusters and workloads written as YAML: the bundled scenarios and anyone's own.

Cluster file:

    nodes:
      - {name: a100, count: 4, model: A100-SXM4-80G, devices: 8, cpu: 96,
         memory: 1024Gi, links: direct}

`model` is any hcs-exchange profile name or alias; `links` is direct (NVLink/HCCS/xGMI between
every pair), pcie (one PCIe switch) or system (across sockets, the default). Workload file:

    requests:
      - {name: finetune, weight: 30, vram: 48Gi, tflops-fp16: 100, duration: 3600,
         written-for: nvidia}

A request says what it needs in `ai.compute/*` terms (vram, tflops-fp16, tflops-fp32,
tops-int8, devices); `weight` is how often it arrives relative to the others; `written-for`
is the vendor whose resource name it would have used without HCS (for the vendor-locked run).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hcs_api import ComputeRequest, PodRequest, Preferences, Quantity, describe_validation_error
from hcs_api.names import Vendor
from hcs_exchange import ExchangeError, ProfileDatabase
from hcs_scheduler.cluster import DeviceSpec, NodeSpec
from hcs_scheduler.errors import InputError
from hcs_scheduler.topology import DIRECT_LINK, PCIE_QUALITY, UNKNOWN

_LINKS = {"direct": DIRECT_LINK, "pcie": PCIE_QUALITY[next(iter(PCIE_QUALITY))], "system": UNKNOWN}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class NodeGroup(_Strict):
    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    count: int = Field(default=1, ge=1, le=100_000)
    model: str
    devices: int = Field(ge=0, le=64)
    cpu: int = Field(default=64, ge=1)
    """Cores."""
    memory: Quantity = Quantity("512Gi")
    links: str = Field(default="system", pattern="^(direct|pcie|system)$")


class ClusterFile(_Strict):
    nodes: list[NodeGroup] = Field(min_length=1)


class RequestKind(_Strict):
    name: str
    weight: float = Field(default=1.0, gt=0)
    vram: Quantity = Quantity(0)
    tflops_fp16: int = Field(default=0, ge=0, alias="tflops-fp16")
    tflops_fp32: int = Field(default=0, ge=0, alias="tflops-fp32")
    tops_int8: int = Field(default=0, ge=0, alias="tops-int8")
    devices: int = Field(default=0, ge=0)
    sharded: bool = False
    """The work is sharded over its devices, so its VRAM may be spread (hcs.io/sharded)."""
    duration: float = Field(default=3600.0, gt=0)
    """Seconds."""
    written_for: Vendor = Field(default=Vendor.NVIDIA, alias="written-for")

    def compute_request(self) -> ComputeRequest:
        return ComputeRequest(
            vram=self.vram.ceil(),
            tflops_fp16=self.tflops_fp16,
            tflops_fp32=self.tflops_fp32,
            tops_int8=self.tops_int8,
            devices=self.devices,
        )

    def pod_request(self) -> PodRequest:
        return PodRequest(
            containers=(),
            effective=self.compute_request(),
            preferences=Preferences(sharded=self.sharded),
        )


class WorkloadFile(_Strict):
    requests: list[RequestKind] = Field(min_length=1)
    arrivals_per_hour: float = Field(default=60.0, gt=0, alias="arrivals-per-hour")
    jobs: int = Field(default=500, ge=1, le=1_000_000)


def _load(path: Path, model: type[_Strict]) -> Any:
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise InputError(f"{path} is not valid YAML: {error}") from None
    try:
        return model.model_validate(document)
    except ValidationError as error:
        raise InputError(
            f"{path} is invalid:\n  - " + "\n  - ".join(describe_validation_error(error))
        ) from None


def read_cluster(path: Path, profiles: ProfileDatabase) -> list[NodeSpec]:
    cluster: ClusterFile = _load(path, ClusterFile)
    nodes: list[NodeSpec] = []
    for index, group in enumerate(cluster.nodes):
        try:
            profile = profiles.get(group.model)
        except ExchangeError as error:
            raise InputError(f"{path}: nodes[{index}] ({group.name}): {error}") from None
        if profile.vram.value is None:
            raise InputError(
                f"{path}: nodes[{index}] ({group.name}): {profile.model} has no known VRAM"
            )
        quality = _LINKS[group.links]
        matrix = tuple(
            tuple(0 if i == j else quality for j in range(group.devices))
            for i in range(group.devices)
        )
        for number in range(group.count):
            devices = tuple(
                DeviceSpec(
                    id=str(d),
                    model=profile.model,
                    vendor=profile.vendor,
                    vram=profile.vram.value.ceil(),
                )
                for d in range(group.devices)
            )
            nodes.append(
                NodeSpec(
                    name=f"{group.name}-{number:03d}" if group.count > 1 else group.name,
                    devices=devices,
                    cpu_milli=group.cpu * 1000,
                    memory_mib=group.memory.ceil() // 2**20,
                    link_quality=matrix,
                )
            )
    return nodes


def read_workload(path: Path) -> WorkloadFile:
    workload: WorkloadFile = _load(path, WorkloadFile)
    return workload
