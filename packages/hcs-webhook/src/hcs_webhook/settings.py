"""The webhook's configuration: one pydantic-settings model, built once in `main()`.

Precedence: command-line flags, then environment (`HCS_WEBHOOK_PORT`,
`HCS_WEBHOOK_VENDORS__ASCEND__RUNTIME_IMAGE`), then the YAML file given with `--config`, then
the defaults below. An invalid value stops the webhook with a message naming the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    YamlConfigSettingsSource,
)

from hcs_api import describe_validation_error
from hcs_api.names import Vendor
from hcs_webhook.errors import ConfigError


class VendorRuntime(BaseModel):
    """How a container runs on one vendor's nodes; an unset field keeps the built-in default."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    visible_devices_env: list[str] | None = None
    """Variables that select the container's devices (DESIGN.md's Vendors table)."""
    driver_paths: list[str] | None = None
    """Host directories of the vendor's user-space driver, mounted read-only at the same path
    when the pod is bound early."""
    library_paths: list[str] | None = None
    """Directories added to LD_LIBRARY_PATH after HCS's runtime directory, when bound early."""
    env: dict[str, str] | None = None
    """Extra variables the vendor's stack needs, set when bound early."""
    p2p_disable_env: dict[str, str] | None = None
    """Variables that keep the vendor's collective library off peer-to-peer paths, set when the
    candidate devices have none."""
    runtime_image: str | None = None
    """The vendor's runtime base image for image rebinding; unset: rebinding to this vendor is
    refused with a message saying which setting to add."""


# DESIGN.md's Vendors table (visible-devices variables, driver paths). For NVIDIA and Ascend only
# the variable the vendor's container runtime reads is set: the runtime exposes just those node
# devices, renumbered from 0, so CUDA_VISIBLE_DEVICES / ASCEND_RT_VISIBLE_DEVICES holding node
# ids would select the wrong devices (or none); left unset, the process sees exactly its own.
# Library paths are each stack's documented layout. P2P switches: NCCL_P2P_DISABLE is NCCL's
# (RCCL, on Hygon DCU, reads NCCL_* names); for Ascend, HCCL_INTRA_PCIE_ENABLE=0 with
# HCCL_INTRA_ROCE_ENABLE=1 moves intra-server traffic to the RoCE loop (Huawei CANN env
# reference, HCCL_INTRA_ROCE_ENABLE, hiascend.com envref_07_0082). No Cambricon CNCL switch was
# found documented, so none is set.
_BUILT_IN: dict[Vendor, VendorRuntime] = {
    Vendor.NVIDIA: VendorRuntime(
        visible_devices_env=["NVIDIA_VISIBLE_DEVICES"],
        driver_paths=["/usr/local/nvidia"],
        library_paths=["/usr/local/nvidia/lib64"],
        env={},
        p2p_disable_env={"NCCL_P2P_DISABLE": "1"},
    ),
    Vendor.ASCEND: VendorRuntime(
        visible_devices_env=["ASCEND_VISIBLE_DEVICES"],
        driver_paths=["/usr/local/Ascend/driver"],
        library_paths=[
            "/usr/local/Ascend/driver/lib64",
            "/usr/local/Ascend/driver/lib64/common",
            "/usr/local/Ascend/driver/lib64/driver",
        ],
        env={},
        p2p_disable_env={"HCCL_INTRA_PCIE_ENABLE": "0", "HCCL_INTRA_ROCE_ENABLE": "1"},
    ),
    Vendor.HYGON: VendorRuntime(
        visible_devices_env=["HIP_VISIBLE_DEVICES"],
        driver_paths=["/opt/hyhal", "/opt/dtk"],
        library_paths=["/opt/dtk/lib", "/opt/hyhal/lib"],
        env={"ROCM_PATH": "/opt/dtk"},
        p2p_disable_env={"NCCL_P2P_DISABLE": "1"},
    ),
    Vendor.CAMBRICON: VendorRuntime(
        visible_devices_env=["MLU_VISIBLE_DEVICES"],
        driver_paths=["/usr/local/neuware"],
        library_paths=["/usr/local/neuware/lib64"],
        env={"NEUWARE_HOME": "/usr/local/neuware"},
        p2p_disable_env={},
    ),
}


class VendorTable(BaseModel):
    """Per-vendor overrides of the built-in runtime table."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    nvidia: VendorRuntime = Field(default_factory=VendorRuntime)
    """NVIDIA GPUs."""
    ascend: VendorRuntime = Field(default_factory=VendorRuntime)
    """Huawei Ascend NPUs."""
    hygon: VendorRuntime = Field(default_factory=VendorRuntime)
    """Hygon DCUs."""
    cambricon: VendorRuntime = Field(default_factory=VendorRuntime)
    """Cambricon MLUs."""


class WebhookSettings(BaseSettings):
    """Everything hcs-webhook can be told."""

    model_config = SettingsConfigDict(
        env_prefix="HCS_WEBHOOK_",
        env_nested_delimiter="__",
        extra="forbid",
        use_attribute_docstrings=True,
    )

    host: str = "0.0.0.0"
    """Address to listen on."""
    port: int = Field(default=8443, ge=1, le=65535)
    """HTTPS port."""
    tls_cert: Path | None = None
    """PEM certificate chain; re-read when the file changes (cert-manager renewals)."""
    tls_key: Path | None = None
    """PEM private key of `tls_cert`."""
    scheduler_name: str = Field(default="hcs-scheduler", min_length=1)
    """schedulerName given to pods that ask for ai.compute/* (the profile with HCS's extender)."""
    scheduler_url: str = "https://hcs-scheduler.hcs-system.svc:8888"
    """Base URL of hcs-scheduler's extender, asked `POST /plan` for early binding."""
    scheduler_ca: Path | None = None
    """PEM CA bundle that verifies hcs-scheduler's HTTPS certificate; unset: the system's."""
    scheduler_token_file: Path | None = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
    """Token sent as `Authorization: Bearer` to /plan (hcs-scheduler checks it with a
    TokenReview), re-read on every call as the kubelet rotates it; a missing file sends none."""
    plan_timeout_seconds: float = Field(default=2.0, gt=0, le=10)
    """How long to wait for a plan; kept well under the webhook's timeoutSeconds (5)."""
    hcs_service_accounts: list[str] = Field(
        default_factory=lambda: ["system:serviceaccount:hcs-system:hcs-scheduler"]
    )
    """Usernames allowed to change hcs.io/ decision annotations on UPDATE (HCS itself)."""
    resume_writers: list[str] = Field(
        default_factory=lambda: ["system:serviceaccount:hcs-system:hcs-agent"]
    )
    """Usernames that may create a pod carrying hcs.io/resume-from and no other decision (the
    node agent's hcs-health, recreating a bare pod it moved off a sick device)."""
    runtime_host_path: str = "/var/lib/hcs/runtime"
    """Node directory the agent keeps: libhcs_interceptor.so and the local driver, under lib/."""
    runtime_mount_path: str = "/usr/local/hcs"
    """Where that directory appears in containers (read-only)."""
    preload_from_file: bool = False
    """Also mount the runtime directory's `ld.so.preload` at /etc/ld.so.preload, so the dynamic
    loader preloads the interposer even where a process clears LD_PRELOAD. Needs nodes whose
    runtime directory holds the file (`hcs-agent runtime`, the chart's init container)."""
    code_dir: str = "/workspace"
    """Where the user's code is in their image, for image rebinding (a container's workingDir,
    when set, wins)."""
    max_devices_per_node: int = Field(default=8, ge=1, le=64)
    """Most devices one pod can get (one node); requests needing more are refused."""
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    """Largest AdmissionReview accepted; a bigger one gets 413 from its Content-Length, unread."""
    request_timeout: float = Field(default=10.0, gt=0, le=300)
    """Seconds a client has to send a request's headers (from connecting, or from its previous
    answer on a kept-alive connection) and then its body; a slower one is cut off."""
    enforce_quota: bool = True
    """Deny pods that would take their namespace over a ComputeQuota."""
    trusted_namespaces: list[str] = Field(default_factory=list)
    """Namespaces whose HCS pods may set HCS's variables, mount over its paths, run privileged
    or mount device nodes (closed by default: every other namespace is refused)."""
    kubeconfig: Path | None = None
    """Kubeconfig for the API reads; unset: the in-cluster service account."""
    vendors: VendorTable = Field(default_factory=VendorTable)
    """Per-vendor runtime: visible-devices variables, driver mounts, env, base image."""
    log_level: str = "INFO"
    """Python logging level name."""

    _runtimes: dict[Vendor, VendorRuntime] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _cert_and_key_together(self) -> WebhookSettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key must be given together")
        return self

    def runtime(self, vendor: Vendor) -> VendorRuntime:
        """The vendor's runtime: the built-in table with this configuration's overrides."""
        if vendor not in self._runtimes:  # settings are built once and not changed afterwards
            override = getattr(self.vendors, vendor.value).model_dump(exclude_unset=True)
            self._runtimes[vendor] = _BUILT_IN[vendor].model_copy(update=override)
        return self._runtimes[vendor]

    @property
    def interceptor_path(self) -> str:
        return f"{self.runtime_mount_path}/lib/libhcs_interceptor.so"

    @property
    def runtime_library_path(self) -> str:
        return f"{self.runtime_mount_path}/lib"


def load_settings(config_file: Path | None = None, **flags: Any) -> WebhookSettings:
    """Settings from flags, environment and `config_file`; ConfigError naming each bad key."""
    if config_file is not None and not config_file.is_file():
        raise ConfigError(f"config file {config_file} does not exist")

    class _FromFile(WebhookSettings):
        model_config = SettingsConfigDict(yaml_file=config_file)

        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings, env_settings, YamlConfigSettingsSource(settings_cls))

    try:
        return _FromFile(**{k: v for k, v in flags.items() if v is not None})
    except ValidationError as error:
        problems = "; ".join(describe_validation_error(error))
        raise ConfigError(f"invalid setting {problems}") from None
    except (yaml.YAMLError, SettingsError) as error:  # a file or variable that does not parse
        raise ConfigError(f"config file {config_file}: {error}") from None
