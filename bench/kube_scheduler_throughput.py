"""End-to-end scheduling throughput with the real kube-scheduler: alone vs with the HCS extender.

DESIGN's budget: with the HCS extender, at least 70 % of kube-scheduler's own pods/s on the
same nodes (500 and 5,000 nodes x 8 devices), measured in one run.

Per --nodes size, one control plane (etcd + kube-apiserver from tools/controlplane, through
hcs_envtest) holds Node objects (cpu 64, memory 512Gi, pods 110, `example.com/gpu: 8` and the
`ai.compute/*` resources hcs-agent advertises) and their ComputeNodes (the real agent reports
node-00000 with 8 H100s; the others are clones created through the API). Then two phases, one
after the other, each in a fresh namespace:

  1. kube-scheduler alone: HCS's shipped KubeSchedulerConfiguration minus `extenders`; pods ask
     `example.com/gpu: 1`, which kube-scheduler's own NodeResourcesFit accounts;
  2. kube-scheduler + HCS: the shipped configuration, its extender `hcs-scheduler serve` (ready:
     cache holds every ComputeNode); pods ask `ai.compute/devices: 1` (filter, prioritize and
     bind go through the extender).

Pods are created from a thread pool as fast as the API takes them (as scheduler_perf's
SchedulingBasic: the queue fills faster than the scheduler drains it). One watch on the
namespace's pods notes when each was first seen bound (spec.nodeName). Per pod, latency = bind
observed - create issued; throughput = pods bound / (last bind observed - first create issued).
No webhook runs (pods name the scheduler themselves) and no kubelet (pods stay Pending, bound).
Everything, load generator included, shares this machine's cores with the control plane, so
beside the figures each phase prints every process's CPU seconds, kube-apiserver's requests by
kind, kube-scheduler's attempt and the extender's per-verb means; the HCS phase ends with a check
of every bound pod's hcs.io/allocation. `--extender-env HCS_SCHEDULER_X=V` sets the extender's
settings (default: none, as shipped); `--workdir DIR` keeps the processes' logs.

    HCS_CONTROLPLANE_BIN=$(make -s controlplane) .venv/bin/python \\
        bench/kube_scheduler_throughput.py --nodes 500,5000 --pods 2000 [--qps Q --burst B]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kube_cluster as kc
import kube_probes as kp
import orjson
from hcs_envtest import ControlPlane, Process
from kubernetes import client

from hcs_api import read_allocation

SCHEDULER_NAME = "hcs-scheduler"  # the shipped profile's schedulerName
BUDGET = 0.70


@dataclass(frozen=True)
class Phase:
    name: str
    slug: str
    resource: str
    with_hcs: bool


PHASES = (
    Phase("kube-scheduler alone", "alone", kc.BASELINE_RESOURCE, with_hcs=False),
    Phase("kube-scheduler + HCS", "hcs", "ai.compute/devices", with_hcs=True),
)


@dataclass
class Result:
    phase: Phase
    load: str
    created: int = 0
    bound: int = 0
    seconds: float = 0.0
    creates_seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    client: str = ""
    cpu: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    correct: bool = True
    """False when the allocation check (HCS phase) found a pod without, or double-booked."""

    @property
    def rate(self) -> float:
        return self.bound / self.seconds if self.seconds > 0 else 0.0

    def quantile(self, q: float) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] if self.latencies else float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[round(q * 100) - 1]


def pod_body(name: str, resource: str) -> dict[str, Any]:
    ask = {resource: "1"}
    return {
        "metadata": {"name": name},
        "spec": {
            "schedulerName": SCHEDULER_NAME,
            "automountServiceAccountToken": False,
            "terminationGracePeriodSeconds": 0,
            "containers": [
                {
                    "name": "main",
                    "image": "registry.example/train:1",
                    "resources": {"requests": ask, "limits": ask},
                }
            ],
        },
    }


def create_pods(
    clients: kc.Clients, namespace: str, count: int, resource: str, threads: int
) -> dict[str, float]:
    """Create `count` pods from `threads` threads; when each create call was issued."""
    issued: dict[str, float] = {}

    def create(name: str) -> None:
        body = pod_body(name, resource)
        issued[name] = time.monotonic()
        clients.send("POST", f"/api/v1/namespaces/{namespace}/pods", body)

    kc.run_all(create, [f"pod-{i:05d}" for i in range(count)], threads)
    return issued


def make_namespace(api: Any, name: str) -> None:
    core = client.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": name}})
    # kube-controller-manager would make it; the ServiceAccount admission plugin wants it.
    core.create_namespaced_service_account(name, {"metadata": {"name": "default"}})


def start_phase(
    stack: contextlib.ExitStack,
    plane: ControlPlane,
    phase: Phase,
    index: int,
    args: argparse.Namespace,
) -> tuple[dict[str, Process], str | None]:
    """The phase's processes (stopped by `stack`), kube-scheduler last, once it leads; the
    extender's URL."""
    processes: dict[str, Process] = {}
    url = None
    if phase.with_hcs:
        started = time.monotonic()
        extender, url = kc.start_extender(plane, args.timeout, args.extender_env)
        stack.callback(extender.stop)
        processes["hcs-scheduler"] = extender
        print(f"  hcs-scheduler ready (cache synced) in {time.monotonic() - started:.1f} s")
    lease = f"bench-{index}-{phase.slug}"
    config = kc.scheduler_config(lease, url, args.qps, args.burst)
    scheduler = kc.start_kube_scheduler(plane, f"kube-scheduler-{index}-{phase.slug}", config)
    stack.callback(scheduler.stop)
    processes["kube-scheduler"] = scheduler
    return processes, url


def client_settings(plane: ControlPlane, scheduler: Process, args: argparse.Namespace) -> str:
    """kube-scheduler's client QPS/burst as it reports them (/configz)."""
    config = orjson.loads(kp.component_get(plane, scheduler, "/configz"))
    connection = next(iter(config.values())).get("clientConnection", {})
    origin = "set by --qps/--burst" if args.qps or args.burst else "kube-scheduler's defaults"
    return f"qps {connection.get('qps')}, burst {connection.get('burst')} ({origin})"


def cpu_snapshot(plane: ControlPlane, processes: dict[str, Process]) -> dict[str, float]:
    pids = {
        name: p.pid for name, p in plane.processes.items() if name in ("etcd", "kube-apiserver")
    }
    pids.update({name: p.pid for name, p in processes.items()})
    pids["this bench"] = os.getpid()
    return {name: kp.cpu_seconds(pid) for name, pid in pids.items()}


def api_requests(plane: ControlPlane) -> Counter[str]:
    text = kp.component_get(plane, plane.processes["kube-apiserver"], "/metrics").decode()
    return kp.api_requests(text)


def measure(
    plane: ControlPlane,
    clients: kc.Clients,
    phase: Phase,
    namespace: str,
    processes: dict[str, Process],
    args: argparse.Namespace,
) -> Result:
    """Create the pods, follow their binds until all are bound or --timeout passes."""
    result = Result(phase, load=kp.machine())
    watch = kp.BindWatch(clients.get(), namespace)
    requests = api_requests(plane)
    before = cpu_snapshot(plane, processes)
    started = time.monotonic()
    issued = create_pods(clients, namespace, args.pods, phase.resource, args.threads)
    result.creates_seconds = time.monotonic() - started
    alive = lambda: all(p.running() for p in processes.values())  # noqa: E731
    kp.wait_until(
        lambda: len(watch.bound) >= args.pods or not alive() or watch.error is not None,
        args.timeout - result.creates_seconds,
    )
    after = cpu_snapshot(plane, processes)
    result.notes.append("kube-apiserver requests: " + kp.busiest(requests, api_requests(plane)))
    watch.stop()
    if watch.error is not None:
        result.notes.append(f"watch failed: {watch.error!r}")
    if not alive():
        result.notes.append("a scheduler process exited during the phase (see its log)")
    bound = dict(watch.bound)
    result.created, result.bound = len(issued), len(bound)
    result.latencies = sorted(bound[n] - issued[n] for n in bound if n in issued)
    if bound:
        result.seconds = max(bound.values()) - min(issued.values())
    result.cpu = {name: after[name] - before.get(name, 0.0) for name in after}
    return result


def breakdown(plane: ControlPlane, processes: dict[str, Process], url: str | None) -> str:
    """Where the time went, from kube-scheduler's and the extender's /metrics."""
    text = kp.component_get(plane, processes["kube-scheduler"], "/metrics").decode()
    attempts = kp.histogram(text, "scheduler_scheduling_attempt_duration_seconds", "result")
    line = "kube-scheduler attempts: " + (
        ", ".join(f"{r} {n} x {1000 * mean:.1f} ms" for r, (n, mean) in attempts.items()) or "none"
    )
    if url is not None:
        text = kp.http_get(url, "/metrics").decode()
        verbs = kp.histogram(text, "hcs_extender_decision_seconds", "verb")
        line += "; extender requests: " + ", ".join(
            f"{v} {n} x {1000 * mean:.2f} ms" for v, (n, mean) in verbs.items()
        )
    return line


def check_allocations(api: Any, namespace: str) -> tuple[bool, str]:
    """Every bound pod's hcs.io/allocation names its node; no (node, device) is held twice."""
    response = client.CoreV1Api(api).list_namespaced_pod(namespace, _preload_content=False)
    pods = orjson.loads(response.data)["items"]
    response.release_conn()
    missing, wrong, held = 0, 0, Counter[tuple[str, str]]()
    for pod in pods:
        node = pod["spec"].get("nodeName")
        if not node:
            continue
        allocation = read_allocation(pod["metadata"].get("annotations") or {})
        if allocation is None:
            missing += 1
        elif allocation.node != node:
            wrong += 1
        else:
            held.update((node, device) for device in allocation.device_ids())
    twice = sum(1 for count in held.values() if count > 1)
    ok = not (missing or wrong or twice)
    return ok, (
        f"allocation check {'OK' if ok else 'FAILED'}: {missing} bound without hcs.io/allocation,"
        f" {wrong} naming another node, {twice} (node, device) held twice, {len(held)} devices"
        " held"
    )


def run_phase(
    plane: ControlPlane, clients: kc.Clients, phase: Phase, index: int, args: argparse.Namespace
) -> Result:
    namespace = f"bench-{index}-{phase.slug}"
    make_namespace(clients.get(), namespace)
    with contextlib.ExitStack() as stack:
        processes, url = start_phase(stack, plane, phase, index, args)
        settings = client_settings(plane, processes["kube-scheduler"], args)
        result = measure(plane, clients, phase, namespace, processes, args)
        result.client = settings
        if phase.with_hcs:
            result.correct, note = check_allocations(clients.get(), namespace)
            result.notes.append(note)
        result.notes.append(breakdown(plane, processes, url))
    # The phase's schedulers are stopped; its pods go before the next phase starts.
    client.CoreV1Api(clients.get()).delete_collection_namespaced_pod(
        namespace, grace_period_seconds=0
    )
    return result


def run_size(workdir: Path, nodes: int, index: int, args: argparse.Namespace) -> list[Result]:
    """One control plane with `nodes` nodes; both phases on it, one after the other."""
    with ControlPlane(workdir / f"{nodes}-nodes") as plane:
        started, before = time.monotonic(), cpu_snapshot(plane, {})
        kc.prepare(plane)
        kc.create_cluster(plane, nodes, args.threads)
        cpu = ", ".join(f"{k} {v - before[k]:.1f}" for k, v in cpu_snapshot(plane, {}).items())
        print(
            f"\n{nodes:,} nodes x {kc.DEVICES} devices, {args.pods:,} pods per phase: set-up "
            f"{time.monotonic() - started:.1f} s ({nodes:,} Nodes + {nodes:,} ComputeNodes, "
            f"{args.threads} threads; CPU s: {cpu})"
        )
        clients = kc.Clients(plane)
        try:
            results = []
            for phase in PHASES:
                print(f"  {phase.name}: {kp.machine()} before the phase")
                results.append(run_phase(plane, clients, phase, index, args))
        finally:
            clients.close()
    return results


def report(nodes: int, results: list[Result], pods: int) -> None:
    print(f"\n{nodes:,} nodes x {kc.DEVICES} devices, {pods:,} pods:")
    print(
        f"  {'phase':<22} {'pods/s':>8} {'p50':>9} {'p99':>9} {'unbound':>8} "
        f"{'creates':>8}  load before"
    )
    for r in results:
        print(
            f"  {r.phase.name:<22} {r.rate:>8.1f} {r.quantile(0.5):>8.2f}s "
            f"{r.quantile(0.99):>8.2f}s {r.created - r.bound:>8} {r.creates_seconds:>7.1f}s  "
            f"{r.load}"
        )
    for r in results:
        print(f"  {r.phase.name}: client {r.client}")
        print(
            "    CPU s during the phase: "
            + ", ".join(f"{name} {cpu:.1f}" for name, cpu in sorted(r.cpu.items()))
        )
        for note in r.notes:
            print(f"    {note}")
    alone, hcs = results
    if alone.rate > 0:
        ratio = hcs.rate / alone.rate
        met = ratio >= BUDGET and hcs.bound == pods and hcs.correct
        verdict = "met" if met else "NOT met"
        print(f"  ratio HCS / alone: {ratio:.2f} (budget >= {BUDGET:.2f}: {verdict})")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", default="500,5000", help="sizes, comma-separated")
    parser.add_argument("--pods", type=int, default=2000, help="pods per phase")
    parser.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        help="seconds per phase before unbound pods are counted as such (and for the "
        "extender to become ready)",
    )
    parser.add_argument("--threads", type=int, default=16, help="API client threads")
    parser.add_argument("--qps", type=float, help="kube-scheduler clientConnection.qps (both)")
    parser.add_argument("--burst", type=int, help="kube-scheduler clientConnection.burst (both)")
    parser.add_argument(
        "--extender-env",
        action="append",
        default=[],
        metavar="HCS_SCHEDULER_X=V",
        help="a setting for hcs-scheduler serve (repeatable; default: none, as shipped)",
    )
    parser.add_argument("--workdir", type=Path, help="keep logs here (default: a temporary dir)")
    args = parser.parse_args()
    args.extender_env = dict(pair.split("=", 1) for pair in args.extender_env)
    return args


def main() -> int:
    args = parse()
    # Stopped by a signal: clean up as on Ctrl-C (children die with this process regardless).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    sizes = [int(n) for n in args.nodes.split(",") if n]
    cores = len(os.sched_getaffinity(0))
    print(
        f"kube-scheduler throughput, alone vs + HCS extender; this machine: {cores} cores "
        f"(nproc), shared by etcd, kube-apiserver, kube-scheduler, hcs-scheduler and this "
        f"load generator"
    )
    settings = " ".join(f"{k}={v}" for k, v in args.extender_env.items())
    print(f"hcs-scheduler settings: {settings or 'its defaults (leader election on)'}")
    with contextlib.ExitStack() as stack:
        if args.workdir is None:
            workdir = Path(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="hcs-kube-bench-"))
            )
        else:
            workdir = args.workdir
            workdir.mkdir(parents=True, exist_ok=True)
        try:
            for index, nodes in enumerate(sizes):
                report(nodes, run_size(workdir, nodes, index, args), args.pods)
        except KeyboardInterrupt:
            print("\ninterrupted: processes stopped", file=sys.stderr)
            return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
