"""Early binding: the pieces of the patch that depend on the vendor chosen at admission.

Image rebinding contract: the user's image is their *code* image. An init container runs it
once and copies its code directory (the container's `workingDir`, else the `code_dir` setting)
into an emptyDir with `cp -a`, so the code image needs a `cp` (any distribution base has one).
The app container then runs the vendor's runtime base image with that emptyDir mounted at the
same directory, with its command, args and workingDir unchanged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hcs_api.names import Label, Vendor
from hcs_webhook._patch import Op, add, replace
from hcs_webhook.settings import VendorRuntime, WebhookSettings

CODE_PREFIX = "hcs-code-"
DRIVER_PREFIX = "hcs-driver-"
_COPY_TARGET = "/hcs-code"
_REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"


def driver_volumes(runtime: VendorRuntime) -> list[dict[str, Any]]:
    return [
        {"name": f"{DRIVER_PREFIX}{i}", "hostPath": {"path": path, "type": "Directory"}}
        for i, path in enumerate(runtime.driver_paths or [])
    ]


def driver_mounts(runtime: VendorRuntime) -> list[dict[str, Any]]:
    return [
        {"name": f"{DRIVER_PREFIX}{i}", "mountPath": path, "readOnly": True}
        for i, path in enumerate(runtime.driver_paths or [])
    ]


@dataclass
class Rebound:
    ops: list[Op] = field(default_factory=list)
    mounts: list[dict[str, Any]] = field(default_factory=list)
    volumes: list[dict[str, Any]] = field(default_factory=list)
    init_containers: list[dict[str, Any]] = field(default_factory=list)


def code_name(container: str) -> str:
    """The init container and volume name for `container`'s code: a DNS label (<= 63)."""
    name = CODE_PREFIX + container
    if len(name) <= 63:
        return name
    digest = hashlib.sha256(container.encode()).hexdigest()[:10]
    return f"{CODE_PREFIX}{container[: 63 - len(CODE_PREFIX) - 11]}-{digest}"


def rebind(
    spec: Mapping[str, Any],
    container: Mapping[str, Any],
    tokens: tuple[str | int, ...],
    settings: WebhookSettings,
    vendor: Vendor,
) -> Rebound:
    """Runtime image for `container`, its code copied in by an init container (done once)."""
    name = code_name(container["name"])
    code_dir = container.get("workingDir") or settings.code_dir
    mount = {"name": name, "mountPath": code_dir}
    volume = {"name": name, "emptyDir": {}}
    if any(c.get("name") == name for c in spec.get("initContainers") or []):
        return Rebound(mounts=[mount], volumes=[volume])  # rebound on an earlier invocation
    image = settings.runtime(vendor).runtime_image
    assert image is not None  # the caller refuses rebinding to a vendor without one
    init: dict[str, Any] = {
        "name": name,
        "image": container.get("image", ""),
        "command": ["cp", "-a", f"{code_dir.rstrip('/')}/.", f"{_COPY_TARGET}/"],
        "volumeMounts": [{"name": name, "mountPath": _COPY_TARGET}],
    }
    if "imagePullPolicy" in container:
        init["imagePullPolicy"] = container["imagePullPolicy"]
    op = replace if "image" in container else add
    return Rebound([op((*tokens, "image"), image)], [mount], [volume], [init])


def insert_init_containers(spec: Mapping[str, Any], inits: list[dict[str, Any]]) -> list[Op]:
    """Put the code copies first, before the user's own init containers (which may need it)."""
    if not inits:
        return []
    if not isinstance(spec.get("initContainers"), list):
        return [add(("spec", "initContainers"), inits)]
    return [add(("spec", "initContainers", 0), init) for init in reversed(inits)]


def _expression(vendor: Vendor) -> dict[str, Any]:
    return {"key": Label.VENDOR.value, "operator": "In", "values": [vendor.value]}


def vendor_affinity(spec: Mapping[str, Any], vendor: Vendor) -> list[Op]:
    """Require nodes labelled with `vendor`, ANDed into every term the user already has."""
    term = {"matchExpressions": [_expression(vendor)]}
    required = {"nodeSelectorTerms": [term]}
    affinity = spec.get("affinity")
    if not isinstance(affinity, dict):
        return [add(("spec", "affinity"), {"nodeAffinity": {_REQUIRED: required}})]
    node_affinity = affinity.get("nodeAffinity")
    if not isinstance(node_affinity, dict):
        return [add(("spec", "affinity", "nodeAffinity"), {_REQUIRED: required})]
    base = ("spec", "affinity", "nodeAffinity", _REQUIRED)
    selector = node_affinity.get(_REQUIRED)
    if not isinstance(selector, dict) or not selector.get("nodeSelectorTerms"):
        return [add(base, required)]
    ops = []
    for index, existing in enumerate(selector["nodeSelectorTerms"]):
        expressions = existing.get("matchExpressions")
        if any(e.get("key") == Label.VENDOR.value for e in expressions or []):
            continue
        at = (*base, "nodeSelectorTerms", index, "matchExpressions")
        if not isinstance(expressions, list):
            ops.append(add(at, [_expression(vendor)]))
        else:
            ops.append(add((*at, "-"), _expression(vendor)))
    return ops


def bound_vendor(pod: Mapping[str, Any]) -> Vendor | None:
    """The vendor an earlier invocation pinned through node affinity, if any."""
    spec = pod.get("spec") or {}
    selector = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(_REQUIRED) or {}
    for term in selector.get("nodeSelectorTerms") or []:
        for expression in term.get("matchExpressions") or []:
            values = expression.get("values") or []
            ours = expression.get("key") == Label.VENDOR.value and len(values) == 1
            if ours and values[0] in {v.value for v in Vendor}:
                return Vendor(values[0])
    return None
