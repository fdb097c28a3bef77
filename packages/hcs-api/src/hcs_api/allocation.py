"""The scheduler's decision as it is written onto a pod, and read back by everyone else.

The extender writes these annotations at bind time, before the Binding exists, so that by the
time the kubelet starts a container they are there for the downward API:

- `hcs.io/node`, `hcs.io/vendor`: the choice, for humans and for node-local tools;
- `hcs.io/allocation`: the whole decision as JSON (`PodAllocation`), from which a restarted
  scheduler rebuilds its accounting; device ids are vendor-qualified (`nvidia-0`), as in the
  ComputeNode;
- `hcs.io/devices.<container>`: the container's devices, comma-separated, in the vendor's own
  numbering (`0,1`), the form its `*_VISIBLE_DEVICES` variables understand; the webhook points
  every vendor's variable at it, so it resolves on whichever vendor's node the pod lands;
- `hcs.io/vram-quota.<container>`: the container's VRAM slice per device in bytes, read by the
  interceptor as `HCS_VRAM_QUOTA`.

Only HCS writes these (the webhook rejects a user who sets one).
"""

from __future__ import annotations

import json
from typing import Any, Self

from pydantic import Field, ValidationError, model_validator

from hcs_api.errors import HcsApiError, describe_validation_error
from hcs_api.names import (
    Annotation,
    BindPhase,
    Vendor,
    devices_annotation,
    qualify_device_id,
    vendor_index,
    vram_quota_annotation,
)
from hcs_api.v1alpha1._base import WireModel


class ContainerAllocation(WireModel):
    """What one container was given."""

    container: str = Field(min_length=1, max_length=63)
    """The container's name."""
    devices: list[str] = Field(min_length=1)
    """Device ids (ComputeNode `spec.devices[].id`, `<vendor>-<index>`)."""
    vram: int = Field(ge=0)
    """VRAM per device in bytes: the interceptor's quota."""
    share: int = Field(ge=0, le=1000)
    """Compute share per device in thousandths (1000 = the whole device)."""


class PodAllocation(WireModel):
    """The pod's placement: node, vendor, device model and each container's devices."""

    node: str = Field(min_length=1, max_length=253)
    """The node the pod is bound to."""
    vendor: Vendor
    """The vendor of every device given."""
    model: str = Field(min_length=1, max_length=128)
    """The hcs-exchange profile name of the devices given."""
    vram: int = Field(ge=0)
    """VRAM the pod holds on each of its devices, in bytes (all of it for whole devices)."""
    share: int = Field(ge=0, le=1000)
    """Compute share the pod holds on each of its devices, in thousandths."""
    containers: list[ContainerAllocation] = Field(min_length=1)
    """Per container that asked for accelerators."""

    @model_validator(mode="before")
    @classmethod
    def _qualify_legacy_ids(cls, data: Any) -> Any:
        """A record written before the rule names devices by bare index ("0"): read it with the
        allocation's vendor, so a restarted extender rebuilds old pods against new ComputeNodes."""
        if not isinstance(data, dict) or not isinstance(data.get("vendor"), str):
            return data
        containers = data.get("containers")
        if not isinstance(containers, list):
            return data
        vendor = data["vendor"]
        return {**data, "containers": [_qualified_container(vendor, c) for c in containers]}

    @model_validator(mode="after")
    def _devices_are_the_vendors(self) -> Self:
        for container in self.containers:
            for device in container.devices:
                if not device.startswith(f"{self.vendor}-"):
                    raise ValueError(
                        f"container {container.container}: device id {device} does not start "
                        f"with the allocation's vendor ({self.vendor}-)"
                    )
                vendor_index(device)
        return self

    def device_ids(self) -> list[str]:
        """Every device the pod holds, each once, in first-seen order."""
        return list(dict.fromkeys(d for c in self.containers for d in c.devices))


def allocation_annotations(allocation: PodAllocation, phase: BindPhase) -> dict[str, str]:
    """Every decision annotation the extender writes for `allocation`."""
    out = {
        Annotation.NODE.value: allocation.node,
        Annotation.VENDOR.value: allocation.vendor.value,
        Annotation.ALLOCATION.value: json.dumps(allocation.to_wire(), separators=(",", ":")),
        Annotation.BIND_PHASE.value: phase.value,
    }
    for container in allocation.containers:
        # The vendor's own numbering: this value becomes *_VISIBLE_DEVICES on the node.
        visible = ",".join(vendor_index(device) for device in container.devices)
        out[devices_annotation(container.container)] = visible
        out[vram_quota_annotation(container.container)] = str(container.vram)
    return out


def read_allocation(annotations: dict[str, str]) -> PodAllocation | None:
    """The allocation recorded on a pod, or None if it has none.

    Raises HcsApiError naming the problem when the annotation is there but unreadable (a
    corrupted record must not be mistaken for a pod that holds nothing).
    """
    raw = annotations.get(Annotation.ALLOCATION.value)
    if raw is None:
        return None
    try:
        return PodAllocation.model_validate_json(raw)
    except ValidationError as error:
        raise HcsApiError(
            f"annotation {Annotation.ALLOCATION.value} is not a valid allocation: "
            + "; ".join(describe_validation_error(error))
        ) from error


def _qualified_container(vendor: str, container: Any) -> Any:
    """`container` (a dict or a ContainerAllocation) with bare indexes qualified by `vendor`; ids
    that cannot be qualified are kept for the validators to name."""
    if isinstance(container, ContainerAllocation):
        devices = _qualified_ids(vendor, container.devices)
        if devices == container.devices:
            return container
        return container.model_copy(update={"devices": devices})
    if isinstance(container, dict) and isinstance(container.get("devices"), list):
        return {**container, "devices": _qualified_ids(vendor, container["devices"])}
    return container


def _qualified_ids(vendor: str, raw: list[Any]) -> list[Any]:
    out = []
    for device in raw:
        try:
            out.append(qualify_device_id(vendor, device) if isinstance(device, str) else device)
        except HcsApiError:
            out.append(device)
    return out
