"""kube-scheduler's extender protocol (k8s.io/kube-scheduler/extender/v1), as typed models.

Upstream's Go types carry no json tags, so kube-scheduler sends the Go field names as keys
(`Pod`, `NodeNames`, `PodName`...) and decodes answers case-insensitively, as Go's
encoding/json does. We answer with the exact upstream names and accept any letter case on the
way in (so lower-case keys from other callers work too). The pod inside ExtenderArgs is a
regular v1.Pod with its usual camelCase keys, kept as JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from typing import Any

import numpy as np
import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hcs_api import describe_validation_error

MAX_EXTENDER_PRIORITY = 10
"""Upstream's MaxExtenderPriority: prioritize scores are integers 0-10 (then x weight)."""


class GoJson(BaseModel):
    """Fields named as upstream's Go struct fields; keys matched case-insensitively."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _any_case(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        names = {(f.alias or n).lower(): f.alias or n for n, f in cls.model_fields.items()}
        return {names.get(str(k).lower(), k): v for k, v in data.items()}

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class _Shape(BaseModel):
    """Kubernetes' JSON types for the fields HCS reads of an object it otherwise keeps as
    JSON; everything else is ignored (and passed on untouched). Each is named after the
    Kubernetes type it checks, which is what a 400 names ("instance of PodSpec")."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class NodeMeta(_Shape):
    """A node's ObjectMeta, of which only the name is read."""

    name: str = ""


class Node(_Shape):
    metadata: NodeMeta | None = None


class NodeList(GoJson):
    """v1.NodeList, as sent when the extender is not nodeCacheCapable: only names are read."""

    items: list[Node] = Field(default_factory=list)

    def names(self) -> list[str]:
        return [item.metadata.name if item.metadata else "" for item in self.items]


class ObjectMeta(_Shape):
    name: str | None = None
    namespace: str | None = None
    uid: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    deletion_timestamp: str | None = Field(default=None, alias="deletionTimestamp")


class PodSpec(_Shape):
    node_name: str | None = Field(default=None, alias="nodeName")
    priority_class_name: str | None = Field(default=None, alias="priorityClassName")


class PodStatus(_Shape):
    phase: str | None = None


class Pod(_Shape):
    metadata: ObjectMeta | None = None
    spec: PodSpec | None = None
    status: PodStatus | None = None


def pod_problems(pod: dict[str, Any], where: str) -> list[str]:
    """The fields of `pod` (named from `where`, e.g. "Pod") the extender reads that are not of
    Kubernetes' types; empty when there are none. The containers' ai.compute requests are
    hcs_api's to judge (read_pod_request names them)."""
    try:
        Pod.model_validate(pod)
    except ValidationError as error:
        return describe_validation_error(error, prefix=where)
    return []


class ExtenderArgs(GoJson):
    """Body of filter and prioritize."""

    pod: dict[str, Any] = Field(alias="Pod")
    nodes: NodeList | None = Field(default=None, alias="Nodes")
    node_names: list[str] | None = Field(default=None, alias="NodeNames")

    def candidate_names(self) -> list[str]:
        """The nodes to consider: NodeNames (nodeCacheCapable), else the NodeList's names."""
        if self.node_names is not None:
            return self.node_names
        return self.nodes.names() if self.nodes is not None else []


class ExtenderFilterResult(GoJson):
    node_names: list[str] | None = Field(default=None, alias="NodeNames")
    failed_nodes: dict[str, str] = Field(default_factory=dict, alias="FailedNodes")
    failed_and_unresolvable_nodes: dict[str, str] = Field(
        default_factory=dict, alias="FailedAndUnresolvableNodes"
    )
    error: str = Field(default="", alias="Error")

    @classmethod
    def of(
        cls,
        passed: list[str],
        failed: dict[str, str] | None = None,
        unresolvable: dict[str, str] | None = None,
    ) -> ExtenderFilterResult:
        """A result from values we built: thousands of names, so no per-name validation."""
        return cls.model_construct(
            node_names=passed,
            failed_nodes=failed or {},
            failed_and_unresolvable_nodes=unresolvable or {},
        )

    def to_json(self) -> bytes:
        """The wire form (as to_wire(), encoded), built without a model dump."""
        wire: dict[str, Any] = {
            "FailedNodes": self.failed_nodes,
            "FailedAndUnresolvableNodes": self.failed_and_unresolvable_nodes,
            "Error": self.error,
        }
        if self.node_names is not None:
            wire["NodeNames"] = self.node_names
        return orjson.dumps(wire)


class HostPriority(GoJson):
    host: str = Field(alias="Host")
    score: int = Field(alias="Score", ge=0, le=MAX_EXTENDER_PRIORITY)


class ExtenderBindingArgs(GoJson):
    """Body of bind."""

    pod_name: str = Field(alias="PodName", min_length=1)
    pod_namespace: str = Field(alias="PodNamespace", min_length=1)
    pod_uid: str = Field(alias="PodUID", min_length=1)
    node: str = Field(alias="Node", min_length=1)


class ExtenderBindingResult(GoJson):
    error: str = Field(default="", alias="Error")


class HostPriorityEncoder:
    """Encodes HostPriorityLists over one fixed set of hosts (a snapshot's nodes).

    Each host's `{"Host":"<name>","Score":` is encoded once, up front; an answer is then two
    C-speed gathers and one join, a fifth of the time of building and encoding a dict per host
    (thousands of hosts per answer)."""

    _TAILS = tuple(b"%d}," % score for score in range(MAX_EXTENDER_PRIORITY + 1))

    def __init__(self, hosts: Sequence[str]) -> None:
        self._heads = [b'{"Host":' + orjson.dumps(host) + b',"Score":' for host in hosts]

    def encode(self, hosts: list[str], index: np.ndarray, scores: np.ndarray) -> bytes:
        """`hosts[i]` scored `scores[i]` (0-10); `index[i]` is its position in the encoder's
        hosts, or -1 for a host it does not know (then every pair is encoded the plain way)."""
        if not hosts:
            return b"[]"
        if index.min() < 0 or scores.min() < 0 or scores.max() > MAX_EXTENDER_PRIORITY:
            return encode_host_priorities(list(zip(hosts, scores.tolist(), strict=True)))
        parts: list[bytes] = [b""] * (2 * len(hosts))
        parts[0::2] = _gather(self._heads, index.tolist())
        parts[1::2] = _gather(self._TAILS, scores.tolist())
        return b"[" + b"".join(parts)[:-1] + b"]"  # [:-1]: the last tail's comma


def _gather(items: Sequence[bytes], positions: list[int]) -> Sequence[bytes]:
    return [items[positions[0]]] if len(positions) == 1 else itemgetter(*positions)(items)


def encode_host_priorities(priorities: list[tuple[str, int]]) -> bytes:
    """A HostPriorityList as JSON, one dict per host (any host name)."""
    return orjson.dumps([{"Host": host, "Score": score} for host, score in priorities])
