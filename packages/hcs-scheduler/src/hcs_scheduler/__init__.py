"""hcs_scheduler: vendor-neutral placement of ai.compute requests, and the simulator around it.

The placement core is pure: `build_cluster` makes a snapshot, `request_from_pod` (or
`uniform_request`) resolves what a pod asks per device model, `place` picks node and devices
with a policy from `PolicyFactory`. The simulator (`hcs-scheduler simulate`) runs the same core
over a cluster and a trace.
"""

from hcs_scheduler.catalog import NAMES as POLICY_NAMES
from hcs_scheduler.catalog import PolicyFactory
from hcs_scheduler.cluster import (
    FULL_SHARE,
    Allocation,
    Cluster,
    DeviceSpec,
    NodeSpec,
    build_cluster,
)
from hcs_scheduler.containers import ContainerAllocation
from hcs_scheduler.containers import split as split_by_container
from hcs_scheduler.errors import ConfigError, InputError, SchedulerError
from hcs_scheduler.fragmentation import WorkloadMix
from hcs_scheduler.placement import Placement, Rejection, node_scores, place
from hcs_scheduler.request import PlacementRequest, request_from_pod, uniform_request
from hcs_scheduler.snapshot import cluster_from_computenodes

__version__ = "0.7.0"

__all__ = [
    "FULL_SHARE",
    "POLICY_NAMES",
    "Allocation",
    "Cluster",
    "ConfigError",
    "ContainerAllocation",
    "DeviceSpec",
    "InputError",
    "NodeSpec",
    "Placement",
    "PlacementRequest",
    "PolicyFactory",
    "Rejection",
    "SchedulerError",
    "WorkloadMix",
    "__version__",
    "build_cluster",
    "cluster_from_computenodes",
    "node_scores",
    "place",
    "request_from_pod",
    "split_by_container",
    "uniform_request",
]
