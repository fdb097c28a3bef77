"""Accelerator profiles: what a device model is, every figure with the source it came from.

A profile holds datasheet figures (dense throughput per precision, memory, bandwidth,
interconnect, TDP). A figure is a value plus the id of a source listed in the same file; a
figure nobody published stays null. `ProfileDatabase` validates a whole file: sources exist,
values are non-negative, model names and aliases are unique (ignoring case, spaces, '-', '_').
"""

from __future__ import annotations

import difflib
import enum
import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from hcs_api import Quantity
from hcs_api.names import Vendor
from hcs_exchange.errors import UnknownModelError

REFERENCE_MODEL = "A100-SXM4-80G"
"""1 ACU = 1 % of one of these, in the precision at hand."""


class Precision(enum.StrEnum):
    FP32 = "fp32"
    TF32 = "tf32"
    FP16 = "fp16"
    BF16 = "bf16"
    INT8 = "int8"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class Source(_Strict):
    """Where figures come from: a datasheet, a vendor page, a measurement."""

    title: str = Field(min_length=1)
    publisher: str = Field(min_length=1)
    year: int | None = Field(default=None, ge=1990, le=2100)
    """Publication year; unset for living documents (docs pages, repositories)."""
    url: str | None = None


class Figure(_Strict):
    """One published number, its source, and what a reader needs to know about it."""

    value: Annotated[Decimal, Field(ge=0)] | None = None
    source: str | None = None
    note: str | None = None
    datasheet: Figure | None = None
    """The figure this one replaced (set by calibration: both stay on record)."""

    @model_validator(mode="after")
    def _value_has_source(self) -> Self:
        if self.value is not None and not self.source:
            raise ValueError(f"figure {self.value} has no source")
        return self


class VramFigure(_Strict):
    """Device memory per device as a Kubernetes quantity (80Gi), with its source."""

    value: Quantity | None = None
    source: str | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _positive_whole_with_source(self) -> Self:
        if self.value is None:
            return self
        if self.value.value <= 0 or not self.value.is_integer():
            raise ValueError(f"vram {self.value} must be a positive whole number of bytes")
        if not self.source:
            raise ValueError(f"vram {self.value} has no source")
        return self


class LinkKind(enum.StrEnum):
    NVLINK = "nvlink"
    HCCS = "hccs"
    XGMI = "xgmi"
    MLULINK = "mlulink"
    MTLINK = "mtlink"
    METAXLINK = "metaxlink"
    XPULINK = "xpulink"
    PCIE = "pcie"
    OTHER = "other"


class Interconnect(_Strict):
    """The device-to-device link a model offers besides PCIe (or PCIe when that is all)."""

    type: LinkKind
    links: int | None = Field(default=None, ge=0)
    """Links per device."""
    link_bandwidth_gbps: Annotated[Decimal, Field(ge=0)] | None = None
    """GB/s per link, in the direction convention below."""
    total_bandwidth_gbps: Annotated[Decimal, Field(ge=0)] | None = None
    """GB/s over all links of one device, as vendors usually state it."""
    direction: str = Field(
        default="bidirectional", pattern="^(bidirectional|per-direction|unknown)$"
    )
    p2p: bool | None = None
    """Whether devices can access each other's memory directly over it."""
    source: str | None = None
    note: str | None = None


_MODEL_NAME = r"^[A-Za-z0-9][A-Za-z0-9.+-]*$"


class Profile(_Strict):
    """One accelerator model."""

    model: str = Field(pattern=_MODEL_NAME, max_length=64)
    vendor: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    """nvidia, ascend, hygon, cambricon (HCS runs work on these), or another vendor's name."""
    aliases: list[str] = Field(default_factory=list)
    """Names tools report for it (NVML, npu-smi, hy-smi, cnmon) and names used in traces."""
    vram: VramFigure = Field(default_factory=VramFigure)
    memory_bandwidth_gbps: Figure = Field(default_factory=Figure)
    throughput: dict[Precision, Figure] = Field(default_factory=dict)
    """Dense (not sparse) TFLOPS, or TOPS for int8."""
    interconnect: Interconnect | None = None
    tdp_w: Figure = Field(default_factory=Figure)
    notes: str | None = None

    @property
    def schedulable(self) -> bool:
        """Whether HCS can run work on this vendor (it has the runtime wiring for it)."""
        return self.vendor in {str(v) for v in Vendor}

    def tflops(self, precision: Precision) -> Decimal | None:
        figure = self.throughput.get(precision)
        return None if figure is None else figure.value

    def names(self) -> list[str]:
        return [self.model, *self.aliases]

    def cited_sources(self) -> list[tuple[str, str]]:
        """(field, source id) of every sourced figure, replaced datasheet figures included."""
        cited: list[tuple[str, str]] = [("vram", self.vram.source)] if self.vram.source else []
        figures = {"memory_bandwidth_gbps": self.memory_bandwidth_gbps, "tdp_w": self.tdp_w}
        figures |= {f"throughput.{p}": f for p, f in self.throughput.items()}
        for field, figure in figures.items():
            current: Figure | None = figure
            while current is not None:
                if current.source:
                    cited.append((field, current.source))
                current = current.datasheet
        if self.interconnect and self.interconnect.source:
            cited.append(("interconnect", self.interconnect.source))
        return cited


def name_key(name: str) -> str:
    """How names are compared: case, spaces, '-' and '_' do not matter ('K100_AI' == 'k100-ai')."""
    return re.sub(r"[\s_-]+", "", name).lower()


class ProfileDatabase(_Strict):
    """A validated set of profiles and the sources their figures cite."""

    sources: dict[str, Source] = Field(default_factory=dict)
    profiles: list[Profile] = Field(default_factory=list)

    _index: dict[str, Profile] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        index: dict[str, Profile] = {}
        for profile in self.profiles:
            for key, name in {name_key(n): n for n in profile.names()}.items():
                if key in index:
                    raise ValueError(
                        f"name {name!r} of {profile.model} is already used by {index[key].model}"
                    )
                index[key] = profile
            for field, source in profile.cited_sources():
                if source not in self.sources:
                    raise ValueError(
                        f"profile {profile.model}: {field} cites unknown source {source!r}"
                    )
        self._index = index
        return self

    def get(self, name: str) -> Profile:
        """The profile whose model name or alias is `name`; UnknownModelError suggests others."""
        profile = self._index.get(name_key(name))
        if profile is None:
            every = [n for p in self.profiles for n in p.names()]
            raise UnknownModelError(name, difflib.get_close_matches(name, every, n=3, cutoff=0.5))
        return profile

    def vendors(self) -> list[str]:
        return sorted({p.vendor for p in self.profiles})


def measured_source_id(device_id: str, when: date) -> str:
    """The source id a calibration record is filed under."""
    return f"measured-{when.isoformat()}-{re.sub(r'[^A-Za-z0-9]+', '-', device_id).strip('-')}"
