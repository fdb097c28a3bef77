"""`POST /plan` on hcs-scheduler: the webhook's question for early binding, and the answer.

A pod that pins a vendor or asks for image rebinding needs its vendor before it is scheduled
(its image and driver mounts depend on it). The webhook keeps no device-level state, so it asks
the running extender, which holds the cluster cache, to plan the pod against the cluster as it
is now. The plan is advice: nothing is reserved; the real decision is still made at filter/bind
time, constrained to the planned vendor through node affinity.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from hcs_api.names import Vendor
from hcs_api.v1alpha1._base import WireModel


class PlanRequest(WireModel):
    """The pod to plan, as the webhook received it (a Pod object as JSON)."""

    pod: dict[str, Any]
    """The Pod, including its `ai.compute/*` requests and `hcs.io/` preferences."""


class PlanCandidate(WireModel):
    """One device model that could serve the pod now."""

    vendor: Vendor
    model: str
    """The hcs-exchange profile name."""
    nodes: int = Field(ge=0)
    """How many nodes could place the pod on this model right now."""


class PlanResult(WireModel):
    """The vendor HCS would choose for the pod, or why none can be chosen."""

    vendor: Vendor | None = None
    """The vendor of the best placement; unset when nothing fits (see `error`)."""
    model: str | None = None
    """The device model of the best placement."""
    node: str | None = None
    """The node the best placement would use now (advice only: nothing is reserved)."""
    candidates: list[PlanCandidate] = Field(default_factory=list)
    """Every model that could serve the pod now, best first."""
    error: str | None = None
    """Why no vendor can be chosen, in words a user can act on."""
