"""CustomResourceDefinitions (apiextensions.k8s.io/v1) derived from the v1alpha1 models.

Pydantic emits JSON Schema (2020-12, with $refs and anyOf-null optionals); a CRD needs a
structural OpenAPI v3 schema: every node typed, no $ref, no anyOf-null, optionality expressed by
`required`, exclusive bounds as booleans, quantities as int-or-string. `structural_schema` does
that translation; anything it cannot translate is an error, not a silently looser schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from hcs_api.names import GROUP, VERSION
from hcs_api.v1alpha1 import ComputeNode, ComputeQuota

# Keywords a structural schema may carry over from JSON Schema as they are.
_KEPT = (
    "description",
    "format",
    "pattern",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "enum",
    "x-kubernetes-int-or-string",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
)


@dataclass(frozen=True)
class PrinterColumn:
    name: str
    json_path: str
    type: str = "string"
    description: str = ""
    priority: int = 0

    def to_wire(self) -> dict[str, Any]:
        column: dict[str, Any] = {"name": self.name, "type": self.type, "jsonPath": self.json_path}
        if self.description:
            column["description"] = self.description
        if self.priority:
            column["priority"] = self.priority
        return column


@dataclass(frozen=True)
class CrdInfo:
    model: type[BaseModel]
    kind: str
    plural: str
    scope: str
    short_names: tuple[str, ...]
    columns: tuple[PrinterColumn, ...]

    @property
    def name(self) -> str:
        return f"{self.plural}.{GROUP}"


_AGE = PrinterColumn("Age", ".metadata.creationTimestamp", "date")

CRDS = (
    CrdInfo(
        model=ComputeNode,
        kind="ComputeNode",
        plural="computenodes",
        scope="Cluster",
        short_names=("cn",),
        columns=(
            PrinterColumn("Vendor", ".spec.vendors", description="Vendors of the node's devices"),
            PrinterColumn("Node", ".spec.nodeName", description="The Kubernetes node"),
            PrinterColumn(
                "Phase", ".status.phase", description="Pending, Ready, Degraded, NotReady"
            ),
            PrinterColumn("VRAM", ".status.capacity.vram", description="Device memory in all"),
            _AGE,
            PrinterColumn("Devices", ".status.capacity.devices", "integer", priority=1),
            PrinterColumn("Free-VRAM", ".status.allocatable.vram", priority=1),
        ),
    ),
    CrdInfo(
        model=ComputeQuota,
        kind="ComputeQuota",
        plural="computequotas",
        scope="Namespaced",
        short_names=("cq",),
        columns=(
            PrinterColumn("VRAM", ".spec.hard.vram", description="VRAM limit"),
            PrinterColumn("VRAM-Used", ".status.used.vram", description="VRAM held"),
            PrinterColumn("ACU", ".spec.hard.acu", description="ACU limit"),
            PrinterColumn("ACU-Used", ".status.used.acu", description="ACU held"),
            _AGE,
        ),
    ),
)


class SchemaError(ValueError):
    """A model uses a construct that has no structural OpenAPI equivalent."""


def custom_resource_definitions() -> list[dict[str, Any]]:
    """Every HCS CRD, as dicts ready to dump to YAML or send to the API server."""
    return [_crd(info) for info in CRDS]


def _crd(info: CrdInfo) -> dict[str, Any]:
    schema = info.model.model_json_schema(by_alias=True, mode="validation")
    root = structural_schema(schema, schema.get("$defs", {}))
    # The API server owns these three; metadata may only be typed, not constrained, here.
    root["properties"]["apiVersion"] = {"type": "string", "description": "hcs.io/v1alpha1"}
    root["properties"]["kind"] = {"type": "string", "description": info.kind}
    root["properties"]["metadata"] = {"type": "object"}
    root["required"] = [name for name in root.get("required", []) if name != "metadata"]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": info.name, "labels": {"app.kubernetes.io/part-of": "hcs"}},
        "spec": {
            "group": GROUP,
            "names": {
                "kind": info.kind,
                "listKind": f"{info.kind}List",
                "plural": info.plural,
                "singular": info.kind.lower(),
                "shortNames": list(info.short_names),
                "categories": ["hcs"],
            },
            "scope": info.scope,
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": root},
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [c.to_wire() for c in info.columns],
                }
            ],
        },
    }


def structural_schema(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Translate one pydantic JSON Schema node (and its children) to a structural one."""
    node = _resolve(node, defs)
    if node.get("x-kubernetes-int-or-string"):
        return {k: node[k] for k in _KEPT if k in node} | {
            "anyOf": [{"type": "integer"}, {"type": "string"}]
        }
    if "anyOf" in node:
        return _optional(node, defs)
    out: dict[str, Any] = {k: node[k] for k in _KEPT if k in node}
    if "const" in node:
        out["enum"] = [node["const"]]
    kind = node.get("type")
    if kind is None and "enum" in out:
        kind = "string"
    if kind not in ("object", "array", "string", "integer", "number", "boolean"):
        raise SchemaError(f"no structural type for schema {node}")
    out["type"] = kind
    if "exclusiveMinimum" in node:
        out |= {"minimum": node["exclusiveMinimum"], "exclusiveMinimum": True}
    if "exclusiveMaximum" in node:
        out |= {"maximum": node["exclusiveMaximum"], "exclusiveMaximum": True}
    if kind == "array":
        out["items"] = structural_schema(node["items"], defs)
    if kind == "object":
        _object(node, out, defs)
    return out


def _object(node: dict[str, Any], out: dict[str, Any], defs: dict[str, Any]) -> None:
    properties = node.get("properties", {})
    if properties:
        out["properties"] = {name: structural_schema(p, defs) for name, p in properties.items()}
        if node.get("required"):
            out["required"] = list(node["required"])
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        if properties:
            raise SchemaError("an object cannot have both properties and additionalProperties")
        out["additionalProperties"] = structural_schema(extra, defs)
    elif not properties:
        # A free-form object (metadata-like): keep whatever the client sends.
        out["x-kubernetes-preserve-unknown-fields"] = True


def _optional(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    branches = [b for b in node["anyOf"] if b.get("type") != "null"]
    if len(branches) != 1:
        raise SchemaError(f"unions other than Optional[X] have no structural form: {node}")
    inner = structural_schema(branches[0], defs)
    if "description" in node:
        inner["description"] = node["description"]
    return inner


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Inline a $ref, letting the referring node's own keywords (description) win."""
    ref = node.get("$ref")
    if ref is None:
        return node
    name = ref.removeprefix("#/$defs/")
    if name not in defs:
        raise SchemaError(f"unresolvable reference {ref}")
    siblings = {k: v for k, v in node.items() if k != "$ref"}
    return _resolve(defs[name], defs) | siblings
