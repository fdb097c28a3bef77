"""Fixtures for the chart's tests: Helm (from HCS_HELM), the chart, and its rendered manifests.

Helm comes from tools/bootstrap/helm.sh; `make test` passes its path to Bazel as HCS_HELM, as
it passes the control plane's as HCS_CONTROLPLANE_BIN. The chart is copied out of the
repository with its links resolved (crds/ and files/ link to deploy/), as `helm package` would
pack it, so Helm reads plain files.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

# The helpers module beside this file and deploy/helm/settings_schema.py, importable from the
# tests (pytest's importlib mode does not put test folders on sys.path).
sys.path.insert(0, str(Path(__file__).parents[1]))
sys.path.insert(0, str(Path(__file__).parent))
from charttest import CHART, NAMESPACE, VALUES, RenderError


@pytest.fixture(scope="session")
def helm() -> str:
    path = os.environ.get("HCS_HELM", "")
    if not path or not os.access(path, os.X_OK):
        pytest.fail(
            f"HCS_HELM is {path!r}, not Helm: run `export HCS_HELM=$(tools/bootstrap/helm.sh)` "
            "(make test does this and passes it to bazel with --test_env)"
        )
    return path


@pytest.fixture(scope="session")
def chart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copied = tmp_path_factory.mktemp("chart") / "hcs"
    shutil.copytree(CHART, copied, symlinks=False)
    return copied


@pytest.fixture(scope="session")
def run_helm(helm: str, chart: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """`helm <args>` with the chart's values files named relative to the chart."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [helm, *args], capture_output=True, text=True, timeout=60, check=False, cwd=chart
        )

    return run


@pytest.fixture(scope="session")
def render(
    run_helm: Callable[..., subprocess.CompletedProcess[str]], chart: Path
) -> Callable[..., list[dict[str, Any]]]:
    """`render(values="dev", *flags, namespace=...)`: the manifests, CRDs and hooks included."""
    cache: dict[tuple[str, ...], list[dict[str, Any]]] = {}

    def rendered(
        values: str = "default", *flags: str, namespace: str = NAMESPACE
    ) -> list[dict[str, Any]]:
        key = (values, namespace, *flags)
        if key not in cache:
            files = [arg for name in VALUES[values] for arg in ("-f", name)]
            result = run_helm(
                "template", "hcs", str(chart), "--namespace", namespace, "--include-crds",
                *files, *flags,
            )  # fmt: skip
            if result.returncode != 0:
                raise RenderError(result.stderr)
            cache[key] = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
        return copy.deepcopy(cache[key])

    return rendered
