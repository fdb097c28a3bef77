"""/bind and /plan answer only kube-scheduler's client certificate and the webhook's token (a
TokenReview against the real API server); the real kube-scheduler binds through HTTPS with its
client certificate; filter stays open; a bad body or a slow client costs the server nothing."""

from __future__ import annotations

import json
import socket
import ssl
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from hcs_envtest import ControlPlane, tls_context, wait_for
from kubetest import h100, pod

HCS_WEBHOOK = "system:serviceaccount:hcs-system:hcs-webhook"
BIND = {"PodName": "nobody", "PodNamespace": "default", "PodUID": "u-1", "Node": "node-a"}


def _post(url: str, path: str, body: Any, context: ssl.SSLContext, token: str = "") -> tuple:
    request = urllib.request.Request(
        url + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            **({"Authorization": f"Bearer {token}"} if token else {}),
        },
    )
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _token(api: Any, namespace: str, account: str) -> str:
    api.core.create_namespaced_service_account(namespace, {"metadata": {"name": account}})
    request = {"spec": {"audiences": [], "expirationSeconds": 600}}
    return str(
        api.core.create_namespaced_service_account_token(account, namespace, request).status.token
    )


@pytest.fixture
def secured(control_plane: ControlPlane, extender: Any, tmp_path: Any) -> Any:
    """An extender on HTTPS whose bind and plan take the client certificate CN
    hcs-kube-scheduler (signed by the control plane's CA) or the webhook's token."""
    serving = control_plane.serving_cert("hcs-scheduler")
    ext = extender(
        "HCS_SCHEDULER_OPEN_BIND=false",
        f"HCS_SCHEDULER_TLS_CERT={serving.cert}",
        f"HCS_SCHEDULER_TLS_KEY={serving.key}",
        f"HCS_SCHEDULER_CLIENT_CA={control_plane.ca}",
        f'HCS_SCHEDULER_TOKEN_USERS=["{HCS_WEBHOOK}"]',
        tls=tls_context(str(control_plane.ca)),
    )
    return ext


def test_bind_and_plan_need_kube_schedulers_certificate_or_the_webhooks_token(
    control_plane, secured, api
):
    ca = str(control_plane.ca)
    anonymous = tls_context(ca)
    status, answer = _post(secured.url, "/bind", BIND, anonymous)
    assert status == 401
    assert "needs a client certificate or a bearer token" in answer["Error"]
    assert (
        _post(secured.url, "/plan", {"pod": pod("p", {"ai.compute/vram": "1Gi"})}, anonymous)[0]
        == 401
    )
    # filter only reads: open.
    status, answer = _post(
        secured.url,
        "/filter",
        {"Pod": pod("p", {"ai.compute/vram": "1Gi"}), "NodeNames": []},
        anonymous,
    )
    assert status == 200

    stranger = control_plane.authority.issue("stranger", common_name="mallory")
    status, answer = _post(secured.url, "/bind", BIND, tls_context(ca, stranger))
    assert (status, answer["Error"]) == (403, "client certificate 'mallory' may not call /bind")

    scheduler = control_plane.authority.issue("ks-client", common_name="hcs-kube-scheduler")
    status, answer = _post(secured.url, "/bind", BIND, tls_context(ca, scheduler))
    assert status == 200  # let in: the bind itself fails on the pod that does not exist
    assert "nobody" in answer["Error"]

    webhook = _token(api, "hcs-system", "hcs-webhook")
    other = _token(api, "hcs-system", "someone-else")
    plan = {"pod": pod("p", {"ai.compute/vram": "1Gi"})}
    assert _post(secured.url, "/plan", plan, anonymous, token=webhook)[0] == 200
    status, answer = _post(secured.url, "/plan", plan, anonymous, token=other)
    assert (status, answer["Error"]) == (
        403,
        "user system:serviceaccount:hcs-system:someone-else may not call /plan",
    )
    status, answer = _post(secured.url, "/plan", plan, anonymous, token="not-a-token")
    assert (status, answer["Error"]) == (401, "the bearer token sent to /plan is not valid")


def test_the_real_kube_scheduler_binds_through_https_with_its_certificate(
    control_plane,
    secured,
    hcs_kube_scheduler,
    make_node,
    agent_report,
    api,
    kube_namespace,
    tmp_path,
):
    client = control_plane.authority.issue(
        "kube-scheduler-client", common_name="hcs-kube-scheduler"
    )
    make_node("node-tls")
    agent_report("node-tls", [h100(i) for i in range(2)])
    hcs_kube_scheduler(
        secured.url,
        tls={
            "certFile": str(client.cert),
            "keyFile": str(client.key),
            "caFile": str(control_plane.ca),
        },
    )
    created = pod("train", {"ai.compute/vram": "16Gi"}, schedulerName="hcs-scheduler")
    api.core.create_namespaced_pod(kube_namespace, created)

    def bound() -> bool:
        got = api.core.read_namespaced_pod("train", kube_namespace)
        return got.spec.node_name == "node-tls" and "hcs.io/allocation" in (
            got.metadata.annotations or {}
        )

    wait_for(bound, 60, "the pod bound by kube-scheduler through the HTTPS extender")


def test_oversized_bodies_and_slow_clients_are_cut_off(control_plane, extender):
    ext = extender("HCS_SCHEDULER_MAX_BODY_BYTES=65536", "HCS_SCHEDULER_REQUEST_TIMEOUT=2")
    with socket.create_connection(("127.0.0.1", ext.port), timeout=10) as raw:
        raw.sendall(
            b"POST /filter HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 20000000\r\n\r\n"
        )
        answer = raw.recv(4096).decode()
    assert answer.startswith("HTTP/1.1 413")
    assert "at most 65536 are read" in answer
    for partial in (
        b"POST /filter HTTP/1.1\r\nHost: x\r\n",  # headers never finished
        b"POST /filter HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{",
    ):
        with socket.create_connection(("127.0.0.1", ext.port), timeout=30) as raw:
            raw.sendall(partial)
            started = time.monotonic()
            while raw.recv(4096):  # read until the server closes the connection
                continue
            assert time.monotonic() - started < 10, "a half-sent request was kept open"
