"""Static mode's input: ComputeNode objects from a YAML file instead of an API server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from hcs_api import describe_validation_error
from hcs_api.v1alpha1 import ComputeNode
from hcs_scheduler.errors import InputError


def read_computenodes(path: Path) -> list[ComputeNode]:
    """A YAML list of ComputeNodes, a `kind: List` with `items`, or one object per document."""
    try:
        documents = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    except OSError as error:
        raise InputError(f"{path}: cannot read: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise InputError(f"{path}: not YAML: {error}") from None
    items: list[Any] = []
    for document in documents:
        if isinstance(document, list):
            items.extend(document)
        elif isinstance(document, dict) and document.get("kind") == "List":
            items.extend(document.get("items") or [])
        else:
            items.append(document)
    nodes = []
    for number, item in enumerate(items):
        try:
            nodes.append(ComputeNode.model_validate(item))
        except ValidationError as error:
            problems = "; ".join(describe_validation_error(error))
            raise InputError(f"{path}: ComputeNode #{number + 1}: {problems}") from None
    if not nodes:
        raise InputError(f"{path}: no ComputeNode objects in it")
    return nodes
