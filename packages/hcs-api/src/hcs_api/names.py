"""Every name HCS puts on the wire: resource names, `hcs.io/` annotations, labels and taints.

One module, so that the agent, scheduler, webhook and any controller that embeds hcs_api agree
on the spelling. Annotation values are strings, as Kubernetes requires.
"""

from __future__ import annotations

import enum
import re
from typing import Final

from hcs_api.errors import HcsApiError

GROUP: Final = "hcs.io"
VERSION: Final = "v1alpha1"
API_VERSION: Final = "hcs.io/v1alpha1"


class Resource(enum.StrEnum):
    """Extended resources a container requests (`resources.requests` / `limits`).

    All are whole numbers, as Kubernetes requires of extended resources. VRAM is what one device
    must hold: a single process cannot use memory spread over devices. With
    `ai.compute/devices: N` (or `hcs.io/sharded: "true"`) VRAM and throughput are totals, split
    evenly over the devices on one node. Throughput may be met by several devices either way.
    """

    VRAM = "ai.compute/vram"
    """Device memory in bytes (a quantity such as 16Gi)."""
    TFLOPS_FP16 = "ai.compute/tflops-fp16"
    """Dense FP16/BF16 throughput in TFLOPS."""
    TFLOPS_FP32 = "ai.compute/tflops-fp32"
    """Dense FP32 throughput in TFLOPS."""
    TOPS_INT8 = "ai.compute/tops-int8"
    """Dense INT8 throughput in TOPS."""
    DEVICES = "ai.compute/devices"
    """Number of whole devices, for work that needs them (distributed training)."""


RESOURCE_PREFIX = "ai.compute/"


class Vendor(enum.StrEnum):
    """Accelerator vendors HCS can place work on."""

    NVIDIA = "nvidia"
    ASCEND = "ascend"
    HYGON = "hygon"
    CAMBRICON = "cambricon"


class Annotation(enum.StrEnum):
    """Pod annotations. User preferences are set by the user; decisions only by HCS."""

    # -- user preferences
    VENDORS = "hcs.io/vendors"
    """Comma-separated vendors the pod may run on (default: any)."""
    EXCLUDE_VENDORS = "hcs.io/exclude-vendors"
    """Comma-separated vendors the pod must not run on."""
    MODELS = "hcs.io/models"
    """Comma-separated device models (hcs-exchange profile names) the pod may run on."""
    EXCLUDE_MODELS = "hcs.io/exclude-models"
    """Comma-separated device models the pod must not run on."""
    TOPOLOGY = "hcs.io/topology"
    """How much multi-device link quality matters: none, preferred (default) or required."""
    ALLOW_DOWNGRADE = "hcs.io/allow-downgrade"
    """"true" lets HCS serve the request with less throughput than asked when nothing else fits."""
    CHECKPOINT_DIR = "hcs.io/checkpoint-dir"
    """Absolute path of the job's checkpoints, used when it is moved off sick hardware."""
    REBIND_IMAGE = "hcs.io/rebind-image"
    """"true" asks for early binding: the image is rewritten to the chosen vendor's runtime."""
    SHARDED = "hcs.io/sharded"
    """"true" says the pod's work is sharded over its devices (tensor/pipeline parallel), so its
    `ai.compute/vram` may be spread over several devices; without it, the VRAM request is what
    one device must hold unless the pod asks for `ai.compute/devices`."""

    # -- decisions (written only by HCS; the webhook rejects a user who sets them)
    NODE = "hcs.io/node"
    """Node chosen by the scheduler."""
    VENDOR = "hcs.io/vendor"
    """Vendor chosen for the pod."""
    ALLOCATION = "hcs.io/allocation"
    """The whole allocation as JSON: device ids, VRAM and throughput per container."""
    BIND_PHASE = "hcs.io/bind-phase"
    """Where binding stands: reserved, bound or failed."""
    BIND_TIME = "hcs.io/bind-time"
    """RFC 3339 time of the last change of the bind phase."""
    RESUME_FROM = "hcs.io/resume-from"
    """The checkpoint a job moved off sick hardware resumes from: an absolute path inside the
    container, under the pod's `hcs.io/checkpoint-dir` (e.g. `/ckpt/step-30.pt`). hcs-health
    writes it on the replacement of a bare pod, or on the pod's controller (a Job, JobSet,
    PyTorchJob...) and that controller's own, which recreate the pod; the webhook gives it to
    the new pod's accelerated containers as `HCS_RESUME_FROM`."""


USER_ANNOTATIONS = frozenset(
    {
        Annotation.VENDORS,
        Annotation.EXCLUDE_VENDORS,
        Annotation.MODELS,
        Annotation.EXCLUDE_MODELS,
        Annotation.TOPOLOGY,
        Annotation.ALLOW_DOWNGRADE,
        Annotation.CHECKPOINT_DIR,
        Annotation.REBIND_IMAGE,
        Annotation.SHARDED,
    }
)
DECISION_ANNOTATIONS = frozenset(set(Annotation) - USER_ANNOTATIONS)

# Per-container decisions, read by the container's env through the downward API
# (metadata.annotations['hcs.io/devices.<container>']), so each key names one container.
DEVICES_ANNOTATION_PREFIX = "hcs.io/devices."
"""Device ids given to a container, comma-separated, as its vendor's *_VISIBLE_DEVICES expects."""
VRAM_QUOTA_ANNOTATION_PREFIX = "hcs.io/vram-quota."
"""The container's VRAM slice per device in bytes, read by the interceptor's quota variable."""

_PER_CONTAINER_PREFIXES = (DEVICES_ANNOTATION_PREFIX, VRAM_QUOTA_ANNOTATION_PREFIX)
# An annotation key's name part: at most 63 characters, alphanumeric at both ends.
_NAME_PART_RE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


def devices_annotation(container: str) -> str:
    """The annotation key holding `container`'s device ids."""
    return _per_container_key(DEVICES_ANNOTATION_PREFIX, container)


def vram_quota_annotation(container: str) -> str:
    """The annotation key holding `container`'s VRAM quota per device."""
    return _per_container_key(VRAM_QUOTA_ANNOTATION_PREFIX, container)


def is_decision_annotation(key: str) -> bool:
    """True for every key only HCS may write, per-container keys included."""
    return key in DECISION_ANNOTATIONS or key.startswith(_PER_CONTAINER_PREFIXES)


def _per_container_key(prefix: str, container: str) -> str:
    name = prefix.removeprefix(f"{GROUP}/") + container
    if len(name) > 63 or not _NAME_PART_RE.match(name):
        raise HcsApiError(f"container name {container!r} does not fit an annotation key ({name!r})")
    return prefix + container


class BindPhase(enum.StrEnum):
    """Values of `hcs.io/bind-phase`."""

    RESERVED = "reserved"
    BOUND = "bound"
    FAILED = "failed"


class Label(enum.StrEnum):
    """Node labels HCS sets."""

    VENDOR = "hcs.io/vendor"
    """The node's accelerator vendor (the first, if a node mixes vendors)."""
    MANAGED = "hcs.io/managed"
    """"true" on nodes whose hcs-agent reports a ComputeNode."""


class Taint(enum.StrEnum):
    """Node taint keys hcs-health sets, with the effect each is set with."""

    UNHEALTHY = "hcs.io/unhealthy"
    """No device of the node is usable: no new work, and work is moved off (NoExecute)."""
    DEGRADED = "hcs.io/degraded"
    """Some devices are sick: new work goes to other nodes first (PreferNoSchedule; the sick
    devices themselves are cordoned, so the node's healthy ones still serve)."""


# -- device ids
# A ComputeNode's device id, and the ids in `hcs.io/allocation`, are `<vendor>-<index>`: one node
# may carry two vendors, each numbering its devices from 0, so the vendor's own index alone
# clashes. `hcs.io/devices.<container>` keeps the bare index, since it feeds *_VISIBLE_DEVICES.
_VENDOR_NAMES: Final = frozenset(vendor.value for vendor in Vendor)
_DEVICE_INDEX_RE = re.compile(r"[^\s,]{1,48}")
"""A vendor's own index: what a *_VISIBLE_DEVICES list holds, so no separator and no space."""


def device_id(vendor: str, index: str) -> str:
    """The vendor-qualified id of the vendor's device `index` ("ascend", "7" -> "ascend-7")."""
    if vendor not in _VENDOR_NAMES:
        raise HcsApiError(
            f"unknown vendor {vendor!r} for device index {index!r}; known: {', '.join(Vendor)}"
        )
    _check_index(vendor, index)
    return f"{vendor}-{index}"


def vendor_index(qualified: str) -> str:
    """The vendor's own index in a device id ("ascend-7" -> "7"), as its *_VISIBLE_DEVICES takes
    it. HcsApiError when `qualified` is not `<vendor>-<index>`."""
    vendor, separator, index = qualified.partition("-")
    if not separator or vendor not in _VENDOR_NAMES:
        raise HcsApiError(
            f"device id {qualified!r} is not vendor-qualified: expected <vendor>-<index>, "
            f"vendor one of {', '.join(Vendor)} (e.g. nvidia-0)"
        )
    _check_index(vendor, index)
    return index


def qualify_device_id(vendor: str, raw: str) -> str:
    """`raw` as a qualified id: a qualified one is kept, a bare index (what agents and extenders
    before hcs-api 0.3 wrote) gets `vendor`. For reading objects written before the rule."""
    prefix, separator, _ = raw.partition("-")
    if separator and prefix in _VENDOR_NAMES:
        return raw
    return device_id(vendor, raw)


def _check_index(vendor: str, index: str) -> None:
    if not _DEVICE_INDEX_RE.fullmatch(index):
        raise HcsApiError(
            f"{vendor} device index {index!r} is not one *_VISIBLE_DEVICES takes "
            "(1 to 48 characters, no comma, no space)"
        )
