"""Turn a decoded YAML/JSON document into the HCS custom resource its kind names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from hcs_api.errors import HcsApiError, describe_validation_error
from hcs_api.names import API_VERSION
from hcs_api.v1alpha1 import ComputeNode, ComputeQuota

HcsResource = ComputeNode | ComputeQuota
_MODELS: dict[str, type[HcsResource]] = {"ComputeNode": ComputeNode, "ComputeQuota": ComputeQuota}


class InvalidResourceError(HcsApiError):
    """A document that is not a valid HCS custom resource; `problems` has one line per field."""

    def __init__(self, name: str, problems: list[str]) -> None:
        super().__init__(f"{name}: " + "; ".join(problems))
        self.name = name
        self.problems = problems


def parse_resource(document: Mapping[str, Any]) -> HcsResource:
    """A ComputeNode or ComputeQuota, validated; InvalidResourceError names every bad field."""
    if not isinstance(document, Mapping):
        raise InvalidResourceError("(document)", ["not an object"])
    kind, api_version = document.get("kind"), document.get("apiVersion")
    metadata = document.get("metadata")
    name = f"{kind} {metadata.get('name', '?')}" if isinstance(metadata, Mapping) else str(kind)
    if api_version != API_VERSION:
        raise InvalidResourceError(name, [f"apiVersion is {api_version!r}; expected {API_VERSION}"])
    if kind not in _MODELS:
        raise InvalidResourceError(
            name, [f"kind is {kind!r}; expected one of {', '.join(_MODELS)}"]
        )
    try:
        return _MODELS[kind].model_validate(document)
    except ValidationError as error:
        raise InvalidResourceError(name, describe_validation_error(error)) from None
