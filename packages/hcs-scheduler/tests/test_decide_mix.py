"""prioritize plans for the recent mix of filtered requests, and follows it as it drifts: the
default policy is rebuilt for the mix every MIX_REFRESH filters, not before, not after."""

from __future__ import annotations

from typing import Any

from hcs_api.v1alpha1 import ComputeNode
from hcs_exchange import Exchange
from hcs_scheduler.extender.decide import MIX_REFRESH, Decider
from hcs_scheduler.extender.state import ClusterState


def computenode(name: str) -> ComputeNode:
    device = {"id": "nvidia-0", "uuid": f"{name}-0", "vendor": "nvidia", "vram": "80Gi"}
    return ComputeNode.model_validate(
        {
            "metadata": {"name": name},
            "spec": {
                "nodeName": name,
                "vendors": ["nvidia"],
                "devices": [device | {"model": "H100-SXM5-80G"}],
            },
        }
    )


def pod(name: str, requests: dict[str, str]) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "ml", "uid": name},
        "spec": {"containers": [{"name": "main", "resources": {"requests": requests}}]},
    }


WHOLE = pod("whole", {"ai.compute/devices": "1"})
SHARE = pod("share", {"ai.compute/tflops-fp16": "300"})
# Node a's one device is half taken, b's is free. For a mix of whole-device requests a share
# belongs on a (b stays whole); for a mix of such shares, on b (a's rest is too small for one).
FOR_WHOLE = [("a", 10), ("b", 0)]
FOR_SHARES = [("a", 0), ("b", 10)]


def test_the_policy_follows_the_mix_every_mix_refresh_filters(exchange: Exchange) -> None:
    state = ClusterState()
    for name in ("a", "b"):
        state.upsert_node(computenode(name))
    state.synced = True
    booker = Decider(state, exchange)
    state.assume("half", booker.choose(pod("half", {"ai.compute/tflops-fp16": "500"}), "a"), 60)
    chosen = Decider(state, exchange)

    def scores() -> list[tuple[str, int]]:
        return chosen.prioritize(SHARE, ["a", "b"]).pairs()

    chosen.filter(WHOLE, ["a", "b"])
    assert scores() == FOR_WHOLE  # built for the one request seen so far
    for _ in range(MIX_REFRESH - 1):
        chosen.filter(SHARE, ["a", "b"])
    assert scores() == FOR_WHOLE  # kept: one filter short of a refresh
    chosen.filter(SHARE, ["a", "b"])
    assert scores() == FOR_SHARES  # rebuilt: shares now make up the mix
