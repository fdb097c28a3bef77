"""What the extender holds per device, summed into each ComputeNode's `status.devices`.

DESIGN: the scheduler keeps its allocations on pods and sums them into status.devices, so that
`kubectl get computenode -o yaml` (and any other controller) sees what is taken. The sum is a
report, never an input: a restarted extender rebuilds from pods, so a stale status cannot be
counted twice. Only changed nodes are written; a failed write is retried at the next round.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from hcs_api import PodAllocation, Quantity, QuantityFormat
from hcs_api.v1alpha1 import ComputeNode, DeviceAllocation, Throughput
from hcs_scheduler.extender.kube import KubeError, KubePort
from hcs_scheduler.extender.state import ClusterState

log = logging.getLogger(__name__)


def device_allocations(node: ComputeNode, held: list[PodAllocation]) -> list[dict[str, Any]]:
    """status.devices of `node` for the allocations held on it, as wire dicts, by device id."""
    specs = {d.id: d for d in node.spec.devices}
    vram: dict[str, int] = {}
    share: dict[str, int] = {}
    pods: dict[str, int] = {}
    for allocation in held:
        for device in allocation.device_ids():
            if device in specs:
                vram[device] = vram.get(device, 0) + allocation.vram
                share[device] = share.get(device, 0) + allocation.share
                pods[device] = pods.get(device, 0) + 1
    out = []
    for device in sorted(vram, key=lambda d: list(specs).index(d)):
        compute = _scaled(specs[device].compute, share[device])
        entry = DeviceAllocation(
            id=device,
            vram=Quantity.from_value(vram[device], QuantityFormat.BINARY_SI),
            compute=compute,
            pods=pods[device],
        )
        out.append(entry.to_wire())
    return out


def _scaled(total: Throughput, share: int) -> Throughput:
    """The part of a device's throughput a compute share (thousandths) stands for."""

    def part(value: Quantity | None) -> Quantity | None:
        if value is None:
            return None
        return Quantity((value.value * share / 1000).quantize(Decimal("0.001")))

    return Throughput(
        fp16=part(total.fp16), bf16=part(total.bf16), fp32=part(total.fp32), int8=part(total.int8)
    )


class StatusWriter:
    """Writes status.devices of the nodes whose sums changed since the last write.

    Only nodes whose allocations changed are summed again (every node on the first round),
    and the loop is yielded between nodes: the extender's requests wait for no round. Only the
    leader writes (`leading`); a standby forgets what it wrote (another leader writes since), so
    its first round as leader sums every node again, as at start.
    """

    def __init__(
        self,
        state: ClusterState,
        kube: KubePort,
        interval: float,
        leading: Callable[[], bool] = lambda: True,
    ) -> None:
        self.state = state
        self.kube = kube
        self.interval = interval
        self.leading = leading
        self._written: dict[str, list[dict[str, Any]]] = {}
        self._pending: set[str] | None = None
        """Nodes to sum at the next round; None: every node (nothing summed yet)."""

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            if not self.leading():
                self.forget()
            elif self.state.synced:
                await self.write_changed()

    def forget(self) -> None:
        """Drop what was written and what changed: the next round sums every node again."""
        self.state.take_changed_nodes()
        self._written.clear()
        self._pending = None

    async def write_changed(self) -> int:
        """One round; returns how many nodes were written."""
        changed = self.state.take_changed_nodes()
        pending = set(self.state.nodes) if self._pending is None else self._pending | changed
        self._pending = set()
        held: dict[str, list[PodAllocation]] = {}
        for _, allocation in self.state.held():
            if allocation.node in pending:
                held.setdefault(allocation.node, []).append(allocation)
        written = 0
        for name in sorted(pending):
            await asyncio.sleep(0)  # one node at a time between the extender's requests
            node = self.state.nodes.get(name)
            if node is None:
                self._written.pop(name, None)
                continue
            devices = device_allocations(node, held.get(name, []))
            if self._written.get(name) == devices or (
                name not in self._written and devices == _reported(node)
            ):
                continue
            try:
                await self.kube.patch_computenode_status(node.metadata.name, {"devices": devices})
            except KubeError as error:
                log.warning("could not write status.devices of %s: %s", name, error)
                self._pending.add(name)  # retried at the next round
                continue
            self._written[name] = devices
            written += 1
        return written


def _reported(node: ComputeNode) -> list[dict[str, Any]]:
    if node.status is None:
        return []
    return [d.to_wire() for d in node.status.devices]
