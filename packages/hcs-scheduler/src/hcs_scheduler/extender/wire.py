"""kube-scheduler's extender protocol (k8s.io/kube-scheduler/extender/v1), as typed models.

Upstream's Go types carry no json tags, so kube-scheduler sends the Go field names as keys
(`Pod`, `NodeNames`, `PodName`...) and decodes answers case-insensitively, as Go's
encoding/json does. We answer with the exact upstream names and accept any letter case on the
way in (so lower-case keys from other callers work too). The pod inside ExtenderArgs is a
regular v1.Pod with its usual camelCase keys, kept as JSON.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

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


class NodeList(GoJson):
    """v1.NodeList, as sent when the extender is not nodeCacheCapable: only names are read."""

    items: list[dict[str, Any]] = Field(default_factory=list)

    def names(self) -> list[str]:
        return [str((item.get("metadata") or {}).get("name", "")) for item in self.items]


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


# Node names are DNS subdomains (RFC 1123): nothing in them needs JSON escaping.
_PLAIN_NAMES = re.compile(r"[a-z0-9.\-\n]*")


def encode_host_priorities(priorities: list[tuple[str, int]]) -> str:
    """A HostPriorityList as JSON text. Node names that need no escaping (all real ones) are
    formatted directly, twice as fast as json for thousands of hosts; any other goes through
    the json module."""
    names = "\n".join(host for host, _ in priorities)
    separators = max(len(priorities) - 1, 0)  # a newline inside a name would add one
    if names.count("\n") == separators and _PLAIN_NAMES.fullmatch(names):
        return "[" + ",".join([f'{{"Host":"{h}","Score":{s}}}' for h, s in priorities]) + "]"
    return json.dumps([{"Host": host, "Score": score} for host, score in priorities])
