"""What the validating webhook refuses, each with a message a user can act on: pure, no I/O.

- decision annotations (`hcs.io/node`, `hcs.io/devices.<c>`, ...) set, changed or removed, at
  CREATE or UPDATE, by anyone but HCS's own service accounts (the AdmissionReview's userInfo);
- `ai.compute/*` requests hcs_api cannot read (quantities, limits vs requests, preferences);
- requests no profiled model of a vendor HCS runs can ever serve on one node.
Quota is in quota.py (it needs the namespace's pods).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from hcs_api import HcsApiError, PodRequest, read_pod_request
from hcs_api.names import Annotation, Vendor, devices_annotation, is_decision_annotation
from hcs_exchange import Demand, Exchange, ExchangeError, Fit
from hcs_webhook.review import AdmissionRequest, Operation
from hcs_webhook.settings import WebhookSettings


class Denied(Exception):  # a decision, not a failure (see errors.py)
    """The pod is refused; `str()` is the user's message, `code` the HTTP-like status."""

    def __init__(self, message: str, code: int = 403) -> None:
        super().__init__(message)
        self.code = code


def annotations_of(obj: Mapping[str, Any] | None) -> dict[str, Any]:
    metadata = (obj or {}).get("metadata") or {}
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    return dict(annotations) if isinstance(annotations, dict) else {}


def check_decisions(request: AdmissionRequest, settings: WebhookSettings) -> None:
    """Refuse decision annotations not written by HCS."""
    if request.user_info.username in settings.hcs_service_accounts:
        return
    new = {k: v for k, v in annotations_of(request.object).items() if is_decision_annotation(k)}
    if request.user_info.username in settings.resume_writers and request.operation is (
        Operation.CREATE
    ):
        # hcs-health (in the node agent) recreates a bare pod it moved off a sick device with
        # its resume point, and may write nothing else HCS decides.
        new.pop(Annotation.RESUME_FROM.value, None)
    if request.operation is Operation.CREATE:
        if new:
            raise Denied(
                f"annotation {', '.join(sorted(new))} is written only by HCS (the scheduler's "
                "decision); remove it from the pod"
            )
        return
    old = {k: v for k, v in annotations_of(request.old_object).items() if is_decision_annotation(k)}
    if new == old:
        return
    changed = sorted(k for k in set(new) | set(old) if new.get(k) != old.get(k))
    raise Denied(
        f"annotation {', '.join(changed)} is written only by HCS; "
        f"{request.user_info.username or 'this user'} may not add, change or remove it"
    )


def read_request(pod: Mapping[str, Any]) -> PodRequest:
    """The pod's HCS request, or Denied with hcs_api's message."""
    try:
        request = read_pod_request(pod)
        for container in request.containers:
            if not container.request.is_empty():
                devices_annotation(container.name)  # the allocation needs a key per container
    except HcsApiError as error:
        raise Denied(str(error)) from None
    return request


def check_satisfiable(request: PodRequest, exchange: Exchange, max_devices: int) -> list[Fit]:
    """The profiled models that could serve the pod on one node; Denied when there are none."""
    preferences = request.preferences
    names = _allowed_models(request, exchange)
    demand = Demand.from_request(request.effective, preferences.sharded)
    wanted = request.effective.devices or None
    fits, too_small = [], []
    for fit in exchange.candidates(demand, models=names):
        if fit.vendor not in set(Vendor) or not preferences.allows_vendor(Vendor(fit.vendor)):
            continue
        if fit.too_small:
            too_small.append(fit)
            continue
        devices = fit.devices
        if devices is None and preferences.allow_downgrade and "vram" in fit.per_resource:
            devices = math.ceil(fit.per_resource["vram"])  # consented: throughput unknown
        if devices is not None and devices <= (wanted or max_devices) <= max_devices:
            fits.append(fit)
    if not fits:
        raise Denied(_unservable(request, max_devices, too_small))
    return fits


def _allowed_models(request: PodRequest, exchange: Exchange) -> list[str]:
    preferences = request.preferences
    try:
        allowed = {exchange.database.get(m).model for m in preferences.models}
        excluded = {exchange.database.get(m).model for m in preferences.exclude_models}
    except ExchangeError as error:
        raise Denied(f"hcs.io/models or hcs.io/exclude-models: {error}") from None
    every = [p.model for p in exchange.database.profiles]
    return [m for m in every if (not allowed or m in allowed) and m not in excluded]


def _unservable(request: PodRequest, max_devices: int, too_small: list[Fit]) -> str:
    effective = request.effective
    asked = [f"{effective.vram / 2**30:g}Gi VRAM"] if effective.vram else []
    for name, value in (
        ("TFLOPS fp16", effective.tflops_fp16),
        ("TFLOPS fp32", effective.tflops_fp32),
        ("TOPS int8", effective.tops_int8),
    ):
        if value:
            asked.append(f"{value} {name}")
    if effective.devices:
        asked.append(f"on {effective.devices} devices")
    limit = min(effective.devices or max_devices, max_devices)
    message = (
        f"no known accelerator model can serve {', '.join(asked)} with at most {limit} devices "
        "of one node, within the pod's vendor and model preferences"
    )
    if too_small:
        # per_resource["vram"] is asked / held, so the largest device has the smallest ratio.
        largest = min(too_small, key=lambda fit: fit.per_resource["vram"])
        held = float(effective.vram / largest.per_resource["vram"])
        message += (
            f"; ai.compute/vram is what one device must hold and the largest such device "
            f"({largest.model}) holds {held / 2**30:.4g}Gi: ask ai.compute/devices, or annotate "
            'hcs.io/sharded: "true", to spread it'
        )
    return message
