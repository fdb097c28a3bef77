"""The extender's configuration: flags, a YAML file, or HCS_SCHEDULER_* environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    """Seconds a bind may take before its reserved devices are released."""
    max_body_bytes: int = Field(default=64 << 20, gt=0)
    """Largest request body accepted (a NodeList of 5,000 full nodes is tens of MiB)."""
