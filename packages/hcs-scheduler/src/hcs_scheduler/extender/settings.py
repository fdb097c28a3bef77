"""The extender's configuration: flags, a YAML file, or HCS_SCHEDULER_* environment variables."""

from __future__ import annotations

import itertools
import os
import socket
import uuid
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_identity() -> str:
    """This replica's name in the Lease: $POD_NAME (the downward API), else the host name and a
    random suffix (as client-go's leader election examples name theirs)."""
    return os.environ.get("POD_NAME") or f"{socket.gethostname()}_{uuid.uuid4()}"


class ExtenderSettings(BaseSettings):
    """`hcs-scheduler serve` settings; an invalid value stops the server naming the key."""

    model_config = SettingsConfigDict(
        env_prefix="HCS_SCHEDULER_", extra="forbid", use_attribute_docstrings=True
    )

    host: str = "0.0.0.0"
    """Address to listen on."""
    port: int = Field(default=8888, ge=1, le=65535)
    """Port to listen on (the KubeSchedulerConfiguration's urlPrefix points here)."""
    policy: str = "default"
    """Placement policy for prioritize and device choice (see `hcs-scheduler simulate`)."""
    cluster: Path | None = None
    """Static mode: a YAML list of ComputeNode objects served without an API server."""
    kubeconfig: Path | None = None
    """Kubeconfig to reach the API server; unset: in-cluster configuration."""
    status_interval: float = Field(default=10.0, gt=0)
    """Seconds between writes of what is allocated into ComputeNode status.devices."""
    assume_ttl: float = Field(default=30.0, gt=0)
    """Seconds a bind may take before its reserved devices are released; also how long a pod
    that passed filter holds its ComputeQuota share without a bind."""
    api_concurrency: int = Field(default=32, ge=1, le=512)
    """Kubernetes API calls in flight at once (binds run side by side: kube-scheduler binds
    many pods concurrently)."""
    max_body_bytes: int = Field(default=4 << 20, ge=1024)
    """Largest request body; a bigger one gets 413 before it is read. kube-scheduler with
    `nodeCacheCapable: true` (the shipped configuration) sends node names only, about 100 KiB
    for 5,000 nodes; raise it to tens of MiB for full NodeLists."""
    request_timeout: float = Field(default=10.0, gt=0, le=300)
    """Seconds a client has to send a request's headers (from connecting, or from its previous
    answer on a kept-alive connection) and then its body; a slower one is cut off."""
    tls_cert: Path | None = None
    """PEM certificate chain: serve HTTPS (kube-scheduler's extender `tlsConfig.caFile` trusts
    its CA). Unset: plain HTTP."""
    tls_key: Path | None = None
    """PEM private key of `tls_cert`."""
    client_ca: Path | None = None
    """PEM CA bundle that signs the client certificates allowed to bind (kube-scheduler's
    extender `tlsConfig.certFile`); needs `tls_cert`."""
    bind_clients: list[str] = Field(default_factory=lambda: ["hcs-kube-scheduler"])
    """Subject common names of verified client certificates that may call /bind and /plan."""
    token_users: list[str] = Field(
        default_factory=lambda: ["system:serviceaccount:hcs-system:hcs-webhook"]
    )
    """Users a bearer token may authenticate as (TokenReview) to call /bind and /plan."""
    open_bind: bool = False
    """Let anyone who reaches the port call /bind and /plan: a test cluster only."""
    leader_elect: bool = True
    """Elect one leader among replicas through a Lease; off: this replica always leads."""
    lease_name: str = Field(default="hcs-scheduler-extender", min_length=1)
    """Name of the coordination.k8s.io/v1 Lease the replicas compete for."""
    lease_namespace: str = Field(default="hcs-system", min_length=1)
    """Namespace of that Lease."""
    lease_duration: float = Field(default=15.0, ge=1)
    """Seconds a standby waits, from the last renewal it saw, before taking the lease over."""
    renew_deadline: float = Field(default=10.0, gt=0)
    """Seconds the leader keeps trying to renew before it steps down (< lease_duration)."""
    retry_period: float = Field(default=2.0, gt=0)
    """Seconds between attempts to acquire or renew the lease (< renew_deadline)."""
    identity: str = Field(default_factory=default_identity, min_length=1)
    """This replica's holderIdentity in the Lease; default $POD_NAME, else hostname_<uuid>."""

    @model_validator(mode="after")
    def _tls_files_together(self) -> ExtenderSettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key must be given together")
        if self.client_ca is not None and self.tls_cert is None:
            raise ValueError("client_ca needs tls_cert and tls_key (client certificates need TLS)")
        return self

    @model_validator(mode="after")
    def _lease_timings_in_order(self) -> ExtenderSettings:
        """retry_period < renew_deadline < lease_duration: the leader must get to retry a failed
        renewal, and must step down before a standby may take over."""
        order = [("retry_period", self.retry_period), ("renew_deadline", self.renew_deadline)]
        order.append(("lease_duration", self.lease_duration))
        for (short, a), (long, b) in itertools.pairwise(order):
            if a >= b:
                raise ValueError(f"{short} ({a:g} s) must be shorter than {long} ({b:g} s)")
        return self
