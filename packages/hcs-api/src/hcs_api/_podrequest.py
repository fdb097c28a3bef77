"""Read what a pod asks HCS for: `ai.compute/*` requests per container and `hcs.io/` preferences.

Takes the pod as Kubernetes sends it (a JSON dict) and returns plain values, or raises
RequestError naming the container, the resource and what is wrong. The pod-level total follows
Kubernetes' own rule for effective requests: init containers run one at a time before the app
containers, sidecars (init containers with restartPolicy Always) keep running beside everything
started after them, so the pod needs the larger of the busiest init step and the app phase.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Any

from hcs_api._quantity import Quantity
from hcs_api.errors import QuantityError, RequestError, a_type
from hcs_api.names import RESOURCE_PREFIX, Annotation, Resource, Vendor


@dataclass(frozen=True, slots=True)
class ComputeRequest:
    """Whole-number amounts of each `ai.compute/*` resource; 0 means not requested."""

    vram: int = 0
    """Bytes."""
    tflops_fp16: int = 0
    tflops_fp32: int = 0
    tops_int8: int = 0
    devices: int = 0

    def __add__(self, other: ComputeRequest) -> ComputeRequest:
        return ComputeRequest(*(a + b for a, b in zip(_values(self), _values(other), strict=True)))

    def max(self, other: ComputeRequest) -> ComputeRequest:
        """Per resource, the larger of the two."""
        return ComputeRequest(
            *(max(a, b) for a, b in zip(_values(self), _values(other), strict=True))
        )

    def is_empty(self) -> bool:
        return not any(_values(self))


_FIELDS = attrgetter(*(f.name for f in fields(ComputeRequest)))
"""Every amount of a ComputeRequest, as a tuple (it is read on every pod the scheduler sees)."""


def _values(request: ComputeRequest) -> tuple[int, ...]:
    values: tuple[int, ...] = _FIELDS(request)
    return values


_FIELD_BY_RESOURCE = {
    Resource.VRAM: "vram",
    Resource.TFLOPS_FP16: "tflops_fp16",
    Resource.TFLOPS_FP32: "tflops_fp32",
    Resource.TOPS_INT8: "tops_int8",
    Resource.DEVICES: "devices",
}


_KNOWN_RESOURCES = frozenset(str(r) for r in Resource)


class ContainerKind(enum.StrEnum):
    INIT = "init"
    SIDECAR = "sidecar"
    APP = "app"


@dataclass(frozen=True, slots=True)
class ContainerRequest:
    name: str
    kind: ContainerKind
    request: ComputeRequest


class TopologyPreference(enum.StrEnum):
    NONE = "none"
    PREFERRED = "preferred"
    REQUIRED = "required"


_TOPOLOGIES = frozenset(TopologyPreference)


@dataclass(frozen=True, slots=True)
class Preferences:
    """The user's `hcs.io/` preferences; empty allow lists mean any."""

    vendors: frozenset[Vendor] = frozenset()
    exclude_vendors: frozenset[Vendor] = frozenset()
    models: frozenset[str] = frozenset()
    exclude_models: frozenset[str] = frozenset()
    topology: TopologyPreference = TopologyPreference.PREFERRED
    allow_downgrade: bool = False
    checkpoint_dir: str | None = None
    rebind_image: bool = False
    sharded: bool = False
    """The work is sharded over its devices: its VRAM may be spread over them."""

    def allows_vendor(self, vendor: Vendor) -> bool:
        return vendor not in self.exclude_vendors and (not self.vendors or vendor in self.vendors)

    def allows_model(self, model: str) -> bool:
        return model not in self.exclude_models and (not self.models or model in self.models)


@dataclass(frozen=True, slots=True)
class PodRequest:
    """Everything a pod asks of HCS."""

    containers: tuple[ContainerRequest, ...]
    effective: ComputeRequest
    """What the pod needs of a node at its busiest moment (Kubernetes' effective request)."""
    preferences: Preferences = field(default_factory=Preferences)

    def is_empty(self) -> bool:
        """True when the pod asks for no `ai.compute/*` resource (HCS leaves it alone)."""
        return self.effective.is_empty()


def read_pod_request(pod: Mapping[str, Any]) -> PodRequest:
    """What `pod` (a Pod as Kubernetes serialises it) asks of HCS."""
    spec = _mapping(pod.get("spec"), "pod.spec")
    containers: list[ContainerRequest] = []
    for item in _sequence(spec.get("initContainers"), "spec.initContainers"):
        sidecar = _mapping(item, "init container").get("restartPolicy") == "Always"
        containers.append(
            _container(item, ContainerKind.SIDECAR if sidecar else ContainerKind.INIT)
        )
    for item in _sequence(spec.get("containers"), "spec.containers"):
        containers.append(_container(item, ContainerKind.APP))
    metadata = _mapping(pod.get("metadata") or {}, "pod.metadata")
    annotations = _mapping(metadata.get("annotations") or {}, "metadata.annotations")
    return PodRequest(
        containers=tuple(containers),
        effective=effective_request(containers),
        preferences=read_preferences(annotations),
    )


def effective_request(containers: list[ContainerRequest]) -> ComputeRequest:
    """Kubernetes' effective pod request over init, sidecar and app containers."""
    sidecars = ComputeRequest()
    busiest_init = ComputeRequest()
    apps = ComputeRequest()
    for container in containers:
        if container.kind is ContainerKind.SIDECAR:
            sidecars = sidecars + container.request
            busiest_init = busiest_init.max(sidecars)
        elif container.kind is ContainerKind.INIT:
            busiest_init = busiest_init.max(sidecars + container.request)
        else:
            apps = apps + container.request
    return busiest_init.max(apps + sidecars)


def _container(item: object, kind: ContainerKind) -> ContainerRequest:
    container = _mapping(item, f"{kind} container")
    name = container.get("name")
    if not isinstance(name, str) or not name:
        raise RequestError(
            f"a{'' if kind is ContainerKind.SIDECAR else 'n'} {kind} container has no name"
        )
    resources = _mapping(container.get("resources") or {}, f"container {name!r} resources")
    requests = _compute_entries(resources.get("requests"), name, "requests")
    limits = _compute_entries(resources.get("limits"), name, "limits")
    amounts: dict[str, int] = {}
    for resource in sorted(set(requests) | set(limits)):
        request, limit = requests.get(resource), limits.get(resource)
        if request is not None and limit is not None and request != limit:
            raise RequestError(
                f"container {name!r}: {resource} requests ({request}) and limits ({limit}) differ; "
                "extended resources cannot be overcommitted, so set them equal or set only one"
            )
        # `is None`, not `or`: a zero quantity is falsy and is still what the user asked.
        amount = request if request is not None else limit
        amounts[_FIELD_BY_RESOURCE[Resource(resource)]] = _whole(amount, name, resource)
    return ContainerRequest(name=name, kind=kind, request=ComputeRequest(**amounts))


def _compute_entries(section: object, container: str, where: str) -> dict[str, Quantity]:
    entries = _mapping(section or {}, f"container {container!r} resources.{where}")
    known = _KNOWN_RESOURCES
    out: dict[str, Quantity] = {}
    for key, raw in entries.items():
        if not str(key).startswith(RESOURCE_PREFIX):
            continue
        if key not in known:
            raise RequestError(
                f"container {container!r}: unknown resource {key} in {where}; "
                f"HCS knows {', '.join(sorted(known))}"
            )
        try:
            out[key] = Quantity(raw)
        except QuantityError as error:
            raise RequestError(f"container {container!r}: {key} in {where}: {error}") from None
    return out


def _whole(quantity: Quantity | None, container: str, resource: str) -> int:
    assert quantity is not None  # one of request/limit is always present here
    if quantity.value < 0:
        raise RequestError(
            f"container {container!r}: {resource} is {quantity}; it cannot be negative"
        )
    if not quantity.is_integer():
        raise RequestError(
            f"container {container!r}: {resource} is {quantity}; extended resources must be whole "
            "numbers (ask for 1 TFLOPS, not 500m; for VRAM use a unit such as 512Mi)"
        )
    return int(quantity.value)


def read_preferences(annotations: Mapping[str, Any]) -> Preferences:
    """The `hcs.io/` user preferences, validated; contradictions are errors."""
    vendors = _vendor_set(annotations, Annotation.VENDORS)
    exclude_vendors = _vendor_set(annotations, Annotation.EXCLUDE_VENDORS)
    models = _word_set(annotations, Annotation.MODELS)
    exclude_models = _word_set(annotations, Annotation.EXCLUDE_MODELS)
    for what, allowed, denied in (
        ("vendor", vendors, exclude_vendors),
        ("model", models, exclude_models),
    ):
        both = sorted(str(x) for x in allowed & denied)
        if both:
            raise RequestError(f"{what} {', '.join(both)} is both allowed and excluded")
    topology = _annotation(annotations, Annotation.TOPOLOGY)
    if topology is None:
        topology = TopologyPreference.PREFERRED
    if topology not in _TOPOLOGIES:
        raise RequestError(
            f"{Annotation.TOPOLOGY} is {topology!r}; use one of none, preferred, required"
        )
    checkpoint_dir = _annotation(annotations, Annotation.CHECKPOINT_DIR)
    if checkpoint_dir is not None and not checkpoint_dir.startswith("/"):
        raise RequestError(
            f"{Annotation.CHECKPOINT_DIR} is {checkpoint_dir!r}; it must be an absolute path"
        )
    return Preferences(
        vendors=vendors,
        exclude_vendors=exclude_vendors,
        models=models,
        exclude_models=exclude_models,
        topology=TopologyPreference(topology),
        allow_downgrade=_boolean(annotations, Annotation.ALLOW_DOWNGRADE),
        checkpoint_dir=checkpoint_dir,
        rebind_image=_boolean(annotations, Annotation.REBIND_IMAGE),
        sharded=_boolean(annotations, Annotation.SHARDED),
    )


def _annotation(annotations: Mapping[str, Any], key: Annotation) -> str | None:
    """The annotation's value, None if unset; Kubernetes only stores strings there."""
    raw = annotations.get(key)
    if raw is None or isinstance(raw, str):
        return raw
    raise RequestError(f"{key} is {a_type(raw)}, not a string")


def _word_set(annotations: Mapping[str, Any], key: Annotation) -> frozenset[str]:
    raw = _annotation(annotations, key)
    if raw is None:
        return frozenset()
    return frozenset(word.strip() for word in raw.split(",") if word.strip())


def _vendor_set(annotations: Mapping[str, Any], key: Annotation) -> frozenset[Vendor]:
    words = _word_set(annotations, key)
    if not words:
        return frozenset()
    known = {str(v) for v in Vendor}
    unknown = sorted(words - known)
    if unknown:
        raise RequestError(
            f"{key} names unknown vendor {', '.join(unknown)}; HCS knows {', '.join(sorted(known))}"
        )
    return frozenset(Vendor(word) for word in words)


def _boolean(annotations: Mapping[str, Any], key: Annotation) -> bool:
    raw = _annotation(annotations, key)
    if raw is None:
        return False
    if raw in ("true", "false"):
        return bool(raw == "true")
    raise RequestError(f'{key} is {raw!r}; use "true" or "false"')


def _mapping(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise RequestError(f"{what} is not an object")
    return value


def _sequence(value: object, what: str) -> list[object]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise RequestError(f"{what} is not a list")
    return value
