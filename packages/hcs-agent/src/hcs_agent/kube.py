"""The production KubePort on the official `kubernetes` client.

Server-side apply is a PATCH with content type application/apply-patch+yaml (the client sends
the dict as JSON, which is YAML), a field manager and force: the agent owns the fields it
writes. The Node's extended resources go in with a JSON merge patch on the status subresource,
as Kubernetes' "Advertise Extended Resources for a Node" task does (it uses a JSON patch; a merge
patch touches the same keys and leaves the other resources alone).
"""

from __future__ import annotations

import json
from typing import Any

from hcs_agent.errors import ReportError
from hcs_agent.report import FIELD_MANAGER, RetryableError
from hcs_api.names import GROUP, VERSION

APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"
PLURAL = "computenodes"


class KubernetesApi:
    def __init__(self, api_client: Any, field_manager: str = FIELD_MANAGER) -> None:
        from kubernetes import client

        self._custom = client.CustomObjectsApi(api_client)
        self._core = client.CoreV1Api(api_client)
        self._manager = field_manager

    def apply_compute_node(self, body: dict[str, Any]) -> None:
        self._apply(body, self._custom.patch_cluster_custom_object, "")

    def apply_compute_node_status(self, body: dict[str, Any]) -> None:
        self._apply(body, self._custom.patch_cluster_custom_object_status, "/status")

    def _apply(self, body: dict[str, Any], method: Any, subresource: str) -> None:
        name = body["metadata"]["name"]
        self._call(
            f"apply computenodes/{name}{subresource}",
            method,
            GROUP,
            VERSION,
            PLURAL,
            name,
            body,
            field_manager=self._manager,
            force=True,
            _content_type=APPLY,
        )

    def patch_node_status(
        self, name: str, capacity: dict[str, str], allocatable: dict[str, str]
    ) -> None:
        body = {"status": {"capacity": capacity, "allocatable": allocatable}}
        self._call(
            f"patch nodes/{name}/status",
            self._core.patch_node_status,
            name,
            body,
            field_manager=self._manager,
            _content_type=MERGE,
        )

    @staticmethod
    def _call(what: str, method: Any, *args: Any, **kwargs: Any) -> None:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            method(*args, **kwargs)
        except ApiException as error:
            message = f"{what}: HTTP {error.status} {_server_message(error)}"
            if error.status in (429,) or (error.status or 0) >= 500:
                raise RetryableError(message) from None
            raise ReportError(message) from None
        except HTTPError as error:
            raise RetryableError(f"{what}: {error}") from None


def _server_message(error: Any) -> str:
    """The API server's own explanation (a 422 names the invalid field), else the reason."""
    try:
        return str(json.loads(error.body).get("message") or error.reason)[:2048]
    except (TypeError, ValueError, AttributeError):
        return str(error.reason)


def load_api_client(kubeconfig: str | None) -> Any:
    """In-cluster configuration (the DaemonSet's service account), or a kubeconfig file."""
    from kubernetes import client, config

    if kubeconfig:
        return config.new_client_from_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
    config.load_incluster_config()  # type: ignore[no-untyped-call]
    return client.ApiClient()
