"""pytest fixtures: one control plane per test session, a namespace per test.

Load it from a conftest.py: `pytest_plugins = ["hcs_envtest.pytest_plugin"]`.

- `control_plane`: the session's ControlPlane (etcd + kube-apiserver).
- `kube_api`: a `kubernetes.client.ApiClient` as the admin.
- `kube_namespace`: a fresh namespace with its `default` ServiceAccount (kube-controller-manager
  would make it; none runs unless a test starts one); its pods are deleted after the test, so
  nothing they hold leaks into the next one.

A missing binary fails the tests that need it (with the reason), never skips them: CI must not
pass a suite that did not run.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from hcs_envtest._controlplane import ControlPlane


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    with ControlPlane(tmp_path_factory.mktemp("control-plane")) as plane:
        yield plane


@pytest.fixture(scope="session")
def kube_api(control_plane: ControlPlane) -> Iterator[Any]:
    client = control_plane.api_client()
    yield client
    client.close()


@pytest.fixture
def kube_namespace(kube_api: Any, request: pytest.FixtureRequest) -> Iterator[str]:
    from kubernetes import client

    core = client.CoreV1Api(kube_api)
    slug = re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    name = f"{slug}-{secrets.token_hex(3)}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    account = client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="default"))
    core.create_namespaced_service_account(name, account)
    yield name
    core.delete_collection_namespaced_pod(name, grace_period_seconds=0)
    core.delete_namespace(name)
