"""API group hcs.io, version v1alpha1: the ComputeNode and ComputeQuota custom resources."""

from hcs_api.v1alpha1._base import Condition, ConditionStatus, ObjectMeta
from hcs_api.v1alpha1.computenode import (
    ComputeNode,
    ComputeNodeSpec,
    ComputeNodeStatus,
    ComputeTotals,
    Device,
    DeviceAllocation,
    Link,
    LinkType,
    NodePhase,
    PcieScope,
    Throughput,
)
from hcs_api.v1alpha1.computequota import (
    ComputeQuota,
    ComputeQuotaSpec,
    ComputeQuotaStatus,
    LabelSelector,
    LabelSelectorRequirement,
    QuotaLimits,
    SelectorOperator,
)

__all__ = [
    "ComputeNode",
    "ComputeNodeSpec",
    "ComputeNodeStatus",
    "ComputeQuota",
    "ComputeQuotaSpec",
    "ComputeQuotaStatus",
    "ComputeTotals",
    "Condition",
    "ConditionStatus",
    "Device",
    "DeviceAllocation",
    "LabelSelector",
    "LabelSelectorRequirement",
    "Link",
    "LinkType",
    "NodePhase",
    "ObjectMeta",
    "PcieScope",
    "QuotaLimits",
    "SelectorOperator",
    "Throughput",
]
