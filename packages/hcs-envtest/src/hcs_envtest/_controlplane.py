"""etcd and kube-apiserver on loopback, with a CA, a serving certificate and admin credentials;
kube-scheduler and kube-controller-manager on demand.

What a test gets is the real API: admission (webhooks, CEL matchConditions, the ServiceAccount
and Priority plugins), structural CRD schemas, resourceVersion conflicts, server-side apply,
Leases, watches, and `resource.k8s.io/v1` with the DRA feature gates of 1.37. No kubelet runs:
nodes are Node objects a test creates, pods stay where kube-scheduler binds them.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from hcs_envtest import _http
from hcs_envtest._binaries import Binaries
from hcs_envtest._pki import Authority, CertPair, service_account_keys
from hcs_envtest._process import Process, free_port

ADMISSION_PLUGINS = (
    "NamespaceLifecycle",
    "ServiceAccount",
    "Priority",
    "DefaultTolerationSeconds",
    "ResourceQuota",
    "MutatingAdmissionPolicy",
    "MutatingAdmissionWebhook",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionWebhook",
)
"""The admission chain HCS relies on: webhooks (mutate, then validate), quota and priority,
and the ServiceAccount plugin a real cluster runs (a namespace needs its `default` account)."""

DRA_FEATURE_GATES: Mapping[str, bool] = {
    "DRAConsumableCapacity": True,
    "DRAPartitionableDevices": True,
}
"""Dynamic Resource Allocation features HCS's DRA path uses that are still gates in 1.37 (beta:
shared consumable capacity, partitionable devices), pinned on. Device taints, prioritized lists
(firstAvailable) and admin access are GA in 1.37: always on, and naming a GA gate only earns a
warning that it will be removed. resource.k8s.io/v1 itself is GA and on by default."""

START_TIMEOUT = 60.0
"""Seconds each binary may take to answer (a cold kube-apiserver bootstraps its RBAC roles)."""


class ControlPlane:
    """`with ControlPlane(workdir) as cp:` a running etcd + kube-apiserver, torn down after.

    `cp.admin_kubeconfig` is a kubeconfig file for system:masters; `cp.kubeconfig(user, groups)`
    makes one for any other identity; `cp.serving_cert(name, hosts)` signs a webhook's serving
    certificate with the CA the API server trusts (`cp.ca_pem` is its caBundle).
    """

    def __init__(
        self,
        workdir: Path,
        binaries: Binaries | None = None,
        feature_gates: Mapping[str, bool] = DRA_FEATURE_GATES,
        apiserver_args: Iterable[str] = (),
    ) -> None:
        self.workdir = workdir
        self.binaries = binaries or Binaries.locate()
        self.feature_gates = dict(feature_gates)
        self.apiserver_args = list(apiserver_args)
        self.processes: dict[str, Process] = {}
        self.port = 0
        self._pki = workdir / "pki"
        self._authority: Authority | None = None
        self._admin: CertPair | None = None

    # -- lifecycle
    def __enter__(self) -> ControlPlane:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        self._pki.mkdir(parents=True, exist_ok=True)
        self._authority = Authority(self._pki)
        self._admin = self._authority.issue(
            "admin", common_name="hcs-envtest-admin", organizations=("system:masters",)
        )
        self._start_etcd()
        self._start_apiserver()

    def stop(self) -> None:
        """Stop every process (newest first); the work folder's data goes with them."""
        for name in reversed(list(self.processes)):
            self.processes.pop(name).stop()
        shutil.rmtree(self.workdir / "etcd", ignore_errors=True)

    # -- what tests use
    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca(self) -> Path:
        return self.authority.cert

    @property
    def ca_pem(self) -> bytes:
        return self.authority.pem

    @property
    def authority(self) -> Authority:
        if self._authority is None:
            raise RuntimeError("the control plane is not started")
        return self._authority

    @property
    def admin_kubeconfig(self) -> Path:
        return self.workdir / "admin.kubeconfig"

    def kubeconfig(self, user: str, groups: Iterable[str] = ()) -> Path:
        """A kubeconfig that authenticates as `user` in `groups` (a client certificate)."""
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in user)
        pair = self.authority.issue(f"user-{safe}", common_name=user, organizations=tuple(groups))
        return self._write_kubeconfig(self.workdir / f"{safe}.kubeconfig", pair)

    def serving_cert(
        self, name: str, hosts: Iterable[str] = ("127.0.0.1", "localhost")
    ) -> CertPair:
        """A serving certificate for a server the API server calls (a webhook)."""
        return self.authority.issue(f"serving-{name}", common_name=name, hosts=tuple(hosts))

    def api_client(self, kubeconfig: Path | None = None) -> Any:
        """A `kubernetes.client.ApiClient` on `kubeconfig` (default: the admin's)."""
        from kubernetes import config

        return config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig or self.admin_kubeconfig)
        )

    def log(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    # -- the binaries
    def _start_etcd(self) -> None:
        client, peer = free_port(), free_port()
        data = self.workdir / "etcd"
        argv = [
            self.binaries.path("etcd"),
            f"--data-dir={data}",
            "--name=envtest",
            f"--listen-client-urls=http://127.0.0.1:{client}",
            f"--advertise-client-urls=http://127.0.0.1:{client}",
            f"--listen-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-cluster=envtest=http://127.0.0.1:{peer}",
            # Tests lose nothing they need if the machine crashes; fsync would be most of etcd's
            # time on these disks.
            "--unsafe-no-fsync",
            "--log-level=warn",
        ]
        etcd = self._spawn("etcd", argv)
        etcd.wait_until(lambda: _http.get(client, "/health", None) == 200, START_TIMEOUT, "healthy")
        self._etcd_url = f"http://127.0.0.1:{client}"

    def _start_apiserver(self) -> None:
        self.port = free_port()
        serving = self.authority.issue(
            "apiserver",
            common_name="kube-apiserver",
            hosts=("127.0.0.1", "localhost", "kubernetes", "kubernetes.default.svc", "10.0.0.1"),
        )
        accounts = service_account_keys(self._pki)
        proxy = self._front_proxy()
        gates = ",".join(f"{k}={str(v).lower()}" for k, v in sorted(self.feature_gates.items()))
        argv = [
            self.binaries.path("kube-apiserver"),
            f"--etcd-servers={self._etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            # The `kubernetes` Service's endpoints would be a loopback address, which the API
            # server refuses to publish; nothing here reaches it through the Service.
            "--endpoint-reconciler-type=none",
            f"--secure-port={self.port}",
            f"--tls-cert-file={serving.cert}",
            f"--tls-private-key-file={serving.key}",
            f"--client-ca-file={self.ca}",
            "--authorization-mode=RBAC",
            f"--enable-admission-plugins={','.join(ADMISSION_PLUGINS)}",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={accounts.cert}",
            f"--service-account-signing-key-file={accounts.key}",
            "--allow-privileged=true",
            *proxy,
            "--runtime-config=resource.k8s.io/v1=true",
            *([f"--feature-gates={gates}"] if gates else []),
            *self.apiserver_args,
        ]
        self._accounts = accounts
        apiserver = self._spawn("kube-apiserver", argv)
        assert self._admin is not None
        context = _http.tls_context(str(self.ca), self._admin)
        apiserver.wait_until(
            lambda: _http.get(self.port, "/readyz", context) == 200, START_TIMEOUT, "ready"
        )
        self._write_kubeconfig(self.admin_kubeconfig, self._admin)

    def _front_proxy(self) -> list[str]:
        """The front-proxy (aggregation layer) CA and client, as kubeadm sets them up: the API
        server publishes the CA in kube-system/extension-apiserver-authentication, which
        kube-scheduler and kube-controller-manager read (without it they log an error a minute)."""
        folder = self._pki / "front-proxy"
        folder.mkdir(exist_ok=True)
        authority = Authority(folder, name="hcs-envtest-front-proxy-ca")
        client = authority.issue("client", common_name="front-proxy-client")
        return [
            f"--requestheader-client-ca-file={authority.cert}",
            "--requestheader-allowed-names=front-proxy-client",
            "--requestheader-username-headers=X-Remote-User",
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            f"--proxy-client-cert-file={client.cert}",
            f"--proxy-client-key-file={client.key}",
        ]

    def _spawn(self, name: str, argv: list[str]) -> Process:
        process = Process(name, argv, self.log(name))
        self.processes[name] = process
        return process

    def _write_kubeconfig(self, path: Path, user: CertPair) -> Path:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "envtest",
                    "cluster": {"server": self.url, "certificate-authority": str(self.ca)},
                }
            ],
            "users": [
                {
                    "name": "user",
                    "user": {"client-certificate": str(user.cert), "client-key": str(user.key)},
                }
            ],
            "contexts": [{"name": "envtest", "context": {"cluster": "envtest", "user": "user"}}],
            "current-context": "envtest",
        }
        path.write_text(json.dumps(config, indent=1))  # JSON is YAML: every client reads it
        path.chmod(0o600)
        return path
