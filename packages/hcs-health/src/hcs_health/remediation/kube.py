"""The RemediationPort on the official `kubernetes` client.

- Cordons: server-side apply of `spec.devices[].{id,cordoned,cordonReason}` under the field
  manager `hcs-health`. `devices` is a list-map keyed by id, so HCS owns only those two fields of
  each device it cordons; the agent applies everything else and never names them. Leaving a
  device out of the next apply removes HCS's cordon (SSA drops fields their manager stopped
  applying), and an operator's own cordon (another manager) is never touched.
- Taints: the Node is read and written back with its resourceVersion as a JSON-patch `test`, so
  a concurrent change (the node lifecycle controller's taints) makes it retry, never lose one.
- Evictions: policy/v1 Eviction with a uid precondition; 429 is a PodDisruptionBudget saying
  "not now", 404 a pod already gone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from hcs_api.names import API_VERSION, GROUP, VERSION
from hcs_health.errors import HealthError
from hcs_health.remediation.port import FIELD_MANAGER, Evicted, EvictOutcome, ObjectRef

APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
HCS_TAINT_PREFIX = f"{GROUP}/"
_TAINT_RETRIES = 5


class RemediationApiError(HealthError):
    """The API server refused a remediation call; the message names the call and the answer."""


class KubernetesRemediation:
    def __init__(self, api_client: Any) -> None:
        from kubernetes import client

        self._api = api_client
        self._core = client.CoreV1Api(api_client)
        self._custom = client.CustomObjectsApi(api_client)
        self._policy = client.PolicyV1Api(api_client)
        self._client = client

    def compute_node(self, node: str) -> dict[str, Any] | None:
        return self._call_optional(
            f"get computenodes/{node}",
            self._custom.get_cluster_custom_object,
            GROUP,
            VERSION,
            "computenodes",
            node,
        )

    def apply_cordons(self, node: str, cordons: Mapping[str, str]) -> None:
        devices = [
            {"id": device, "cordoned": True, "cordonReason": reason}
            for device, reason in sorted(cordons.items())
        ]
        body = {
            "apiVersion": API_VERSION,
            "kind": "ComputeNode",
            "metadata": {"name": node},
            "spec": {"devices": devices},
        }
        self._call(
            f"apply cordons to computenodes/{node}",
            self._custom.patch_cluster_custom_object,
            GROUP,
            VERSION,
            "computenodes",
            node,
            body,
            field_manager=FIELD_MANAGER,
            force=True,
            _content_type=APPLY,
        )

    def pods_on_node(self, node: str) -> list[dict[str, Any]]:
        selector = f"spec.nodeName={node},status.phase!=Succeeded,status.phase!=Failed"
        found = self._raw(
            f"list pods on {node}",
            self._core.list_pod_for_all_namespaces,
            field_selector=selector,
        )
        return list(found.get("items") or [])

    def set_hcs_taints(self, node: str, taints: Mapping[str, str]) -> None:
        from kubernetes.client.exceptions import ApiException

        for _ in range(_TAINT_RETRIES):
            current = self._raw(f"get nodes/{node}", self._core.read_node, node)
            version = current["metadata"]["resourceVersion"]
            wanted = _merge_taints(current.get("spec", {}).get("taints") or [], taints)
            patch = [
                {"op": "test", "path": "/metadata/resourceVersion", "value": version},
                {"op": "add", "path": "/spec/taints", "value": wanted},
            ]
            try:
                self._core.patch_node(node, patch, _content_type=JSON_PATCH)
                return
            except ApiException as error:
                if error.status not in (409, 422):  # a failed `test` is 422: changed meanwhile
                    raise RemediationApiError(_say(f"taint nodes/{node}", error)) from None
        raise RemediationApiError(f"taint nodes/{node}: still conflicting after {_TAINT_RETRIES}")

    def evict(self, namespace: str, name: str, uid: str) -> Evicted:
        from kubernetes.client.exceptions import ApiException

        body = self._client.V1Eviction(
            metadata=self._client.V1ObjectMeta(name=name, namespace=namespace),
            delete_options=self._client.V1DeleteOptions(
                preconditions=self._client.V1Preconditions(uid=uid)
            ),
        )
        try:
            self._core.create_namespaced_pod_eviction(name, namespace, body)
        except ApiException as error:
            if error.status == 429:
                return Evicted(EvictOutcome.BLOCKED, _message(error))
            if error.status in (404, 409):  # 409: the uid precondition, a newer pod of that name
                return Evicted(EvictOutcome.GONE, _message(error))
            raise RemediationApiError(_say(f"evict pods {namespace}/{name}", error)) from None
        return Evicted(EvictOutcome.EVICTED)

    def get(self, ref: ObjectRef) -> dict[str, Any] | None:
        group, _, version = ref.api_version.rpartition("/")
        if not group:  # a core-group owner (a ReplicationController): not one HCS annotates
            return None
        return self._call_optional(
            f"get {ref}",
            self._custom.get_namespaced_custom_object,
            group,
            version,
            ref.namespace,
            _plural(ref.kind),
            ref.name,
        )

    def annotate(self, ref: ObjectRef, annotations: Mapping[str, str]) -> None:
        group, _, version = ref.api_version.rpartition("/")
        body = {"metadata": {"annotations": dict(annotations)}}
        self._call(
            f"annotate {ref}",
            self._custom.patch_namespaced_custom_object,
            group,
            version,
            ref.namespace,
            _plural(ref.kind),
            ref.name,
            body,
            field_manager=FIELD_MANAGER,
            _content_type=MERGE,
        )

    def create_pod(self, namespace: str, body: dict[str, Any]) -> bool:
        from kubernetes.client.exceptions import ApiException

        try:
            # The client's stubs want a V1Pod; the API takes the pod's JSON as it is, and
            # keeping it JSON keeps every field the user wrote (no model round trip).
            self._core.create_namespaced_pod(
                namespace,
                body,  # type: ignore[arg-type]
                field_manager=FIELD_MANAGER,
                _preload_content=False,
            )
        except ApiException as error:
            if error.status == 409:
                return False
            raise RemediationApiError(_say(f"create pods {namespace}", error)) from None
        return True

    def claim_volume(self, namespace: str, claim: str) -> str | None:
        found = self._call_optional(
            f"get persistentvolumeclaims {namespace}/{claim}",
            self._core.read_namespaced_persistent_volume_claim,
            claim,
            namespace,
            raw=True,
        )
        return ((found or {}).get("spec") or {}).get("volumeName")

    def event(
        self, involved: dict[str, Any], reason: str, message: str, warning: bool = True
    ) -> None:
        namespace = involved.get("namespace") or "default"
        now = datetime.now(UTC)
        body = self._client.CoreV1Event(
            metadata=self._client.V1ObjectMeta(generate_name=f"{involved.get('name')}."),
            involved_object=self._client.V1ObjectReference(**_reference(involved)),
            reason=reason,
            message=message,
            type="Warning" if warning else "Normal",
            source=self._client.V1EventSource(component="hcs-health"),
            first_timestamp=now,
            last_timestamp=now,
            count=1,
        )
        self._core.create_namespaced_event(namespace, body)

    def _raw(self, what: str, method: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        response = self._call(what, method, *args, _preload_content=False, **kwargs)
        loaded: dict[str, Any] = json.loads(response.data)
        return loaded

    def _call_optional(
        self, what: str, method: Any, *args: Any, raw: bool = False, **kwargs: Any
    ) -> dict[str, Any] | None:
        from kubernetes.client.exceptions import ApiException

        try:
            if raw:
                return self._raw(what, method, *args, **kwargs)
            found: dict[str, Any] = method(*args, **kwargs)
            return found
        except ApiException as error:
            if error.status == 404:
                return None
            raise RemediationApiError(_say(what, error)) from None

    @staticmethod
    def _call(what: str, method: Any, *args: Any, **kwargs: Any) -> Any:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            return method(*args, **kwargs)
        except ApiException as error:
            raise RemediationApiError(_say(what, error)) from None
        except HTTPError as error:
            raise RemediationApiError(f"{what}: {error}") from None


def _merge_taints(current: list[dict[str, Any]], wanted: Mapping[str, str]) -> list[dict[str, Any]]:
    """The node's taints with HCS's replaced by `wanted`; a taint kept as it is keeps its
    timeAdded (NoExecute tolerationSeconds count from it)."""
    kept = [t for t in current if not str(t.get("key", "")).startswith(HCS_TAINT_PREFIX)]
    existing = {(t.get("key"), t.get("effect")): t for t in current}
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for key, effect in sorted(wanted.items()):
        taint = existing.get((key, effect)) or {"key": key, "value": "true", "effect": effect}
        if effect == "NoExecute" and "timeAdded" not in taint:
            taint = {**taint, "timeAdded": now}
        kept.append(taint)
    return kept


def _plural(kind: str) -> str:
    """Job -> jobs, JobSet -> jobsets, PyTorchJob -> pytorchjobs: the owners HCS annotates."""
    return kind.lower() + "s"


def _reference(involved: dict[str, Any]) -> dict[str, Any]:
    keys = {"kind": "kind", "apiVersion": "api_version", "name": "name", "uid": "uid"}
    ref = {attr: involved[key] for key, attr in keys.items() if key in involved}
    if involved.get("kind") != "Node":
        ref["namespace"] = involved.get("namespace")
    return ref


def _message(error: Any) -> str:
    try:
        return str(json.loads(error.body).get("message") or error.reason)
    except (TypeError, ValueError):
        return str(error.reason)


def _say(what: str, error: Any) -> str:
    return f"{what}: HTTP {error.status} {_message(error)}"
