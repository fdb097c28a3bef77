"""The chart installed once on the session's control plane (hcs_envtest's plugin), and what the
tests run against it: tokens of the chart's service accounts, the hook's certificates, a node
the agent reported, the extender."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hcs_envtest import ControlPlane, Process, free_port, wait_for

# The helpers module beside this file, importable from the tests (pytest's importlib mode does
# not put test folders on sys.path).
sys.path.insert(0, str(Path(__file__).parent))
from chartkube import NS, REPO, SECRETS, container, https, python, run_hook

pytest_plugins = ["hcs_envtest.pytest_plugin"]


@pytest.fixture(scope="session")
def manifests(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The chart rendered as `helm install` would for this control plane (hook mode)."""
    helm = os.environ.get("HCS_HELM", "")
    if not os.access(helm, os.X_OK):
        pytest.fail("HCS_HELM is not Helm: export HCS_HELM=$(tools/bootstrap/helm.sh)")
    chart = tmp_path_factory.mktemp("chart") / "hcs"
    shutil.copytree(REPO / "deploy" / "helm" / "hcs", chart, symlinks=False)
    argv = [helm, "template", "hcs", str(chart), "-n", NS, "--include-crds"]
    out = subprocess.run(
        [*argv, "--kube-version", "1.37.2"], capture_output=True, text=True, check=True
    )
    return [d for d in yaml.safe_load_all(out.stdout) if d]


@pytest.fixture(scope="session")
def installed(kube_api: Any, manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every rendered object created with fieldValidation=Strict, CRDs first."""
    from kubernetes import client, dynamic

    core = client.CoreV1Api(kube_api)
    core.create_namespace({"metadata": {"name": NS}})
    # No kube-controller-manager makes it here; pods need their service account.
    core.create_namespaced_service_account(NS, {"metadata": {"name": "default"}})
    extensions = client.ApiextensionsV1Api(kube_api)
    crds = [d for d in manifests if d["kind"] == "CustomResourceDefinition"]
    for crd in crds:
        extensions.create_custom_resource_definition(crd)
    for crd in crds:
        name = crd["metadata"]["name"]
        wait_for(lambda n=name: _established(extensions, n), 30, f"{name} Established")
    api = dynamic.DynamicClient(kube_api)
    for document in manifests:
        if document["kind"] == "CustomResourceDefinition":
            continue
        resource = api.resources.get(api_version=document["apiVersion"], kind=document["kind"])
        namespace = document["metadata"].get("namespace") if resource.namespaced else None
        resource.create(
            body=document, namespace=namespace, query_params=[("fieldValidation", "Strict")]
        )
    return manifests


def _established(extensions: Any, name: str) -> bool:
    found = extensions.read_custom_resource_definition(name)
    return any(
        c.type == "Established" and c.status == "True" for c in found.status.conditions or []
    )


@pytest.fixture(scope="session")
def token_of(kube_api: Any, installed: Any) -> Callable[[str], str]:
    """A token of one of the chart's service accounts."""
    from kubernetes import client

    core = client.CoreV1Api(kube_api)

    def token(account: str) -> str:
        request = {"spec": {"audiences": [], "expirationSeconds": 3600}}
        return str(core.create_namespaced_service_account_token(account, NS, request).status.token)

    return token


@pytest.fixture(scope="session")
def kubeconfig_of(
    control_plane: ControlPlane, token_of: Callable[[str], str], tmp_path_factory: Any
) -> Callable[[str], Path]:
    """A kubeconfig that authenticates as one of the chart's service accounts (its token)."""
    folder = tmp_path_factory.mktemp("kubeconfigs")

    def kubeconfig(account: str) -> Path:
        cluster = {"server": control_plane.url, "certificate-authority": str(control_plane.ca)}
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "envtest", "cluster": cluster}],
            "users": [{"name": account, "user": {"token": token_of(account)}}],
            "contexts": [{"name": "envtest", "context": {"cluster": "envtest", "user": account}}],
            "current-context": "envtest",
        }
        path = folder / f"{account}.kubeconfig"
        path.write_text(json.dumps(config))
        return path

    return kubeconfig


@pytest.fixture(scope="session")
def certificates(
    installed: Any, kubeconfig_of: Callable[[str], Path], kube_api: Any, tmp_path_factory: Any
) -> Path:
    """The hook run once; each Secret's keys as files under <folder>/<secret>/, as mounted."""
    from kubernetes import client

    result = run_hook(installed, kubeconfig_of("hcs-certificates"))
    assert result.returncode == 0, result.stderr
    folder = tmp_path_factory.mktemp("secrets")
    core = client.CoreV1Api(kube_api)
    for name in SECRETS:
        (folder / name).mkdir()
        for key, value in core.read_namespaced_secret(name, NS).data.items():
            (folder / name / key).write_bytes(base64.b64decode(value))
    return folder


@pytest.fixture(scope="session")
def reported_node(
    installed: Any, kubeconfig_of: Callable[[str], Path], kube_api: Any, tmp_path_factory: Any
) -> str:
    """Node gpu-01 with two H100s, reported twice by `hcs-agent run --once` as hcs-agent (the
    first apply creates the ComputeNode, the second patches it)."""
    from kubernetes import client

    core = client.CoreV1Api(kube_api)
    capacity = {"cpu": "64", "memory": "512Gi", "pods": "110"}
    core.create_node(
        {"metadata": {"name": "gpu-01", "labels": {"kubernetes.io/hostname": "gpu-01"}}}
    )
    ready = [{"type": "Ready", "status": "True"}]
    status = {"capacity": capacity, "allocatable": capacity, "conditions": ready}
    core.patch_node_status("gpu-01", {"status": status})
    # No node lifecycle controller lifts the not-ready taint the API server set: lift it.
    core.patch_node("gpu-01", {"spec": {"taints": None}})
    folder = tmp_path_factory.mktemp("agent")
    device = {"vendor": "nvidia", "name": "NVIDIA H100 80GB HBM3", "numaNode": 0}
    devices = [{**device, "id": str(i), "uuid": f"GPU-{i}"} for i in range(2)]
    (folder / "inventory.yaml").write_text(yaml.safe_dump({"devices": devices}))
    env = {**os.environ, "HCS_AGENT_KUBECONFIG": str(kubeconfig_of("hcs-agent"))}
    argv = python("hcs_agent", "run", "--once", "--inventory", str(folder / "inventory.yaml"))
    argv += ["--node-name", "gpu-01", "--listen-port", str(free_port())]
    for _ in range(2):
        agent = Process("hcs-agent", argv, folder / "agent.log", env=env)
        agent.wait_until(lambda a=agent: not a.running(), 60, "finished", exit_ok=True)
        assert agent.returncode == 0, agent.tail()
    return "gpu-01"


class Extender:
    """`hcs-scheduler serve` on 127.0.0.1:`port`, serving the chart's certificate."""

    def __init__(self, process: Process, port: int, ca: Path) -> None:
        self.process, self.port, self.ca = process, port, ca


@pytest.fixture(scope="session")
def extender(
    installed: Any,
    certificates: Path,
    kubeconfig_of: Callable[[str], Path],
    reported_node: str,
    tmp_path_factory: Any,
) -> Iterator[Extender]:
    """The extender with its Deployment's environment (certificate paths moved to where the
    Secrets' files are here), as hcs-scheduler, Ready once it leads."""
    spec = container(installed, "Deployment", "hcs-scheduler")
    mounted = str(certificates / "hcs-scheduler-tls")
    env = {**os.environ, "POD_NAME": "hcs-scheduler-0"}  # the downward API's part
    env.update(
        {
            v["name"]: v["value"].replace("/etc/hcs/tls", mounted)
            for v in spec["env"]
            if "value" in v
        }
    )
    port = free_port()
    argv = python("hcs_scheduler", *spec["args"], "--host", "127.0.0.1", "--port", str(port))
    argv += ["--kubeconfig", str(kubeconfig_of("hcs-scheduler"))]
    log = tmp_path_factory.mktemp("extender") / "extender.log"
    server = Extender(Process("hcs-scheduler", argv, log, env=env), port, Path(mounted) / "ca.crt")
    server.process.wait_until(
        lambda: https(port, "/readyz", server.ca)[0] == 200, 60, "Ready (synced, leading)"
    )
    yield server
    server.process.stop()
