"""What `kube_scheduler_throughput.py` reads while it runs: when each pod was bound (one watch),
a component's HTTPS endpoints as the admin (/configz, /metrics), Prometheus histograms, a
process's CPU seconds and the machine's load.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from hcs_envtest import ControlPlane, Process
from kubernetes import client
from kubernetes.watch.watch import iter_resp_lines
from prometheus_client.parser import text_string_to_metric_families


class BindWatch:
    """One thread watching a namespace's pods: when each was first seen with spec.nodeName."""

    def __init__(self, api: Any, namespace: str) -> None:
        self.core = client.CoreV1Api(api)
        self.namespace = namespace
        self.bound: dict[str, float] = {}
        self.error: BaseException | None = None
        self._version = self.core.list_namespaced_pod(namespace, limit=1).metadata.resource_version
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bind-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():  # short watches, resumed where they ended
                self._follow(
                    self.core.list_namespaced_pod(
                        self.namespace,
                        watch=True,
                        resource_version=self._version,
                        timeout_seconds=5,
                        _preload_content=False,
                        _request_timeout=30,
                    )
                )
        except BaseException as error:
            self.error = error

    def _follow(self, response: Any) -> None:
        try:
            for line in iter_resp_lines(response):
                seen = time.monotonic()
                event = orjson.loads(line)
                pod = event["object"]
                if event["type"] == "ERROR":
                    raise RuntimeError(f"pod watch failed: {pod.get('message')}")
                self._version = pod["metadata"]["resourceVersion"]
                if event["type"] != "DELETED" and (pod.get("spec") or {}).get("nodeName"):
                    self.bound.setdefault(pod["metadata"]["name"], seen)
        finally:
            response.release_conn()


def component_get(plane: ControlPlane, process: Process, path: str) -> bytes:
    """GET `path` from a control-plane component's secure port (found in its argv) as the
    admin: kube-scheduler's /configz and /metrics."""
    port = next(int(a.split("=", 1)[1]) for a in process.argv if a.startswith("--secure-port="))
    kubeconfig = json.loads(plane.admin_kubeconfig.read_text())
    user = kubeconfig["users"][0]["user"]
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the component's self-signed serving certificate
    context.load_cert_chain(user["client-certificate"], user["client-key"])
    connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=context)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {path} from {process.name}: {response.status} {body[:200]!r}")
        return body
    finally:
        connection.close()


def http_get(url: str, path: str) -> bytes:
    """GET `path` from a plain-HTTP server (the extender's /metrics)."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", path)
        return connection.getresponse().read()
    finally:
        connection.close()


def histogram(text: str, family: str, label: str) -> dict[str, tuple[int, float]]:
    """(count, mean) of a Prometheus histogram per value of `label`, from /metrics `text`."""
    sums: dict[str, list[float]] = {}
    for found in text_string_to_metric_families(text):
        if found.name != family:
            continue
        for sample in found.samples:
            kind = sample.name.removeprefix(family)
            if kind in ("_sum", "_count"):
                entry = sums.setdefault(sample.labels.get(label, ""), [0.0, 0.0])
                entry[kind == "_count"] += sample.value
    return {key: (int(n), total / n) for key, (total, n) in sums.items() if n}


_LABEL = re.compile(r'(\w+)="([^"]*)"')


def api_requests(text: str) -> Counter[str]:
    """kube-apiserver's apiserver_request_total from its /metrics `text`, summed by verb and
    resource[/subresource] (a plain line scan: the full page is megabytes of histograms)."""
    counts: Counter[str] = Counter()
    for line in text.splitlines():
        if line.startswith("apiserver_request_total{"):
            labels, value = line.rsplit(" ", 1)
            found = dict(_LABEL.findall(labels))
            sub = found.get("subresource")
            counts[f"{found.get('verb')} {found.get('resource')}{'/' + sub if sub else ''}"] += (
                float(value)
            )
    return counts


def busiest(before: Counter[str], after: Counter[str], top: int = 6) -> str:
    """The `top` request kinds by how many more there are in `after` than in `before`."""
    delta = after - before
    return ", ".join(f"{kind} {int(n):,}" for kind, n in delta.most_common(top)) or "none"


_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


def machine() -> str:
    cores = len(os.sched_getaffinity(0))
    load = os.getloadavg()
    return f"{cores} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    """Poll `condition` until true (True) or `timeout` seconds (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()
