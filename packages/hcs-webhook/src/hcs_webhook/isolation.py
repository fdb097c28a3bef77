"""What a pod may not do to its own slice: pure, no I/O.

HCS enforces a pod's allocation through a few variables and paths: each vendor's
visible-devices variable and the interceptor's quota variables (read from the allocation
annotations through the downward API), `LD_PRELOAD` (the interposer), and the runtime and
driver directories it mounts. A pod that sets one of those variables itself, mounts over one of
those paths, replaces one of HCS's volumes, runs privileged, or mounts device nodes from the
host could switch its slice off. Every such route, in every container (init, app, ephemeral),
is refused with a message naming the container and the key, unless the pod's namespace is one
the operator trusts (`trusted_namespaces`).

`env` is checked entry by entry. `envFrom` cannot override these variables: the webhook sets
each of them in `env`, which Kubernetes gives precedence over `envFrom`. A process inside the
container can still unset `LD_PRELOAD` for its children or call the driver directly: the
interposer is a guard for ordinary frameworks, not a security boundary (see the README).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Mapping
from typing import Any

from hcs_api import HcsApiError
from hcs_api.names import Vendor, devices_annotation, vram_quota_annotation
from hcs_webhook._early import DRIVER_PREFIX
from hcs_webhook.mutation import (
    PRELOAD_FILE,
    QUOTA_VARIABLE,
    RUNTIME_VOLUME,
    env_from_annotation,
    normal_env,
)
from hcs_webhook.settings import WebhookSettings

REGION_VARIABLE = "HCS_SHM_PATH"
DEVICE_DIR = "/dev"
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


def isolation_problems(
    pod: Mapping[str, Any], settings: WebhookSettings, namespace: str
) -> list[str]:
    """Every way `pod` would escape its slice, in words; empty when it escapes none (or its
    namespace is trusted)."""
    if namespace in settings.trusted_namespaces:
        return []
    spec = pod.get("spec")
    if not isinstance(spec, Mapping):
        return []
    problems = _volume_problems(spec, settings)
    for kind, container in _containers(spec):
        where = f"{kind} {container.get('name')!r}"
        problems += [f"{where}: {p}" for p in _env_problems(container, settings)]
        problems += [f"{where}: {p}" for p in _mount_problems(container, spec, settings)]
        context = container.get("securityContext")
        if isinstance(context, Mapping) and context.get("privileged") is True:
            problems.append(f"{where}: securityContext.privileged would see every device")
    return problems


def explain(problems: list[str]) -> str:
    """The denial message for `problems`."""
    return (
        "this pod could switch off the device slice HCS gives it: "
        + "; ".join(problems)
        + ". Remove them (HCS sets its own), or ask an operator to add the namespace to the "
        "webhook's trusted_namespaces"
    )


def _containers(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    kinds = {"initContainers": "init container", "containers": "container"}
    for key in CONTAINER_LISTS:
        items = spec.get(key)
        for container in items if isinstance(items, list) else []:
            if isinstance(container, Mapping):
                yield kinds.get(key, "ephemeral container"), container


def _env_problems(container: Mapping[str, Any], settings: WebhookSettings) -> list[str]:
    name = str(container.get("name") or "")
    allowed = _hcs_env(name, settings)
    problems = []
    entries = container.get("env")
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, Mapping):
            continue
        variable = str(entry.get("name") or "")
        if _protected(variable, settings) and normal_env(entry) not in allowed.get(variable, []):
            problems.append(f"env {variable} is set by HCS from the pod's allocation")
    return problems


def _protected(variable: str, settings: WebhookSettings) -> bool:
    if variable in ("LD_PRELOAD", QUOTA_VARIABLE, REGION_VARIABLE):
        return True
    if variable.startswith(f"{QUOTA_VARIABLE}_"):  # the interceptor's per-device override
        return True
    return any(variable in (settings.runtime(v).visible_devices_env or ()) for v in Vendor)


def _hcs_env(container: str, settings: WebhookSettings) -> dict[str, list[Any]]:
    """The only values HCS itself gives the protected variables in `container`."""
    try:
        devices, quota = devices_annotation(container), vram_quota_annotation(container)
    except HcsApiError:  # a name too long for a key: read_request refuses the pod already
        return {}
    allowed: dict[str, list[Any]] = {
        "LD_PRELOAD": [normal_env({"name": "LD_PRELOAD", "value": settings.interceptor_path})],
        QUOTA_VARIABLE: [normal_env(env_from_annotation(QUOTA_VARIABLE, quota))],
    }
    for vendor in Vendor:
        for variable in settings.runtime(vendor).visible_devices_env or ():
            allowed[variable] = [normal_env(env_from_annotation(variable, devices))]
    return allowed


def _protected_paths(settings: WebhookSettings) -> dict[str, str]:
    """Path -> what HCS has there. A mount at one of them, or under one, would hide it; a mount
    above one does not (container runtimes mount parents first, so HCS's deeper mount stays on
    top)."""
    paths = {settings.runtime_mount_path: "HCS's runtime (the interposer)", PRELOAD_FILE: "ld.so"}
    for vendor in Vendor:
        for path in settings.runtime(vendor).driver_paths or ():
            paths[path] = f"the {vendor} driver"
    return paths


def _hcs_volume(volume: Mapping[str, Any], settings: WebhookSettings) -> str | None:
    """The host path of `volume` if it is one HCS defines (its name and its hostPath), else
    None."""
    name = str(volume.get("name") or "")
    host = volume.get("hostPath")
    path = host.get("path") if isinstance(host, Mapping) else None
    if name == RUNTIME_VOLUME and path == settings.runtime_host_path:
        return str(path)
    drivers = {p for v in Vendor for p in settings.runtime(v).driver_paths or ()}
    if name.startswith(DRIVER_PREFIX) and path in drivers:
        return str(path)
    return None


def _volume_problems(spec: Mapping[str, Any], settings: WebhookSettings) -> list[str]:
    problems = []
    volumes = spec.get("volumes")
    for volume in volumes if isinstance(volumes, list) else []:
        if not isinstance(volume, Mapping):
            continue
        name = str(volume.get("name") or "")
        reserved = name == RUNTIME_VOLUME or name.startswith(DRIVER_PREFIX)
        if reserved and _hcs_volume(volume, settings) is None:
            problems.append(f"volume {name} is HCS's name for its runtime; rename the pod's own")
        host = volume.get("hostPath")
        path = host.get("path") if isinstance(host, Mapping) else None
        device_dir = isinstance(path, str) and _under(DEVICE_DIR, posixpath.normpath(path))
        if device_dir or (isinstance(path, str) and _under(posixpath.normpath(path), DEVICE_DIR)):
            problems.append(f"volume {name} mounts device nodes from the host ({path})")
    return problems


def _mount_problems(
    container: Mapping[str, Any], spec: Mapping[str, Any], settings: WebhookSettings
) -> list[str]:
    volumes = spec.get("volumes")
    by_name = {
        str(v.get("name")): v
        for v in (volumes if isinstance(volumes, list) else [])
        if isinstance(v, Mapping)
    }
    problems = []
    mounts = container.get("volumeMounts")
    for mount in mounts if isinstance(mounts, list) else []:
        if not isinstance(mount, Mapping) or not isinstance(mount.get("mountPath"), str):
            continue
        target = posixpath.normpath(mount["mountPath"])
        for path, what in _protected_paths(settings).items():
            if _under(target, path) and not _is_hcs_mount(mount, by_name, path, settings):
                problems.append(f"volumeMount {mount['mountPath']} covers {path} ({what})")
    return problems


def _is_hcs_mount(
    mount: Mapping[str, Any],
    volumes: Mapping[str, Mapping[str, Any]],
    path: str,
    settings: WebhookSettings,
) -> bool:
    volume = volumes.get(str(mount.get("name")))
    host = _hcs_volume(volume, settings) if volume is not None else None
    target = posixpath.normpath(str(mount.get("mountPath")))
    if host == settings.runtime_host_path and mount.get("subPath") == "ld.so.preload":
        return target == path == PRELOAD_FILE  # HCS's own preload_from_file mount
    if host is None or mount.get("subPath") or mount.get("subPathExpr"):
        return False
    expected = settings.runtime_mount_path if host == settings.runtime_host_path else host
    return target == expected == path


def _under(path: str, top: str) -> bool:
    """`path` is `top` or lies under it."""
    return path == top or path.startswith(top.rstrip("/") + "/")
