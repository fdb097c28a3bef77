"""Kubernetes' JSON types for the parts of a Pod the webhook reads, checked once at the edge.

The webhook keeps the pod as JSON (it patches what it finds); its decisions index into
metadata, containers, env, volume mounts, volumes and node affinity. The API server never sends
a pod whose fields have other types, but a hand-made review can, and a list where a name should
be failed deep inside the decisions with a Python error naming no field. Checked here first, a
review like that is a 400 saying which field is wrong. Fields HCS does not read are ignored;
the `ai.compute/*` quantities are hcs_api's to judge (its messages name container and resource).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hcs_api import describe_validation_error


class _Shape(BaseModel):
    """Named after the Kubernetes type it checks: messages say "instance of PodSpec"."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class ObjectMeta(_Shape):
    name: str | None = None
    generate_name: str | None = Field(default=None, alias="generateName")
    namespace: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None


class ObjectFieldSelector(_Shape):
    field_path: str | None = Field(default=None, alias="fieldPath")


class EnvVarSource(_Shape):
    field_ref: ObjectFieldSelector | None = Field(default=None, alias="fieldRef")


class EnvVar(_Shape):
    name: str
    value: str | None = None
    value_from: EnvVarSource | None = Field(default=None, alias="valueFrom")


class VolumeMount(_Shape):
    name: str
    mount_path: str = Field(alias="mountPath")
    sub_path: str | None = Field(default=None, alias="subPath")
    sub_path_expr: str | None = Field(default=None, alias="subPathExpr")


class SecurityContext(_Shape):
    privileged: bool | None = None


class ResourceRequirements(_Shape):
    requests: dict[str, Any] | None = None
    limits: dict[str, Any] | None = None


class Container(_Shape):
    name: str | None = None
    image: str | None = None
    image_pull_policy: str | None = Field(default=None, alias="imagePullPolicy")
    working_dir: str | None = Field(default=None, alias="workingDir")
    command: list[str] | None = None
    args: list[str] | None = None
    restart_policy: str | None = Field(default=None, alias="restartPolicy")
    env: list[EnvVar] | None = None
    volume_mounts: list[VolumeMount] | None = Field(default=None, alias="volumeMounts")
    resources: ResourceRequirements | None = None
    security_context: SecurityContext | None = Field(default=None, alias="securityContext")


class HostPathVolumeSource(_Shape):
    path: str


class Volume(_Shape):
    name: str
    host_path: HostPathVolumeSource | None = Field(default=None, alias="hostPath")


class NodeSelectorRequirement(_Shape):
    key: str
    operator: str
    values: list[str] | None = None


class NodeSelectorTerm(_Shape):
    match_expressions: list[NodeSelectorRequirement] | None = Field(
        default=None, alias="matchExpressions"
    )


class NodeSelector(_Shape):
    node_selector_terms: list[NodeSelectorTerm] = Field(alias="nodeSelectorTerms")


class NodeAffinity(_Shape):
    required: NodeSelector | None = Field(
        default=None, alias="requiredDuringSchedulingIgnoredDuringExecution"
    )


class Affinity(_Shape):
    node_affinity: NodeAffinity | None = Field(default=None, alias="nodeAffinity")


class PodSpec(_Shape):
    containers: list[Container] | None = None
    init_containers: list[Container] | None = Field(default=None, alias="initContainers")
    ephemeral_containers: list[Container] | None = Field(default=None, alias="ephemeralContainers")
    volumes: list[Volume] | None = None
    affinity: Affinity | None = None
    scheduler_name: str | None = Field(default=None, alias="schedulerName")
    priority_class_name: str | None = Field(default=None, alias="priorityClassName")


class PodStatus(_Shape):
    phase: str | None = None


class Pod(_Shape):
    metadata: ObjectMeta | None = None
    spec: PodSpec | None = None
    status: PodStatus | None = None


def pod_problems(pod: dict[str, Any], where: str) -> list[str]:
    """Each field of `pod` (named from `where`) the webhook reads that has not Kubernetes'
    type, as `request.object.spec.volumes[0].name: Input should be a valid string`."""
    try:
        Pod.model_validate(pod)
    except ValidationError as error:
        return describe_validation_error(error, prefix=where)
    return []
