"""What the mutating webhook changes on a pod that asks for `ai.compute/*`: pure, no I/O.

`mutate` compares the pod with what HCS needs on it and returns the smallest JSON Patch that
gets there, so running it again on its own output (reinvocation) returns an empty patch.
Values a user wrote explicitly (an env var, a mount path, a schedulerName of another scheduler)
are kept; each such decision comes back as a warning the API server shows to the user.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from hcs_api import ContainerKind, PodRequest
from hcs_api.names import RESOURCE_PREFIX, Vendor, devices_annotation, vram_quota_annotation
from hcs_webhook import _early
from hcs_webhook._patch import Op, add, add_to_list, add_to_map
from hcs_webhook.settings import WebhookSettings

RUNTIME_VOLUME = "hcs-runtime"
DEFAULT_SCHEDULER = "default-scheduler"
QUOTA_VARIABLE = "HCS_VRAM_QUOTA"
"""The interceptor's VRAM quota variable (native/interceptor)."""
RESUME_VARIABLE = "HCS_RESUME_FROM"
"""The checkpoint a job moved off sick hardware resumes from (resume.py finds it)."""
PRELOAD_FILE = "/etc/ld.so.preload"


@dataclass(frozen=True)
class Binding:
    """How the pod is bound: late (no vendor yet) or early, to `vendor`."""

    vendor: Vendor | None = None
    rebind_image: bool = False
    """Rewrite app containers' images to the vendor's runtime image (early binding only)."""
    p2p_env: Mapping[str, str] = field(default_factory=dict)
    """Collective-library switches for devices without a peer-to-peer path."""
    resume_from: str | None = None
    """The checkpoint path HCS recorded for the job (`hcs.io/resume-from`), if any."""


@dataclass(frozen=True)
class Mutation:
    patch: list[Op]
    warnings: list[str]


def mutate(
    pod: Mapping[str, Any], request: PodRequest, settings: WebhookSettings, binding: Binding
) -> Mutation:
    """The JSON Patch that makes `pod` run under HCS; empty when it asks for nothing."""
    if request.is_empty():
        return Mutation([], [])
    spec: dict[str, Any] = dict(pod["spec"])
    warnings: list[str] = []
    ops = _scheduler_name(spec, settings, warnings)
    volumes = [_runtime_volume(settings)]
    if binding.vendor is not None:
        volumes += _early.driver_volumes(settings.runtime(binding.vendor))
    inits: list[dict[str, Any]] = []
    for key, index, container in _accelerated(spec, request):
        tokens = ("spec", key, index)
        ops += _limits(container, tokens)
        ops += _env(container, tokens, desired_env(container["name"], settings, binding), warnings)
        mounts = _runtime_mounts(settings)
        if binding.vendor is not None:
            mounts += _early.driver_mounts(settings.runtime(binding.vendor))
        if binding.rebind_image and binding.vendor is not None and key == "containers":
            rebound = _early.rebind(spec, container, tokens, settings, binding.vendor)
            ops += rebound.ops
            mounts += rebound.mounts
            volumes += rebound.volumes
            inits += rebound.init_containers
        ops += _mounts(container, tokens, mounts, warnings)
    ops += add_to_list(spec, "volumes", ("spec",), _missing(spec.get("volumes"), volumes))
    if binding.vendor is not None:
        ops += _early.vendor_affinity(spec, binding.vendor)
    # Last: inserting init containers shifts their indices, which the ops above rely on.
    ops += _early.insert_init_containers(spec, inits)
    return Mutation(ops, warnings)


def desired_env(
    container: str, settings: WebhookSettings, binding: Binding
) -> list[dict[str, Any]]:
    """The variables HCS sets in one accelerated container, in order."""
    if binding.vendor is None:
        visible = [n for v in Vendor for n in settings.runtime(v).visible_devices_env or ()]
    else:
        visible = list(settings.runtime(binding.vendor).visible_devices_env or ())
    env = [
        env_from_annotation(name, devices_annotation(container)) for name in dict.fromkeys(visible)
    ]
    env.append(env_from_annotation(QUOTA_VARIABLE, vram_quota_annotation(container)))
    env.append({"name": "LD_PRELOAD", "value": settings.interceptor_path})
    libraries = [settings.runtime_library_path]
    extra: dict[str, str] = {}
    if binding.vendor is not None:
        runtime = settings.runtime(binding.vendor)
        libraries += runtime.library_paths or []
        extra.update(runtime.env or {})
    env.append({"name": "LD_LIBRARY_PATH", "value": ":".join(libraries)})
    extra.update(binding.p2p_env)
    if binding.resume_from is not None:
        extra[RESUME_VARIABLE] = binding.resume_from
    env += [{"name": name, "value": value} for name, value in extra.items()]
    return env


def env_from_annotation(name: str, annotation: str) -> dict[str, Any]:
    # The downward API resolves this when the kubelet starts the container, after the extender
    # wrote the allocation annotations at bind: the value is the node's, not admission's.
    path = f"metadata.annotations['{annotation}']"
    return {"name": name, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}}


def _accelerated(
    spec: Mapping[str, Any], request: PodRequest
) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """(list key, index, container) of every container that asks for ai.compute/*."""
    asking = {c.name for c in request.containers if not c.request.is_empty()}
    kinds = {c.name: c.kind for c in request.containers}
    for key in ("initContainers", "containers"):
        for index, container in enumerate(spec.get(key) or []):
            in_list = (kinds.get(container["name"]) is ContainerKind.APP) == (key == "containers")
            if container["name"] in asking and in_list:
                yield key, index, container


def _scheduler_name(
    spec: dict[str, Any], settings: WebhookSettings, warnings: list[str]
) -> list[Op]:
    current = spec.get("schedulerName")
    if current == settings.scheduler_name:
        return []
    if current in (None, "", DEFAULT_SCHEDULER):
        return [add(("spec", "schedulerName"), settings.scheduler_name)]
    warnings.append(
        f"schedulerName {current!r} kept as set; ai.compute/* resources are placed only by "
        f"{settings.scheduler_name!r}"
    )
    return []


def _limits(container: Mapping[str, Any], tokens: tuple[str | int, ...]) -> list[Op]:
    """Kubernetes requires a limit for every extended resource; copy requests without one."""
    resources = container.get("resources") or {}
    requests = resources.get("requests") or {}
    limits = resources.get("limits") or {}
    missing = {
        k: v for k, v in requests.items() if k.startswith(RESOURCE_PREFIX) and k not in limits
    }
    return add_to_map(resources, "limits", (*tokens, "resources"), missing)


def _env(
    container: Mapping[str, Any],
    tokens: tuple[str | int, ...],
    desired: list[dict[str, Any]],
    warnings: list[str],
) -> list[Op]:
    existing = {e.get("name"): e for e in container.get("env") or [] if isinstance(e, dict)}
    missing = []
    for entry in desired:
        theirs = existing.get(entry["name"])
        if theirs is None:
            missing.append(entry)
        elif normal_env(theirs) != normal_env(entry):
            warnings.append(
                f"container {container['name']!r}: env {entry['name']} kept as set in the pod; "
                f"HCS would have set it {_why_set(entry)}"
            )
    return add_to_list(dict(container), "env", tokens, missing)


def _why_set(entry: Mapping[str, Any]) -> str:
    if entry["name"] == RESUME_VARIABLE:
        return f"to {entry['value']!r}, the checkpoint it recorded when it moved the job"
    return "for the device allocation"


def normal_env(entry: Mapping[str, Any]) -> Any:
    """An env entry with the API server's defaults applied, for comparison."""
    value_from = entry.get("valueFrom")
    if isinstance(value_from, dict) and isinstance(value_from.get("fieldRef"), dict):
        field_ref = {"apiVersion": "v1", **value_from["fieldRef"]}
        return (entry.get("value"), {**value_from, "fieldRef": field_ref})
    return (entry.get("value"), value_from)


def _mounts(
    container: Mapping[str, Any],
    tokens: tuple[str | int, ...],
    desired: list[dict[str, Any]],
    warnings: list[str],
) -> list[Op]:
    existing = [m for m in container.get("volumeMounts") or [] if isinstance(m, dict)]
    present = {(m.get("name"), m.get("mountPath")) for m in existing}
    paths = {m.get("mountPath"): m.get("name") for m in existing}
    missing = []
    for mount in desired:
        if (mount["name"], mount["mountPath"]) in present:
            continue
        if mount["mountPath"] in paths:
            warnings.append(
                f"container {container['name']!r}: {mount['mountPath']} is already mounted "
                f"({paths[mount['mountPath']]}); HCS's {mount['name']} is not mounted there"
            )
            continue
        missing.append(mount)
    return add_to_list(dict(container), "volumeMounts", tokens, missing)


def _missing(existing: Any, wanted: list[dict[str, Any]]) -> list[dict[str, Any]]:
    names = {v.get("name") for v in existing or [] if isinstance(v, dict)}
    unique = {v["name"]: v for v in wanted}
    return [v for name, v in unique.items() if name not in names]


def _runtime_volume(settings: WebhookSettings) -> dict[str, Any]:
    # type Directory: a node without HCS's runtime directory fails the mount loudly instead of
    # starting a container without its quota interposer.
    path = {"path": settings.runtime_host_path, "type": "Directory"}
    return {"name": RUNTIME_VOLUME, "hostPath": path}


def _runtime_mounts(settings: WebhookSettings) -> list[dict[str, Any]]:
    mounts = [{"name": RUNTIME_VOLUME, "mountPath": settings.runtime_mount_path, "readOnly": True}]
    if settings.preload_from_file:
        # ld.so reads /etc/ld.so.preload for every dynamically linked program, whatever its
        # environment: a process that clears LD_PRELOAD still gets the interposer.
        mounts.append(
            {
                "name": RUNTIME_VOLUME,
                "mountPath": PRELOAD_FILE,
                "subPath": "ld.so.preload",
                "readOnly": True,
            }
        )
    return mounts
