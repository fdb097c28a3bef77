"""Detection to cordon: from a driver line written to /dev/kmsg to the device's cordon in the
ComputeNode on a real kube-apiserver (hcs_envtest), p50/p99, beside the transport floor (a GET
of the ComputeNode in the same run). Budget: < 1 s.

The health loop runs in this process exactly as the agent runs it: the event source (eBPF
where it loads, else /dev/kmsg polling; `--source`), the analyzer, the remediation writing the
cordon by server-side apply, and `HealthMonitor.step` polling every `--poll` seconds. Each of
`--devices` devices gets one Xid 79 line on its own PCI address, `--gap` seconds apart; two
times are taken per line: until the remediation's apply returned (written), and until a GET of
the ComputeNode shows the cordon (seen by a client polling every 5 ms).

    export HCS_CONTROLPLANE_BIN=$(make -s controlplane)
    .venv/bin/python bench/health/detect_to_cordon.py   # as root: it writes to /dev/kmsg
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml

from hcs_health import Analyzer, AnalyzerConfig, HealthMetrics, HealthMonitor, Remediator
from hcs_health.monitor import DeviceRef
from hcs_health.remediation.kube import KubernetesRemediation
from hcs_health.remediation.plan import RemediationConfig
from hcs_health.sources.select import SourceMode, open_sources

REPO = Path(__file__).resolve().parents[2]
NODE = "bench-health"
DEVKMSG = Path("/proc/sys/kernel/printk_devkmsg")


def pci(index: int) -> str:
    return f"0000:{0xA0 + index // 32:02x}:{index % 32:02x}.0"


def compute_node(devices: int) -> dict[str, Any]:
    return {
        "apiVersion": "hcs.io/v1alpha1",
        "kind": "ComputeNode",
        "metadata": {"name": NODE},
        "spec": {
            "nodeName": NODE,
            "vendors": ["nvidia"],
            "devices": [
                {"id": f"nvidia-{i}", "uuid": f"GPU-bench-{i}", "vendor": "nvidia",
                 "model": "H100-SXM5-80G", "vram": "80Gi", "pciBusId": pci(i)}
                for i in range(devices)
            ],
        },
    }  # fmt: skip


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Timed(KubernetesRemediation):
    """The production adapter, noting when each cordon's apply returned."""

    def __init__(self, api_client: Any) -> None:
        super().__init__(api_client)
        self.written: dict[str, float] = {}

    def apply_cordons(self, node: str, cordons: Any) -> None:
        super().apply_cordons(node, cordons)
        now = time.monotonic()
        for device in cordons:
            self.written.setdefault(device, now)


def cordoned(custom: Any, device: str) -> bool:
    found = custom.get_cluster_custom_object("hcs.io", "v1alpha1", "computenodes", NODE)
    return any(d["id"] == device and d.get("cordoned") for d in found["spec"]["devices"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=64)
    parser.add_argument("--gap", type=float, default=0.2, help="seconds between two lines")
    parser.add_argument("--poll", type=float, default=0.1, help="HealthMonitor.step timeout")
    parser.add_argument("--source", choices=["auto", "ebpf", "poll"], default="auto")
    parser.add_argument(
        "--loader", type=Path, help="hcs-ebpf-loader (default: built by make -C native/ebpf)"
    )
    args = parser.parse_args()
    if args.loader is None and args.source != "poll":
        subprocess.run(["make", "-s", "-C", str(REPO / "native/ebpf")], check=True)
        args.loader = REPO / "native/ebpf/build/hcs-ebpf-loader"

    from hcs_envtest import ControlPlane
    from kubernetes import client
    from prometheus_client import CollectorRegistry

    before = DEVKMSG.read_text().strip()
    DEVKMSG.write_text("on\n")  # /dev/kmsg writers are otherwise rate-limited
    with tempfile.TemporaryDirectory() as tmp, ControlPlane(Path(tmp)) as plane:
        api = plane.api_client()
        for path in sorted((REPO / "deploy/crds").glob("*.yaml")):
            client.ApiextensionsV1Api(api).create_custom_resource_definition(
                yaml.safe_load(path.read_text())
            )
        custom = client.CustomObjectsApi(api)
        for _ in range(100):  # the CRD is Established within a second or two
            try:
                custom.create_cluster_custom_object(
                    "hcs.io", "v1alpha1", "computenodes", compute_node(args.devices)
                )
                break
            except client.exceptions.ApiException:
                time.sleep(0.1)
        client.CoreV1Api(api).create_node({"metadata": {"name": NODE}})
        port = Timed(plane.api_client())
        metrics = HealthMetrics(CollectorRegistry())
        selected = open_sources(SourceMode(args.source), metrics, lambda: [], loader=args.loader)
        remediator = Remediator(NODE, port, RemediationConfig(evict=False))
        remediator.refresh()
        monitor = HealthMonitor(Analyzer(AnalyzerConfig()), selected.sources, metrics, remediator)
        monitor.set_devices(DeviceRef(f"nvidia-{i}", "nvidia", pci(i)) for i in range(args.devices))
        stop = threading.Event()

        def loop() -> None:
            while not stop.is_set():
                monitor.step(args.poll)

        worker = threading.Thread(target=loop, daemon=True)
        worker.start()
        floor, written, seen = [], [], []
        try:
            for i in range(args.devices):
                started = time.monotonic()
                custom.get_cluster_custom_object("hcs.io", "v1alpha1", "computenodes", NODE)
                floor.append(time.monotonic() - started)
                slot = pci(i).rsplit(".", 1)[0]
                line = f"NVRM: Xid (PCI:{slot}): 79, pid=1911, GPU has fallen off the bus.\n"
                wrote = time.monotonic()
                with open("/dev/kmsg", "w") as kmsg:
                    kmsg.write(line)
                device = f"nvidia-{i}"
                while not cordoned(custom, device):
                    if time.monotonic() - wrote > 10:
                        print(f"{device}: no cordon within 10 s", file=sys.stderr)
                        return 1
                    time.sleep(0.005)
                seen.append(time.monotonic() - wrote)
                while device not in port.written:  # the apply's answer may trail the GET's
                    time.sleep(0.001)
                written.append(port.written[device] - wrote)
                time.sleep(args.gap)
        finally:
            stop.set()
            worker.join(5)
            monitor.close()
            DEVKMSG.write_text(before + "\n")
    names = ", ".join(s.name for s in selected.sources)
    print(f"detection to cordon, {args.devices} Xid 79 lines, sources: {names}, poll {args.poll} s")
    print(f"{'measure':<44} {'p50':>9} {'p99':>9} {'max':>9}")
    for label, values in (
        ("kmsg write -> cordon applied (in process)", written),
        ("kmsg write -> cordon seen by a client GET", seen),
        ("transport floor: GET of the ComputeNode", floor),
    ):
        row = [pct(values, 0.5), pct(values, 0.99), max(values)]
        print(f"{label:<44} " + " ".join(f"{v * 1000:>7.1f}ms" for v in row))
    print(f"mean written {statistics.mean(written) * 1000:.1f} ms; budget 1000 ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
