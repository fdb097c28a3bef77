"""ComputeQuota (namespaced): how much accelerator memory and compute a namespace may hold.

Like a ResourceQuota, but in HCS's own units: VRAM bytes, ACU (1 ACU = 1 % of one A100-80G,
vendor-neutral) and TFLOPS per precision. Pods count against a quota when its scope selects them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Literal, Self

from pydantic import ConfigDict, Field, model_validator

from hcs_api.names import API_VERSION
from hcs_api.v1alpha1._base import ObjectMeta, WireModel
from hcs_api.v1alpha1._fields import ByteQuantity, NonNegativeQuantity


class QuotaLimits(WireModel):
    """Amounts in each unit HCS accounts; an unset unit is not limited."""

    vram: ByteQuantity | None = None
    """Device memory in bytes."""
    acu: NonNegativeQuantity | None = None
    """Abstract compute units (1 ACU = 1 % of one A100-80G in the requested precision)."""
    tflops_fp16: NonNegativeQuantity | None = None
    """Dense FP16/BF16 TFLOPS."""
    tflops_fp32: NonNegativeQuantity | None = None
    """Dense FP32 TFLOPS."""
    tops_int8: NonNegativeQuantity | None = None
    """Dense INT8 TOPS."""
    devices: int | None = Field(default=None, ge=0)
    """Whole devices."""


class SelectorOperator(enum.StrEnum):
    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


class LabelSelectorRequirement(WireModel):
    """One expression of a label selector, as in Kubernetes."""

    key: str = Field(min_length=1)
    """The label key."""
    operator: SelectorOperator
    """In, NotIn, Exists or DoesNotExist."""
    values: list[str] = Field(default_factory=list)
    """Values for In and NotIn; empty for Exists and DoesNotExist."""

    @model_validator(mode="after")
    def _values_fit_operator(self) -> Self:
        needs_values = self.operator in (SelectorOperator.IN, SelectorOperator.NOT_IN)
        if needs_values and not self.values:
            raise ValueError(f"operator {self.operator} on key {self.key} needs values")
        if not needs_values and self.values:
            raise ValueError(f"operator {self.operator} on key {self.key} takes no values")
        return self

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        match self.operator:
            case SelectorOperator.IN:
                return present and labels[self.key] in self.values
            case SelectorOperator.NOT_IN:
                return not present or labels[self.key] not in self.values
            case SelectorOperator.EXISTS:
                return present
            case SelectorOperator.DOES_NOT_EXIST:
                return not present


class LabelSelector(WireModel):
    """Kubernetes' label selector: every label and every expression must match."""

    match_labels: dict[str, str] = Field(default_factory=dict)
    """Labels that must be present with these values."""
    match_expressions: list[LabelSelectorRequirement] = Field(default_factory=list)
    """Expressions that must all hold."""

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.match_labels.items()) and all(
            expression.matches(labels) for expression in self.match_expressions
        )


class ComputeQuotaSpec(WireModel):
    """The limits and which pods they apply to."""

    hard: QuotaLimits
    """The most the selected pods may hold together."""
    pod_selector: LabelSelector | None = None
    """Only pods with matching labels count; unset means every pod of the namespace."""
    priority_classes: list[str] = Field(default_factory=list)
    """Only pods of these priority classes count; empty means any."""

    def selects(self, labels: Mapping[str, str], priority_class: str | None) -> bool:
        """Whether a pod with these labels and priority class counts against this quota."""
        if self.priority_classes and priority_class not in self.priority_classes:
            return False
        return self.pod_selector is None or self.pod_selector.matches(labels)


class ComputeQuotaStatus(WireModel):
    """What the selected pods hold now."""

    hard: QuotaLimits | None = None
    """The limits this status was computed against."""
    used: QuotaLimits | None = None
    """What the selected pods hold."""
    pods: int = Field(default=0, ge=0)
    """Number of pods counted."""


class ComputeQuota(WireModel):
    """A namespace's accelerator quota, enforced at admission and at scheduling."""

    model_config = ConfigDict(title="ComputeQuota")

    api_version: Literal["hcs.io/v1alpha1"] = API_VERSION
    kind: Literal["ComputeQuota"] = "ComputeQuota"
    metadata: ObjectMeta
    spec: ComputeQuotaSpec
    status: ComputeQuotaStatus | None = None
