"""The agent's configuration: a YAML file, then HCS_AGENT_* environment variables over it.

An invalid value stops the agent at start with a message naming the key (`describe`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from hcs_agent.errors import AgentError
from hcs_api.names import Vendor

ENV_PREFIX = "HCS_AGENT_"


class SettingsError(AgentError):
    """The configuration is invalid; the message names the key."""


class AgentSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", use_attribute_docstrings=True
    )

    node_name: str | None = Field(default=None, min_length=1, max_length=253)
    """Kubernetes node this agent reports for (the DaemonSet sets it from spec.nodeName)."""
    interval_s: float = Field(default=10.0, gt=0, le=3600)
    """Seconds between two collections."""
    tool_timeout_s: float = Field(default=5.0, gt=0, le=120)
    """Seconds a vendor tool (npu-smi, hy-smi, cnmon) may take before it counts as hung."""
    vendors: list[Vendor] = Field(default_factory=lambda: list(Vendor))
    """Vendors to detect; the others are not even looked for."""
    sysfs_root: Path = Path("/")
    """Where sysfs is mounted, seen from the agent (a host mount in a container: /host)."""
    inventory: Path | None = None
    """A YAML device inventory to report instead of detecting hardware (demos, simulation)."""
    report: bool = True
    """Write the ComputeNode and Node resources to Kubernetes; false only serves metrics."""
    kubeconfig: str | None = None
    """A kubeconfig file; unset uses the in-cluster service account."""
    listen_host: str = "0.0.0.0"
    """Address of the /healthz and /metrics server."""
    listen_port: int = Field(default=9460, ge=1, le=65535)
    """Port of the /healthz and /metrics server."""
    retry_attempts: int = Field(default=5, ge=1, le=100)
    """Tries per report before it is kept for the next cycle."""
    retry_initial_s: float = Field(default=0.5, gt=0, le=60)
    """First backoff delay; each retry doubles it (capped at the interval), with jitter."""
    overrides: Path | None = None
    """hcs-exchange override file (private models, changed figures)."""
    calibrate: bool = False
    """Measure each NVIDIA model's throughput at start (needs PyTorch) and report it."""
    health: bool = True
    """Run hcs-health: kernel event sources, the analyzer, and the remediation below."""
    health_source: Literal["auto", "ebpf", "poll", "off"] = "auto"
    """auto: eBPF where it loads, else /dev/kmsg polling; ebpf: eBPF or stop; poll; off."""
    health_poll_s: float = Field(default=0.1, gt=0, le=5)
    """Longest wait for kernel events per poll: bounds the detection-to-cordon latency."""
    health_cordon: bool = True
    """Cordon devices that turn unhealthy (ComputeNode spec, field manager hcs-health)."""
    health_evict: bool = True
    """Evict pods off cordoned devices (Eviction API), with their newest checkpoint."""
    health_taint: bool = True
    """Keep the node's hcs.io/degraded and hcs.io/unhealthy taints true."""
    health_quiet_period_s: float = Field(default=600.0, ge=0, le=86400)
    """Seconds a device HCS cordoned must stay healthy before the cordon is lifted."""
    ebpf_loader: Path | None = None
    """hcs-ebpf-loader binary (default: $HCS_EBPF_LOADER, then /usr/lib/hcs/hcs-ebpf-loader)."""
    ioctl_slow_ms: float = Field(default=50.0, gt=0, le=60000)
    """An ioctl on a vendor device file slower than this is a health event."""
    kmsg_path: Path = Path("/dev/kmsg")
    """The kernel log device the polling fallback reads."""
    kubelet_root: Path = Path("/var/lib/kubelet")
    """The kubelet's directory as the agent sees it: pods' checkpoint volumes are read there."""


def load_settings(path: Path | None = None, **given: Any) -> AgentSettings:
    """File values, then environment over them, then `given` (command-line flags) over both."""
    values: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as error:
            raise SettingsError(f"config file {path}: {error}") from None
        if not isinstance(loaded, dict):
            raise SettingsError(f"config file {path}: expected a mapping of settings")
        values = {k: v for k, v in loaded.items() if f"{ENV_PREFIX}{k}".upper() not in os.environ}
    values.update({k: v for k, v in given.items() if v is not None})
    try:
        return AgentSettings(**values)
    except ValidationError as error:
        raise SettingsError(describe(error)) from None


def describe(error: ValidationError) -> str:
    """'invalid setting interval_s (HCS_AGENT_INTERVAL_S): Input should be greater than 0'."""
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(settings)"
        env = f"{ENV_PREFIX}{str(item['loc'][0]).upper()}" if item["loc"] else ENV_PREFIX
        lines.append(f"invalid setting {key} ({env}): {item['msg']}")
    return "; ".join(lines)
