"""The production KubePort: the official `kubernetes` client, its blocking calls kept off the loop.

The client is synchronous. Request/response calls run in a pool of `concurrency` threads of
their own (kube-scheduler binds many pods at once: the loop's default pool of cpu + 4 threads
would queue them); each watch holds a thread of its own for as long as it streams, so that
long-lived watches never starve the executor the other calls share. Every object comes back as
the API server sent it (camelCase JSON, `metadata.annotations`, `spec.nodeName`), never as the
client's model classes.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from hcs_api.names import GROUP, VERSION
from hcs_scheduler.extender.kube import (
    JsonObject,
    Kind,
    KubeError,
    KubePort,
    WatchEvent,
)
from hcs_scheduler.extender.kube_watch import WatchThread, deliver, translate

MERGE_PATCH: Final = "application/merge-patch+json"
LEASES: Final = "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
TOKEN_REVIEWS: Final = "/apis/authentication.k8s.io/v1/tokenreviews"


@dataclass(frozen=True)
class _Resource:
    """Where a kind lives in the API: core v1 (group "") or a custom resource."""

    group: str
    version: str
    plural: str

    def __str__(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


_RESOURCES: Final = {
    Kind.COMPUTE_NODE: _Resource(GROUP, VERSION, "computenodes"),
    Kind.COMPUTE_QUOTA: _Resource(GROUP, VERSION, "computequotas"),
    Kind.POD: _Resource("", "v1", "pods"),
}


class KubernetesKube:
    """A KubePort on a `kubernetes.client.ApiClient` (any host: a cluster, kmock in tests).

    `request_timeout` bounds every request/response call (seconds); `watch_timeout` is the
    server-side length of one watch request, after which the watch reconnects from the last
    resourceVersion it saw (a silent, dead connection is given up `watch_timeout` + 30 s later);
    `page_size` is the `limit` of each page when listing; `concurrency` is how many calls may be
    in flight at once (threads; give the client's connection pool as many connections).
    """

    def __init__(
        self,
        api_client: k8s.ApiClient,
        *,
        request_timeout: float = 30.0,
        watch_timeout: int = 300,
        page_size: int = 500,
        concurrency: int = 32,
    ) -> None:
        self._api_client = api_client
        self._executor = ThreadPoolExecutor(concurrency, thread_name_prefix="kube-api")
        # The Lease has a thread of its own: a burst of binds filling the pool above must never
        # delay a renewal past the renew deadline (the leader would step down mid-burst).
        self._lease_executor = ThreadPoolExecutor(1, thread_name_prefix="kube-lease")
        self._core = k8s.CoreV1Api(api_client)
        self._custom = k8s.CustomObjectsApi(api_client)
        self._coordination = k8s.CoordinationV1Api(api_client)
        self._request_timeout = request_timeout
        self._watch_timeout = watch_timeout
        self._page_size = page_size
        # The resourceVersion of the last list of each kind, where its watch starts (list-watch).
        self._listed_at: dict[Kind, str] = {}

    @classmethod
    def from_environment(
        cls, kubeconfig: str | None = None, concurrency: int = 32
    ) -> KubernetesKube:
        """From `kubeconfig` if given; else the in-cluster service account when running in a
        pod; else the default kubeconfig ($KUBECONFIG or ~/.kube/config)."""
        configuration = k8s.Configuration()
        # One connection per worker thread, plus the Lease's thread and one per watched kind
        # (each watch holds a connection open): fewer, and bursts discard connections.
        configuration.connection_pool_maxsize = concurrency + 1 + len(Kind)
        try:
            if kubeconfig is not None:
                k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
                    config_file=kubeconfig, client_configuration=configuration
                )
            else:
                try:
                    k8s_config.load_incluster_config(  # type: ignore[no-untyped-call]
                        client_configuration=configuration
                    )
                except k8s_config.ConfigException:
                    k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
                        client_configuration=configuration
                    )
        except (k8s_config.ConfigException, OSError) as exc:
            where = kubeconfig or "the in-cluster service account or the default kubeconfig"
            raise KubeError(f"cannot load Kubernetes credentials from {where}: {exc}") from exc
        return cls(k8s.ApiClient(configuration), concurrency=concurrency)

    def close(self) -> None:
        """Close the client's connections and its threads."""
        self._api_client.close()  # type: ignore[no-untyped-call]
        self._executor.shutdown(wait=False)
        self._lease_executor.shutdown(wait=False)

    # -- the port
    async def list(self, kind: Kind) -> list[JsonObject]:
        resource = _RESOURCES[kind]
        items: list[JsonObject] = []
        token: str | None = None
        first = True
        while first or token:
            paging = {"limit": self._page_size} | ({"_continue": token} if token else {})
            page = await self._call(f"list {resource}", self._lister(resource), **paging)
            metadata = page.get("metadata") or {}
            if first and metadata.get("resourceVersion"):
                self._listed_at[kind] = str(metadata["resourceVersion"])
            items.extend(page.get("items") or [])
            token, first = metadata.get("continue") or None, False
        return items

    async def watch(self, kind: Kind) -> AsyncIterator[WatchEvent]:
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[WatchEvent | BaseException | None] = asyncio.Queue()
        stream = WatchThread(
            what=f"watch {_RESOURCES[kind]}",
            lister=self._lister(_RESOURCES[kind]),
            resource_version=self._listed_at.get(kind),
            timeout=self._watch_timeout,
            connect_timeout=self._request_timeout,
            deliver=lambda item: deliver(loop, events, item),
        )
        stream.start()
        try:
            while (item := await events.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            await stream.stop()

    async def get_pod(self, namespace: str, name: str) -> JsonObject:
        return await self._call(
            f"pod {namespace}/{name}", self._core.read_namespaced_pod, name, namespace
        )

    async def patch_pod_annotations(
        self, namespace: str, name: str, annotations: dict[str, str | None]
    ) -> None:
        # A JSON merge patch (RFC 7386: null removes a key). The client would send a dict body to
        # a core object as a strategic merge patch unless told otherwise.
        await self._call(
            f"pod {namespace}/{name}",
            self._core.patch_namespaced_pod,
            name,
            namespace,
            {"metadata": {"annotations": annotations}},
            _content_type=MERGE_PATCH,
        )

    async def bind_pod(
        self,
        namespace: str,
        name: str,
        uid: str,
        node: str,
        annotations: Mapping[str, str] | None = None,
    ) -> None:
        # As kube-scheduler's own binder: the uid makes the API server refuse (409) a binding
        # meant for an earlier pod of the same name. The Binding's annotations are copied onto
        # the pod by the API server in the same write that sets spec.nodeName.
        metadata = k8s.V1ObjectMeta(
            name=name,
            namespace=namespace,
            uid=uid or None,
            annotations=dict(annotations) if annotations else None,
        )
        binding = k8s.V1Binding(
            api_version="v1",
            kind="Binding",
            metadata=metadata,
            target=k8s.V1ObjectReference(api_version="v1", kind="Node", name=node),
        )
        # The response is a Status, not the Binding the client would try to decode it into
        # (_call reads it raw). The client sets no Content-Type on this call: say it is JSON.
        await self._call(
            f"binding of pod {namespace}/{name} to node {node}",
            self._core.create_namespaced_pod_binding,
            name,
            namespace,
            binding,
            _headers={"Content-Type": "application/json"},
        )

    async def patch_computenode_status(self, name: str, status: dict[str, Any]) -> None:
        # A merge patch of the status subresource: the agent owns the rest of status (it applies
        # heartbeat, conditions and capacity server-side); the extender writes only `devices`.
        await self._call(
            f"computenode {name} status",
            self._custom.patch_cluster_custom_object_status,
            GROUP,
            VERSION,
            "computenodes",
            name,
            {"status": status},
            _content_type=MERGE_PATCH,
        )

    async def get_lease(self, namespace: str, name: str) -> JsonObject:
        read = self._coordination.read_namespaced_lease
        return await self._lease_call(f"lease {namespace}/{name}", read, name, namespace)

    async def create_lease(self, namespace: str, body: JsonObject) -> JsonObject:
        what = f"lease {namespace}/{(body.get('metadata') or {}).get('name')}"
        return await self._lease_call(
            what, self._send_json, "POST", LEASES, body, namespace=namespace
        )

    async def replace_lease(self, namespace: str, name: str, body: JsonObject) -> JsonObject:
        # Only ever at the resourceVersion the body was read at (the API server would take an
        # unconditional PUT of a Lease, which could overwrite another replica's claim).
        what, path = f"lease {namespace}/{name}", LEASES + "/{name}"
        if not (body.get("metadata") or {}).get("resourceVersion"):
            raise KubeError(f"{what}: a PUT must carry a resourceVersion")
        return await self._lease_call(
            what, self._send_json, "PUT", path, body, namespace=namespace, name=name
        )

    async def review_token(self, token: str) -> str | None:
        body = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": {"token": token},
        }
        review = await self._call("token review", self._send_json, "POST", TOKEN_REVIEWS, body)
        status = review.get("status") or {}
        if not status.get("authenticated"):
            return None
        return str((status.get("user") or {}).get("username") or "") or None

    # -- helpers
    def _lister(self, resource: _Resource) -> Callable[..., Any]:
        """The list call of `resource` across all namespaces (it also serves its watch)."""
        if not resource.group:
            return self._core.list_pod_for_all_namespaces
        custom = self._custom.list_cluster_custom_object

        def list_custom(**kwargs: Any) -> Any:
            return custom(resource.group, resource.version, resource.plural, **kwargs)

        return list_custom

    def _send_json(
        self, method: str, path: str, body: JsonObject, **kwargs: Any
    ) -> urllib3.BaseHTTPResponse:
        """`body` sent as given; the raw response back, a non-2xx status raised as ApiException
        (what the generated methods do with `_preload_content=False`). CoordinationV1Api's
        create/replace would first validate a dict into V1Lease, which drops unknown fields and
        re-renders MicroTimes with isoformat: no fraction when the microseconds are 0, which the
        API server's RFC3339Micro parser refuses."""
        timeout = kwargs.pop("_request_timeout")
        kwargs.pop("_preload_content")
        request = self._api_client.param_serialize(
            method=method,
            resource_path=path,
            path_params=kwargs,
            header_params={"Content-Type": "application/json", "Accept": "application/json"},
            body=body,
            auth_settings=["BearerToken"],
        )
        response = self._api_client.call_api(*request, _request_timeout=timeout)
        if not 200 <= response.status <= 299:
            response.read()  # type: ignore[no-untyped-call]
            raise k8s.ApiException.from_response(http_resp=response, body=None, data=None)
        raw: urllib3.BaseHTTPResponse = response.response
        return raw

    async def _call(
        self, what: str, method: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> JsonObject:
        """`method(*args, **kwargs)` in a thread; its JSON body as the server sent it."""
        call = functools.partial(self._call_sync, what, method, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def _lease_call(
        self, what: str, method: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> JsonObject:
        """As `_call`, on the Lease's own thread."""
        call = functools.partial(self._call_sync, what, method, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._lease_executor, call)

    def _call_sync(
        self, what: str, method: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> JsonObject:
        try:
            response: urllib3.BaseHTTPResponse = method(
                *args,
                _preload_content=False,
                _request_timeout=self._request_timeout,
                **kwargs,
            )
        except (k8s.ApiException, urllib3.exceptions.HTTPError) as exc:
            raise translate(exc, what) from exc
        try:
            body = response.data
        except urllib3.exceptions.HTTPError as exc:
            raise translate(exc, what) from exc
        finally:
            response.release_conn()
        try:
            decoded = json.loads(body) if body else {}
        except ValueError as exc:
            raise KubeError(f"{what}: the API server sent no JSON ({exc})") from exc
        if not isinstance(decoded, dict):
            raise KubeError(f"{what}: the API server sent {type(decoded).__name__}, not an object")
        return decoded


def _is_a_port(kube: KubernetesKube) -> KubePort:
    return kube  # mypy --strict checks here that KubernetesKube matches KubePort
