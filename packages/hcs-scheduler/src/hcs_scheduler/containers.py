"""Which container of a pod gets which of the pod's devices, and how much of each.

Placement decides for the pod as a whole (its effective request). The extender writes the
result per container, because each container's `*_VISIBLE_DEVICES` and VRAM quota come from its
own annotations. App containers and sidecars run together, so they split the pod's allocation:
on a shared device each takes its own VRAM and a compute share in proportion to what it asked;
whole devices are dealt out in order, each container getting as many as its share of the
request (its `ai.compute/devices` if it gave one). Init containers run alone, before the rest,
so each may use the whole allocation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hcs_api import ContainerKind, ContainerRequest, PodRequest
from hcs_scheduler.placement import Placement


@dataclass(frozen=True)
class ContainerAllocation:
    container: str
    device_ids: tuple[str, ...]
    vram: int
    """Bytes per device (the interceptor's quota)."""
    share: int
    """Compute share per device, thousandths."""


def split(placement: Placement, pod: PodRequest) -> list[ContainerAllocation]:
    """Per container that asks for accelerators: its devices and slice of them."""
    devices, allocation = placement.device_ids, placement.allocation
    asking = [c for c in pod.containers if not c.request.is_empty()]
    running = [c for c in asking if c.kind is not ContainerKind.INIT]
    out = [
        ContainerAllocation(c.name, devices, allocation.vram, allocation.share)
        for c in asking
        if c.kind is ContainerKind.INIT
    ]
    if not running or not devices:
        return out
    weights = [_weight(c) for c in running]
    total = sum(weights) or len(running)
    if len(devices) == 1:
        for container, weight in zip(running, weights, strict=True):
            fraction = weight / total if sum(weights) else 1 / len(running)
            vram = container.request.vram or math.floor(allocation.vram * fraction)
            share = math.floor(allocation.share * fraction)
            out.append(ContainerAllocation(container.name, devices, vram, share))
        return out
    return out + _deal(running, weights, devices, allocation.vram, allocation.share)


def _deal(
    running: list[ContainerRequest],
    weights: list[float],
    devices: tuple[str, ...],
    vram: int,
    share: int,
) -> list[ContainerAllocation]:
    counts = [c.request.devices for c in running]
    if not all(counts) or sum(counts) != len(devices):
        total = sum(weights) or len(running)
        counts = [max(1, math.floor(len(devices) * w / total)) for w in weights]
        counts[-1] = max(1, len(devices) - sum(counts[:-1]))
    out, start = [], 0
    for container, count in zip(running, counts, strict=True):
        taken = devices[start : start + count] or devices[-1:]
        out.append(ContainerAllocation(container.name, taken, vram, share))
        start += count
    return out


def _weight(container: ContainerRequest) -> float:
    request = container.request
    compute = request.tflops_fp16 + request.tflops_fp32 + request.tops_int8
    return float(request.devices or compute or request.vram)
