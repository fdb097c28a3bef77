"""hcs_api: the HCS API types every component (and any controller that embeds them) shares.

The custom resources live in `hcs_api.v1alpha1`; wire names in `hcs_api.names`. This top level
holds what almost every caller needs: quantities, reading a pod's request, parsing a CR, and the
error types.
"""

from hcs_api._crdgen import custom_resource_definitions
from hcs_api._podrequest import (
    ComputeRequest,
    ContainerKind,
    ContainerRequest,
    PodRequest,
    Preferences,
    TopologyPreference,
    read_pod_request,
)
from hcs_api._quantity import Quantity, QuantityFormat
from hcs_api._resources import HcsResource, InvalidResourceError, parse_resource
from hcs_api.allocation import (
    ContainerAllocation,
    PodAllocation,
    allocation_annotations,
    read_allocation,
)
from hcs_api.errors import HcsApiError, QuantityError, RequestError, describe_validation_error
from hcs_api.plan import PlanCandidate, PlanRequest, PlanResult

__version__ = "0.4.0"

__all__ = [
    "ComputeRequest",
    "ContainerAllocation",
    "ContainerKind",
    "ContainerRequest",
    "HcsApiError",
    "HcsResource",
    "InvalidResourceError",
    "PlanCandidate",
    "PlanRequest",
    "PlanResult",
    "PodAllocation",
    "PodRequest",
    "Preferences",
    "Quantity",
    "QuantityError",
    "QuantityFormat",
    "RequestError",
    "TopologyPreference",
    "__version__",
    "allocation_annotations",
    "custom_resource_definitions",
    "describe_validation_error",
    "parse_resource",
    "read_allocation",
    "read_pod_request",
]
