"""Shared pieces of the v1alpha1 wire models: the model base, object metadata, conditions."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class WireModel(BaseModel):
    """Base of every spec/status model: camelCase on the wire, unknown fields rejected.

    Rejecting unknown fields makes a typo in a CR an error that names the field, instead of a
    setting silently ignored. Field docstrings become the CRD's descriptions.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_attribute_docstrings=True,
        frozen=False,
        validate_assignment=True,
    )

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready dict Kubernetes expects (camelCase, unset optionals left out)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class ObjectMeta(BaseModel):
    """The parts of Kubernetes' ObjectMeta that HCS reads; everything else is kept as it came."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    name: str = Field(min_length=1, max_length=253)
    namespace: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    creation_timestamp: datetime | None = None


class ConditionStatus(enum.StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(WireModel):
    """A condition in the shape of Kubernetes' metav1.Condition."""

    type: str = Field(min_length=1, max_length=316)
    """The aspect this condition describes, e.g. Ready or DevicesHealthy."""
    status: ConditionStatus
    """True, False or Unknown."""
    last_transition_time: datetime
    """When status last changed."""
    reason: str = Field(
        min_length=1, max_length=1024, pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"
    )
    """A CamelCase machine-readable cause."""
    message: str = Field(default="", max_length=32768)
    """What a human should know about the transition."""
    observed_generation: int | None = Field(default=None, ge=0)
    """The .metadata.generation this condition was set from."""


LIST_MAP_BY_TYPE: dict[str, Any] = {
    "x-kubernetes-list-type": "map",
    "x-kubernetes-list-map-keys": ["type"],
}
LIST_MAP_BY_ID: dict[str, Any] = {
    "x-kubernetes-list-type": "map",
    "x-kubernetes-list-map-keys": ["id"],
}
