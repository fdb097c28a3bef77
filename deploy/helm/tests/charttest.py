"""Helpers and constants the chart's tests share (fixtures are in conftest.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

REPO = (Path(os.environ.get("TEST_SRCDIR", "")) / os.environ.get("TEST_WORKSPACE", "")).absolute()
if not (REPO / "deploy" / "helm").is_dir():
    REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy"
CHART = DEPLOY / "helm" / "hcs"
NAMESPACE = "hcs-system"
VALUES = {"default": [], "dev": ["values-dev.yaml"], "prod": ["values-prod.yaml"]}
"""The values files the chart ships, by name (`default` is values.yaml alone)."""
CAPABILITIES = [
    "--api-versions",
    "cert-manager.io/v1",
    "--api-versions",
    "monitoring.coreos.com/v1",
]
"""A cluster with cert-manager and the Prometheus Operator installed."""


class RenderError(Exception):
    """`helm template` refused; the message is Helm's."""


def find(documents: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """The one object of `kind` named `name`."""
    found = [d for d in documents if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{len(found)} {kind} named {name}"
    return found[0]


def containers(workload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every container of a workload (init containers too), by name."""
    spec = workload["spec"]["template"]["spec"]
    return {c["name"]: c for c in spec.get("initContainers", []) + spec["containers"]}


def env(container: dict[str, Any]) -> dict[str, Any]:
    """A container's variables: the value, or the valueFrom for downward-API ones."""
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def source_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
