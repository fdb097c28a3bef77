"""The two servers fuzz.py throws bodies at, and the recorded bodies it starts from.

Run as a program, it serves one of them on 127.0.0.1 (an ephemeral port) and prints
`listening <port>` once it answers, as bench/webhook_latency.py and bench/extender_latency.py
run theirs: in a process of its own, so that a crash is seen as a dead process (and the fuzzer
can start a fresh one and go on), and the load generator has the other core.

    python fuzz_servers.py webhook|extender WORKDIR [SEED]

- webhook: hcs-webhook's `create_app` over TLS (a self-signed certificate in WORKDIR), the
  test suite's settings (runtime images for NVIDIA and Ascend), in-memory ports: one
  ComputeQuota in namespace ml-team, a planner answering NVIDIA H100.
- extender: hcs-scheduler's `create_app` following an InMemoryKube with ComputeNodes of all four
  vendors, a ComputeQuota in namespace ml, and BIND_PODS pending pods in namespace fuzz, each
  a recorded pod with one to three mutations of its ai.compute requests and hcs.io/ annotations
  (generated from SEED), for /bind to read.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sys
from pathlib import Path
from typing import Any

import orjson
from fuzz_bodies import Family, Mutator

ROOT = Path(__file__).resolve().parents[2]
WEBHOOK_DATA = ROOT / "packages" / "hcs-webhook" / "tests" / "data"
EXTENDER_DATA = ROOT / "packages" / "hcs-scheduler" / "tests" / "extender_payloads"
BIND_PODS = 64
NODE_NAMES = ["gpu-a100-40g", "gpu-h100", "npu-910b1", "dcu-k100", "mlu-370", "cpu-only"]


def _load(path: Path) -> Any:
    return orjson.loads(path.read_bytes())


def recorded_reviews() -> list[dict[str, Any]]:
    return [_load(p) for p in sorted(WEBHOOK_DATA.glob("*.json"))]


def recorded_pods() -> list[dict[str, Any]]:
    """The pods of the recorded reviews and of kube-scheduler's recorded ExtenderArgs."""
    pods = [r["request"]["object"] for r in recorded_reviews()]
    return [*pods, _load(EXTENDER_DATA / "filter-args.json")["Pod"]]


def webhook_families() -> list[Family]:
    reviews = tuple(orjson.dumps(r) for r in recorded_reviews())
    return [Family(("/mutate", "/validate"), reviews)]


def extender_families() -> list[Family]:
    recorded = _load(EXTENDER_DATA / "filter-args.json")
    pods = recorded_pods()
    args = [recorded] + [{"Pod": pod, "NodeNames": NODE_NAMES} for pod in pods]
    as_list = {"Pod": pods[0], "Nodes": {"items": [{"metadata": {"name": n}} for n in NODE_NAMES]}}
    lower = {"pod": pods[-1], "nodenames": NODE_NAMES[:3]}
    binds = [
        {"PodName": f"fuzz-{i}", "PodNamespace": "fuzz", "PodUID": f"uid-{i}", "Node": node}
        for i in range(BIND_PODS)
        for node in NODE_NAMES[i % 3 :: 3]
    ]
    return [
        Family(("/filter", "/prioritize"), tuple(map(orjson.dumps, [*args, as_list, lower])), 6),
        Family(("/plan",), tuple(orjson.dumps({"pod": pod}) for pod in pods), 2),
        Family(("/bind",), tuple(map(orjson.dumps, binds)), 2),
    ]


def bind_pods(seed: int) -> list[dict[str, Any]]:
    """BIND_PODS pending pods with mutated requests and annotations, as the API would hold them
    (only what the API server could store: orjson refuses what JSON cannot carry)."""
    rng = random.Random(seed)
    mutator = Mutator(rng)
    pods: list[dict[str, Any]] = []
    while len(pods) < BIND_PODS:
        i = len(pods)
        pod = orjson.loads(orjson.dumps(rng.choice(recorded_pods())))
        for _ in range(rng.randint(1, 3)):
            rng.choice([mutator.compute, mutator.zero_only, mutator.annotation])({"Pod": pod})
        pod["metadata"] = {**pod.get("metadata", {}), "name": f"fuzz-{i}", "uid": f"uid-{i}"}
        pod["metadata"]["namespace"] = "fuzz"
        pod.setdefault("spec", {}).pop("nodeName", None)
        try:
            orjson.dumps(pod)
        except TypeError:
            continue
        pods.append(pod)
    return pods


def computenode(name: str, model: str, vendor: str, count: int, vram: str) -> dict[str, Any]:
    devices = [
        {"id": str(i), "uuid": f"{name}-{i}", "vendor": vendor, "model": model, "vram": vram}
        for i in range(count)
    ]
    return {
        "apiVersion": "hcs.io/v1alpha1",
        "kind": "ComputeNode",
        "metadata": {"name": name},
        "spec": {"nodeName": name, "vendors": [vendor], "devices": devices},
    }


COMPUTENODES = [
    computenode("gpu-a100-40g", "A100-SXM4-40G", "nvidia", 1, "40Gi"),
    computenode("gpu-h100", "H100-SXM5-80G", "nvidia", 8, "80Gi"),
    computenode("npu-910b1", "Ascend-910B1", "ascend", 8, "64Gi"),
    computenode("dcu-k100", "Hygon-K100-AI", "hygon", 8, "64Gi"),
    computenode("mlu-370", "MLU370-X8", "cambricon", 8, "24Gi"),
]


def quota(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "hcs.io/v1alpha1",
        "kind": "ComputeQuota",
        "metadata": {"name": "team", "namespace": namespace},
        "spec": {"hard": {"vram": "4Ti", "acu": "100000", "devices": 64}},
    }


async def serve_webhook(workdir: Path) -> None:
    from aiohttp import web

    from hcs_api import PlanResult
    from hcs_api.v1alpha1 import ComputeNode, ComputeQuota
    from hcs_exchange import Exchange, load_database
    from hcs_webhook import Deps, create_app
    from hcs_webhook.ports import FakePlanner, InMemoryCluster
    from hcs_webhook.settings import VendorRuntime, VendorTable, WebhookSettings
    from hcs_webhook.tls import ReloadingTLS, self_signed

    settings = WebhookSettings(
        vendors=VendorTable(
            nvidia=VendorRuntime(runtime_image="nvcr.io/nvidia/cuda:12.4.1-runtime-ubuntu22.04"),
            ascend=VendorRuntime(runtime_image="ascendhub.example/ascend-cann:8.0-ubuntu22.04"),
        )
    )
    cluster = InMemoryCluster(
        quotas=[ComputeQuota.model_validate(quota("ml-team"))],
        nodes=[ComputeNode.model_validate(n) for n in COMPUTENODES],
    )
    planner = FakePlanner(lambda pod: PlanResult(vendor="nvidia", model="H100-SXM5-80G"))
    app = create_app(settings, Deps(cluster, planner, Exchange(load_database())))
    cert, key = self_signed(workdir, ["127.0.0.1", "localhost"])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ReloadingTLS(cert, key).context)
    await site.start()
    print(f"listening {runner.addresses[0][1]}", flush=True)
    await asyncio.Event().wait()


async def serve_extender(seed: int) -> None:
    from aiohttp import web

    from hcs_scheduler.extender.app import create_app
    from hcs_scheduler.extender.build import build_extender
    from hcs_scheduler.extender.kube import InMemoryKube, Kind
    from hcs_scheduler.extender.settings import ExtenderSettings

    kube = InMemoryKube()
    for node in COMPUTENODES:
        kube.apply(Kind.COMPUTE_NODE, node)
    kube.apply(Kind.COMPUTE_QUOTA, quota("ml"))
    for pod in bind_pods(seed):
        kube.apply(Kind.POD, pod)
    extender = build_extender(ExtenderSettings(), kube)
    runner = web.AppRunner(create_app(extender), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    leader = extender.leader
    while not (extender.state.synced and (leader is None or leader.is_leader)):
        await asyncio.sleep(0.01)  # kube-scheduler would get 503 until then
    print(f"listening {runner.addresses[0][1]}", flush=True)
    await asyncio.Event().wait()


def main(argv: list[str]) -> None:
    kind, workdir = argv[1], Path(argv[2])
    seed = int(argv[3]) if len(argv) > 3 else 1
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    if kind == "webhook":
        asyncio.run(serve_webhook(workdir))
    elif kind == "extender":
        asyncio.run(serve_extender(seed))
    else:
        raise SystemExit(f"unknown server {kind!r}: webhook or extender")


if __name__ == "__main__":
    main(sys.argv)
