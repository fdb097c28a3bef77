"""The ClusterReads port on the official `kubernetes` client.

The client is synchronous; each read runs in a worker thread so the event loop keeps serving
reviews. Pods are read as raw JSON (`_preload_content=False`): the webhook needs the wire
names (camelCase) that hcs_api reads, not the client's snake_case models. A pod's owners (Job,
JobSet, PyTorchJob...) are read through the custom-objects API, which serves built-in groups
such as batch/v1 as well, so one call reads any kind without a typed client per kind.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import kubernetes
import urllib3
from pydantic import ValidationError

from hcs_api.names import GROUP, VERSION
from hcs_api.v1alpha1 import ComputeNode, ComputeQuota
from hcs_webhook.errors import ClusterReadError
from hcs_webhook.ports import OwnerMeta, controller_of

log = logging.getLogger(__name__)
_LIVE_PODS = "status.phase!=Succeeded,status.phase!=Failed"
_Model = TypeVar("_Model", ComputeNode, ComputeQuota)
_OWNER_READ_TIMEOUT = 1.5
"""Seconds one owner read may take: at most two per review, inside the API server's 5 s
timeoutSeconds for the webhook, after which failurePolicy Fail would refuse the pod."""


def api_client(kubeconfig: Path | None) -> kubernetes.client.ApiClient:
    """A client from `kubeconfig`, else the pod's service account; raises ConfigException."""
    if kubeconfig is not None:
        client: kubernetes.client.ApiClient = kubernetes.config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig)
        )
        return client
    configuration = kubernetes.client.Configuration()
    kubernetes.config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    return kubernetes.client.ApiClient(configuration)


class KubernetesCluster:
    """Reads ComputeQuotas, pods and ComputeNodes from the API server."""

    def __init__(self, api_client: kubernetes.client.ApiClient) -> None:
        self._core = kubernetes.client.CoreV1Api(api_client)
        self._custom = kubernetes.client.CustomObjectsApi(api_client)

    @classmethod
    def connect(cls, kubeconfig: Path | None) -> KubernetesCluster | NoCluster:
        """From a kubeconfig file, else the pod's service account, else ~/.kube/config.

        With none of them (a developer's `serve --self-signed`), reads fail with
        ClusterReadError: quota admission then refuses with 503 and says why.
        """
        if kubeconfig is None and "KUBERNETES_SERVICE_HOST" not in os.environ:
            default = Path(os.environ.get("KUBECONFIG", "~/.kube/config")).expanduser()
            if not default.is_file():
                log.warning("no Kubernetes API configured: quota and ComputeNode reads will fail")
                return NoCluster()
            kubeconfig = default
        return cls(api_client(kubeconfig))

    async def compute_quotas(self, namespace: str) -> list[ComputeQuota]:
        body = await self._call(
            self._custom.list_namespaced_custom_object, GROUP, VERSION, namespace, "computequotas"
        )
        return _parse(ComputeQuota, body)

    async def pods(self, namespace: str) -> list[dict[str, Any]]:
        # Finished pods hold nothing; the API server filters them (quota.py skips them too).
        response = await self._call(
            self._core.list_namespaced_pod,
            namespace,
            field_selector=_LIVE_PODS,
            _preload_content=False,
        )
        items = json.loads(response.data).get("items") or []
        return [item for item in items if isinstance(item, dict)]

    async def compute_nodes(self) -> list[ComputeNode]:
        body = await self._call(
            self._custom.list_cluster_custom_object, GROUP, VERSION, "computenodes"
        )
        return _parse(ComputeNode, body)

    async def owner_annotations(
        self, namespace: str, api_version: str, kind: str, name: str
    ) -> OwnerMeta | None:
        group, _, version = api_version.rpartition("/")
        if not group:
            return None  # the core group ("v1") has no controllers that record checkpoints
        plural = kind.lower() + "s"  # Job -> jobs, JobSet -> jobsets, PyTorchJob -> pytorchjobs
        try:
            body = await asyncio.to_thread(
                self._custom.get_namespaced_custom_object,
                group,
                version,
                namespace,
                plural,
                name,
                _request_timeout=_OWNER_READ_TIMEOUT,
            )
        except kubernetes.client.ApiException as error:
            if error.status == 404:
                return None
            raise ClusterReadError(
                f"{api_version} {kind} {namespace}/{name}: {error.status} {error.reason}"
            ) from None
        except (urllib3.exceptions.HTTPError, ValueError) as error:
            raise ClusterReadError(f"{api_version} {kind} {namespace}/{name}: {error}") from None
        return _owner_meta(body)

    async def _call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(function, *args, **kwargs)
        except (kubernetes.client.ApiException, urllib3.exceptions.HTTPError, ValueError) as error:
            raise ClusterReadError(f"{function.__name__}{args}: {error}") from None


class NoCluster:
    """ClusterReads when no API server is configured: every read says so."""

    async def compute_quotas(self, namespace: str) -> list[ComputeQuota]:
        raise ClusterReadError("no Kubernetes API configured")

    async def pods(self, namespace: str) -> list[dict[str, Any]]:
        raise ClusterReadError("no Kubernetes API configured")

    async def compute_nodes(self) -> list[ComputeNode]:
        raise ClusterReadError("no Kubernetes API configured")

    async def owner_annotations(
        self, namespace: str, api_version: str, kind: str, name: str
    ) -> OwnerMeta | None:
        raise ClusterReadError("no Kubernetes API configured")


def _owner_meta(body: Any) -> OwnerMeta:
    """The owner's string annotations and controller; anything malformed reads as absent."""
    obj = body if isinstance(body, dict) else {}
    metadata = obj.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    strings = {
        key: value
        for key, value in (annotations if isinstance(annotations, dict) else {}).items()
        if isinstance(key, str) and isinstance(value, str)
    }
    return OwnerMeta(strings, controller_of(obj))


def _parse(model: type[_Model], body: Any) -> list[_Model]:
    out = []
    for item in (body or {}).get("items") or []:
        try:
            out.append(model.model_validate(item))
        except ValidationError as error:
            # One broken object must not stop admission for everyone; it is logged, not counted.
            name = (item.get("metadata") or {}).get("name") if isinstance(item, dict) else None
            log.warning("skipping invalid %s %s: %s", model.__name__, name, error)
    return out
