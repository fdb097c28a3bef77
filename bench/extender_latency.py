"""The extender over HTTP as kube-scheduler drives it: filter, prioritize, bind, pod after pod.

The server runs `hcs-scheduler serve`'s app in its own process, following an in-memory API
(InMemoryKube: real list + watch, annotation patches, Bindings) that holds --nodes ComputeNodes
x 8 devices of 4 vendors, two bound share-sized pods per node on average with the status.devices
they sum to (the cache rebuilds them from their annotations at start, as after a restart), and
the pending pods of the run.
The load generator plays kube-scheduler for each pending pod: filter with every node name
(nodeCacheCapable sends names only), prioritize with the names filter passed, then bind to a
random top-scored node without waiting for it, as kube-scheduler's binding cycle runs beside the
next pod's scheduling cycle. Every decision sees the allocations of the binds that reached the
server before it, as in a cluster; nothing is answered from a cache of identical requests.

Printed: p50/p99 of filter + prioritize (the budget's measure), of bind, and pods/s, for
  - 1 in flight: kube-scheduler's own pattern (one scheduling cycle at a time, binds beside it);
  - --concurrency in flight back to back (closed loop): the server's capacity; latency is then
    mostly queueing (Little's law: in flight / throughput);
  - --concurrency connections at each of --rates pods/s offered (open loop): latency under
    that load, each pod's counted from its scheduled start.
The load generator is Python on the same (2, shared) cores; it encodes with orjson, as
kube-scheduler's Go encoder is not what is measured.

    .venv/bin/python bench/extender_latency.py [--nodes 5000] [--requests 300]
        [--concurrency 20] [--rates 50,100]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import multiprocessing.synchronize
import os
import socket
import statistics
import time
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import aiohttp
import numpy as np
import orjson
from aiohttp import web

from hcs_api import PodAllocation, allocation_annotations
from hcs_api.names import BindPhase
from hcs_api.v1alpha1 import ComputeNode
from hcs_scheduler.extender.app import create_app
from hcs_scheduler.extender.build import build_extender
from hcs_scheduler.extender.decide import Unschedulable
from hcs_scheduler.extender.kube import InMemoryKube, Kind
from hcs_scheduler.extender.settings import ExtenderSettings
from hcs_scheduler.extender.status import device_allocations

MODELS = [
    ("H100-SXM5-80G", "nvidia", "80Gi"),
    ("Ascend-910B1", "ascend", "64Gi"),
    ("Hygon-K100-AI", "hygon", "64Gi"),
    ("MLU370-X8", "cambricon", "24Gi"),
]
SHAPES = [("16Gi", 50), ("40Gi", 150), ("8Gi", 20), ("60Gi", 300)]
"""(VRAM, TFLOPS fp16) of the pending pods, in turn."""
WARM_UP = 20


def make_nodes(count: int) -> list[ComputeNode]:
    nodes = []
    for n in range(count):
        model, vendor, vram = MODELS[n % len(MODELS)]
        name = f"node-{n:05d}"
        ids = [f"{vendor}-{i}" for i in range(8)]  # device ids are vendor-qualified
        devices = [
            {
                "id": i,
                "uuid": f"{name}-{i}",
                "vendor": vendor,
                "model": model,
                "vram": vram,
                "links": [{"type": "pcie", "peers": [p for p in ids if p != i]}],
            }
            for i in ids
        ]
        spec = {"nodeName": name, "vendors": [vendor], "devices": devices}
        body = {"metadata": {"name": name}, "spec": spec}
        nodes.append(ComputeNode.model_validate(body))
    return nodes


def pod(name: str, vram: str, fp16: int) -> dict[str, object]:
    requests = {"ai.compute/vram": vram, "ai.compute/tflops-fp16": str(fp16)}
    return {
        "metadata": {"name": name, "namespace": "bench", "uid": name},
        "spec": {"containers": [{"name": "main", "resources": {"requests": requests}}]},
    }


def pending_pod(i: int) -> dict[str, object]:
    return pod(f"p{i}", *SHAPES[i % len(SHAPES)])


def fill(
    nodes: list[ComputeNode], count: int
) -> tuple[list[dict[str, object]], dict[str, list[dict[str, Any]]]]:
    """`count` share-sized pods bound to random nodes, annotated as the extender records them,
    and each node's status.devices as the extender that bound them wrote it."""
    planner = build_extender(ExtenderSettings(), None, nodes=nodes)
    rng = np.random.default_rng(0)
    names = sorted(planner.state.nodes)
    pods = []
    for i in range(count):
        body = pod(f"fill-{i}", "8Gi", 20)
        try:
            allocation = planner.decider.choose(body, names[int(rng.integers(len(names)))])
        except Unschedulable:
            continue
        planner.state.assume(f"fill-{i}", allocation, ttl=1e9)
        planner.state.confirm(f"fill-{i}")
        metadata = body["metadata"]
        assert isinstance(metadata, dict)
        metadata["annotations"] = allocation_annotations(allocation, BindPhase.BOUND)
        body["spec"] = {**body["spec"], "nodeName": allocation.node}  # type: ignore[dict-item]
        pods.append(body)
    held: dict[str, list[PodAllocation]] = {}
    for _, allocation in planner.state.held():
        held.setdefault(allocation.node, []).append(allocation)
    by_name = {node.spec.node_name: node for node in nodes}
    statuses = {name: device_allocations(by_name[name], pods) for name, pods in held.items()}
    return pods, statuses


def pin(cpu: int | None) -> None:
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})


def serve(
    cpu: int | None, nodes: int, pending: int, port: int, ready: multiprocessing.synchronize.Event
) -> None:
    pin(cpu)
    computenodes = make_nodes(nodes)
    kube = InMemoryKube()
    pods, statuses = fill(computenodes, nodes * 2)
    for node in computenodes:
        wire = node.to_wire()
        wire["status"] = {"devices": statuses.get(node.spec.node_name, [])}
        kube.apply(Kind.COMPUTE_NODE, wire)
    for body in pods:
        kube.apply(Kind.POD, body)
    for i in range(pending):
        kube.apply(Kind.POD, pending_pod(i))

    def synced() -> None:  # as `hcs-scheduler serve` does once its cache is filled
        gc.freeze()
        ready.set()

    extender = build_extender(ExtenderSettings(), kube, on_synced=synced)
    web.run_app(create_app(extender), host="127.0.0.1", port=port, print=None)


@dataclass
class Run:
    pairs: list[float] = field(default_factory=list)
    """Seconds of filter + prioritize per pod (from its scheduled start in open loop)."""
    binds: list[float] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    """Binds answered with an error (the node filled up under a concurrent bind)."""
    elapsed: float = 0.0


async def load(
    port: int,
    names: list[str],
    first: int,
    count: int,
    concurrency: int,
    rate: float | None = None,
) -> Run:
    """Pods first..first+count-1 scheduled by `concurrency` workers: back to back, or (with
    `rate`) each at its slot of a fixed schedule of `rate` pods/s."""
    url = f"http://127.0.0.1:{port}"
    run = Run()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(first, first + count):
        queue.put_nowait(i)
    headers = {"Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=2 * concurrency)  # binds have connections too
    started_all = time.perf_counter()
    start = started_all + 0.05
    rng = np.random.default_rng(first)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def post(verb: str, body: object) -> bytes:
            async with session.post(f"{url}/{verb}", data=orjson.dumps(body)) as response:
                return await response.read()

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                body = pending_pod(i)
                started = time.perf_counter()
                if rate is not None:
                    started = start + (i - first) / rate
                    await asyncio.sleep(max(0.0, started - time.perf_counter()))
                passed = orjson.loads(await post("filter", {"Pod": body, "NodeNames": names}))
                answer = await post("prioritize", {"Pod": body, "NodeNames": passed["NodeNames"]})
                # Latency ends once the answer is received, as an HTTP benchmark counts it; its
                # decoding is the caller's work (the filter answer's is counted: the
                # prioritize request needs it).
                run.pairs.append(time.perf_counter() - started)
                scores = orjson.loads(answer)
                if not scores:
                    run.refused.append(f"p{i}: no node fits")
                    continue
                # kube-scheduler binds in a goroutine of its own: the next pod's scheduling
                # cycle does not wait for this bind.
                binds.append(asyncio.create_task(bind(i, pick(scores, rng))))

        async def bind(i: int, node: str) -> None:
            binding = {"PodName": f"p{i}", "PodNamespace": "bench", "PodUID": f"p{i}"}
            started = time.perf_counter()
            bound = orjson.loads(await post("bind", {**binding, "Node": node}))
            run.binds.append(time.perf_counter() - started)
            if bound.get("Error"):
                run.refused.append(str(bound["Error"]))

        binds: list[asyncio.Task[None]] = []
        # The generator's own collector pauses (tens of ms over thousands of decoded
        # priorities) are not the server's latency: no collections while pods are in flight.
        gc.disable()
        try:
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            await asyncio.gather(*binds)
        finally:
            gc.enable()
    run.elapsed = time.perf_counter() - started_all
    return run


def pick(scores: list[dict[str, object]], rng: np.random.Generator) -> str:
    """kube-scheduler's choice when HCS's score is all that differs: a random top-scored host."""
    top = max(map(itemgetter("Score"), scores))
    hosts = [s["Host"] for s in scores if s["Score"] == top]
    return str(hosts[int(rng.integers(len(hosts)))])


def percentiles(seconds: list[float]) -> str:
    ms = sorted(x * 1000 for x in seconds)
    if not ms:
        return "-"
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return f"p50 {statistics.median(ms):6.2f} ms  p99 {p99:6.2f} ms"


def report(label: str, run: Run) -> None:
    pods = len(run.pairs)
    print(
        f"  {label:<40} filter+prioritize {percentiles(run.pairs)} | "
        f"bind {percentiles(run.binds)} | {pods / run.elapsed:5.0f} pods/s"
        + (f" | {len(run.refused)} binds refused" if run.refused else "")
    )


async def server_times(port: int) -> dict[str, float]:
    """Mean milliseconds the server spent in each verb's handler (its latency histogram)."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/metrics") as response,
    ):
        text = await response.text()
    totals: dict[str, float] = {}
    for line in text.splitlines():
        for verb in ("filter", "prioritize", "bind"):
            for kind in ("sum", "count"):
                prefix = f'hcs_extender_decision_seconds_{kind}{{verb="{verb}"}} '
                if line.startswith(prefix):
                    totals[f"{verb}_{kind}"] = float(line[len(prefix) :])
    verbs = ("filter", "prioritize", "bind")
    return {v: 1000 * totals[f"{v}_sum"] / totals[f"{v}_count"] for v in verbs}


def serve_canned(
    cpu: int | None, nodes: int, port: int, ready: multiprocessing.synchronize.Event
) -> None:
    """The transport floor: the same HTTP stack answering canned bodies of the extender's sizes
    (every node passes filter, every node scored), deciding nothing."""
    pin(cpu)
    names = [f"node-{n:05d}" for n in range(nodes)]
    passed = orjson.dumps({"NodeNames": names, "FailedNodes": {}, "Error": ""})
    scored = orjson.dumps([{"Host": n, "Score": i % 11} for i, n in enumerate(names)])
    answers = {"filter": passed, "prioritize": scored, "bind": b'{"Error":""}'}

    async def answer(request: web.Request) -> web.Response:
        await request.read()
        body = answers[request.match_info["verb"]]
        return web.Response(body=body, content_type="application/json")

    app = web.Application(client_max_size=64 << 20)
    app.router.add_post("/{verb}", answer)
    ready.set()
    web.run_app(app, host="127.0.0.1", port=port, print=None)


def start(target: Any, *args: object) -> tuple[multiprocessing.Process, int]:
    """A server process on a free port, once it says it is ready."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ready = multiprocessing.Event()
    server = multiprocessing.Process(target=target, args=(*args, port, ready), daemon=True)
    server.start()
    if not ready.wait(900):
        raise SystemExit("the server did not get ready in 900 s")
    time.sleep(0.5)
    return server, port


def measure(
    port: int, names: list[str], args: argparse.Namespace, rates: list[float]
) -> dict[str, Run]:
    """Every mode once, against the server on `port`; pods after the warm-up ones."""
    asyncio.run(load(port, names, 0, WARM_UP, 1))
    first = WARM_UP
    runs: dict[str, Run] = {}
    for concurrency in (1, args.concurrency):
        label = f"{concurrency} in flight (closed loop)"
        runs[label] = asyncio.run(load(port, names, first, args.requests, concurrency))
        report(label, runs[label])
        first += args.requests
    for rate in rates:
        label = f"{args.concurrency} connections, {rate:g} pods/s offered"
        runs[label] = asyncio.run(load(port, names, first, args.requests, args.concurrency, rate))
        report(label, runs[label])
        first += args.requests
    return runs


def p99_ms(run: Run) -> float:
    ms = sorted(x * 1000 for x in run.pairs)
    return ms[min(len(ms) - 1, int(len(ms) * 0.99))] if ms else float("nan")


def compare(hcs: dict[str, Run], floor: dict[str, Run]) -> None:
    """Each mode's filter + prioritize p99 beside the floor's of the same run, and the ratio:
    the part of the latency that is HCS's deciding rather than the stack's carrying."""
    print("filter + prioritize p99, HCS vs the transport floor (same load, same run):")
    for label, run in hcs.items():
        mine, base = p99_ms(run), p99_ms(floor[label])
        print(
            f"  {label:<40} HCS {mine:7.2f} ms  floor {base:7.2f} ms  "
            f"ratio {mine / base:5.2f}  HCS minus floor {mine - base:7.2f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=300, help="pods per run")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument(
        "--rates",
        default="50,100",
        help="open-loop runs: pods/s offered in total over --concurrency connections",
    )
    parser.add_argument(
        "--no-floor", action="store_true", help="skip the transport-floor runs (canned answers)"
    )
    parser.add_argument(
        "--pin", action="store_true", help="server on CPU 1, load generator on CPU 0 (2+ cores)"
    )
    args = parser.parse_args()
    server_cpu = 1 if args.pin else None
    pin(0 if args.pin else None)
    rates = [float(r) for r in args.rates.split(",") if r]
    pending = WARM_UP + (2 + len(rates)) * args.requests
    names = [f"node-{n:05d}" for n in range(args.nodes)]
    server, port = start(serve, server_cpu, args.nodes, pending)
    print(
        f"extender over HTTP: {args.nodes} nodes x 8 devices, {args.requests} pods per run, "
        "each filter + prioritize + bind"
    )
    runs = measure(port, names, args, rates)
    times = asyncio.run(server_times(port))
    print(
        "  server time per request (handler, from /metrics): "
        + ", ".join(f"{verb} {ms:.2f} ms" for verb, ms in times.items())
    )
    server.terminate()
    if not args.no_floor:
        server, port = start(serve_canned, server_cpu, args.nodes)
        print("transport floor: the same load against canned answers of the same sizes")
        floor = measure(port, names, args, rates)
        server.terminate()
        compare(runs, floor)
    print("budget: filter + prioritize p99 under 10 ms at 1 in flight and at 100 pods/s offered")


if __name__ == "__main__":
    main()
