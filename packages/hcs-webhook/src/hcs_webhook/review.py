"""AdmissionReview `admission.k8s.io/v1`, as the API server sends and expects it.

Field names are upstream's JSON names (k8s.io/api/admission/v1 types.go). Unknown fields are
ignored rather than refused, so that a newer API server adding a field does not break
admission; the ones HCS reads are typed.
"""

from __future__ import annotations

import base64
import enum
import json
from collections.abc import Sequence
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

API_VERSION: Final = "admission.k8s.io/v1"


class _Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class Operation(enum.StrEnum):
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    CONNECT = "CONNECT"


class GroupVersionKind(_Wire):
    group: str = ""
    version: str
    kind: str


class GroupVersionResource(_Wire):
    group: str = ""
    version: str
    resource: str


class UserInfo(_Wire):
    username: str = ""
    uid: str = ""
    groups: list[str] = Field(default_factory=list)
    extra: dict[str, list[str]] = Field(default_factory=dict)


class AdmissionRequest(_Wire):
    uid: str = Field(min_length=1)
    kind: GroupVersionKind
    resource: GroupVersionResource
    sub_resource: str = ""
    request_kind: GroupVersionKind | None = None
    request_resource: GroupVersionResource | None = None
    request_sub_resource: str = ""
    name: str = ""
    namespace: str = ""
    operation: Operation
    user_info: UserInfo = Field(default_factory=UserInfo)
    object: dict[str, Any] | None = None
    old_object: dict[str, Any] | None = None
    dry_run: bool = False
    options: dict[str, Any] | None = None

    def is_pod(self) -> bool:
        """A pod itself, or its ephemeralcontainers subresource (`kubectl debug`: the object is
        the whole pod with the containers added)."""
        return (self.resource.group, self.resource.resource) == ("", "pods") and (
            self.sub_resource in ("", "ephemeralcontainers")
        )


class Status(_Wire):
    """The part of metav1.Status a denial carries: the HTTP-like code and the message."""

    code: int
    message: str
    reason: str | None = None


class AdmissionResponse(_Wire):
    uid: str
    allowed: bool
    status: Status | None = None
    patch: str | None = None
    """Base64 of the JSON Patch (RFC 6902) document."""
    patch_type: Literal["JSONPatch"] | None = None
    warnings: list[str] | None = None
    """Shown to the user by kubectl (e.g. an env value of theirs that HCS left in place)."""
    audit_annotations: dict[str, str] | None = None


class AdmissionReview(_Wire):
    api_version: Literal["admission.k8s.io/v1"] = API_VERSION
    kind: Literal["AdmissionReview"] = "AdmissionReview"
    request: AdmissionRequest | None = None
    response: AdmissionResponse | None = None

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def allow(
    uid: str, patch: list[dict[str, Any]] | None = None, warnings: Sequence[str] = ()
) -> AdmissionResponse:
    """Allowed; with a JSON Patch when there is something to change (never an empty patch)."""
    response = AdmissionResponse(uid=uid, allowed=True, warnings=list(warnings) or None)
    if patch:
        body = json.dumps(patch, separators=(",", ":")).encode()
        response.patch = base64.b64encode(body).decode()
        response.patch_type = "JSONPatch"
    return response


def deny(uid: str, message: str, code: int = 403) -> AdmissionResponse:
    """Denied, with a message the user reads in kubectl's error."""
    return AdmissionResponse(uid=uid, allowed=False, status=Status(code=code, message=message))
