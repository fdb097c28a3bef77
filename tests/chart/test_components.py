"""Each component does its job with the chart's account, settings and certificates: the agent
reports, the extender leads and lets in only kube-scheduler's certificate and the webhook's
token, kube-scheduler on the chart's configuration binds through it, the webhook reads quota."""

from __future__ import annotations

import os

import yaml
from chartkube import NS, container, https, python
from hcs_envtest import Binaries, Process, free_port, tls_context, wait_for
from hcs_envtest import http_status as http_get


def _pod(name: str, vram: str) -> dict:
    limits = {"ai.compute/vram": vram}
    resources = {"limits": limits, "requests": dict(limits)}
    main = {"name": "main", "image": "train:1", "resources": resources}
    return {"metadata": {"name": name}, "spec": {"containers": [main]}}


PLAN = {"pod": _pod("p", "1Gi")}
BIND = {"PodName": "nobody", "PodNamespace": NS, "PodUID": "u-1", "Node": "gpu-01"}


def test_the_agent_reports_with_its_own_account(reported_node, kube_api):
    from kubernetes import client

    custom = client.CustomObjectsApi(kube_api)
    node = custom.get_cluster_custom_object("hcs.io", "v1alpha1", "computenodes", reported_node)
    assert [d["id"] for d in node["spec"]["devices"]] == ["nvidia-0", "nvidia-1"]
    capacity = client.CoreV1Api(kube_api).read_node(reported_node).status.capacity
    assert capacity["ai.compute/devices"] == "2"


def test_the_extender_leads_and_lets_in_kube_scheduler_and_the_webhook_only(
    extender, certificates, token_of, kube_api
):
    from kubernetes import client

    lease = client.CoordinationV1Api(kube_api).read_namespaced_lease("hcs-scheduler-extender", NS)
    assert lease.spec.holder_identity == "hcs-scheduler-0"
    status, answer = https(extender.port, "/plan", extender.ca, PLAN, token=token_of("hcs-webhook"))
    assert status == 200, answer  # a TokenReview, with the extender's own account
    assert https(extender.port, "/plan", extender.ca, PLAN, token=token_of("hcs-agent"))[0] == 403
    client_cert = certificates / "hcs-kube-scheduler-client"
    status, answer = https(extender.port, "/bind", extender.ca, BIND, client=client_cert)
    assert status == 200  # let in; the bind itself fails on a pod that does not exist
    assert "nobody" in answer["Error"]
    # The webhook's certificate is the same CA's, but for serving: refused at the handshake.
    webhook_cert = certificates / "hcs-webhook-tls"
    assert https(extender.port, "/bind", extender.ca, BIND, client=webhook_cert) == (0, None)


def test_kube_scheduler_binds_through_the_extender_with_the_charts_configuration(
    control_plane, installed, extender, certificates, kubeconfig_of, kube_api, tmp_path
):
    """The rendered KubeSchedulerConfiguration, its client certificate and its account; only
    the extender's address is this test's (the certificate is checked for the Service's name)."""
    from kubernetes import client

    maps = [d for d in installed if d["kind"] == "ConfigMap"]
    config_map = next(d for d in maps if d["metadata"]["name"] == "hcs-kube-scheduler")
    config = yaml.safe_load(config_map["data"]["hcs-scheduler-config.yaml"])
    kubeconfig = str(kubeconfig_of("hcs-kube-scheduler"))
    config["clientConnection"] = {"kubeconfig": kubeconfig}
    ext = config["extenders"][0]
    ext["urlPrefix"] = f"https://127.0.0.1:{extender.port}"
    mounted = certificates / "hcs-kube-scheduler-client"
    ext["tlsConfig"] = {
        k: v.replace("/etc/hcs/extender-client", str(mounted)) for k, v in ext["tlsConfig"].items()
    }
    ext["tlsConfig"]["serverName"] = f"hcs-scheduler.{NS}.svc"
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    port = free_port()
    argv = [Binaries.locate().path("kube-scheduler"), f"--config={tmp_path / 'config.yaml'}"]
    argv += ["--bind-address=127.0.0.1", f"--secure-port={port}", f"--cert-dir={tmp_path}"]
    argv += [
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
    ]
    scheduler = Process("kube-scheduler", argv, tmp_path / "kube-scheduler.log")
    try:
        scheduler.wait_until(
            lambda: http_get(port, "/healthz", tls_context(None)) == 200, 60, "healthy"
        )
        core = client.CoreV1Api(kube_api)
        vram = {"ai.compute/vram": "16Gi"}
        pod = {
            "metadata": {"name": "train"},
            "spec": {
                "schedulerName": "hcs-scheduler",
                "containers": [
                    {
                        "name": "main",
                        "image": "train:1",
                        "resources": {"limits": vram, "requests": vram},
                    }
                ],
            },
        }
        core.create_namespaced_pod(NS, pod)  # HCS's namespace: its webhooks leave it out

        def bound() -> bool:
            got = core.read_namespaced_pod("train", NS)
            return got.spec.node_name == "gpu-01" and "hcs.io/allocation" in (
                got.metadata.annotations or {}
            )

        wait_for(bound, 60, "the pod bound by the chart's kube-scheduler through the extender")
        lease = client.CoordinationV1Api(kube_api).read_namespaced_lease("hcs-scheduler", NS)
        assert lease.spec.holder_identity
    finally:
        scheduler.stop()


def test_the_webhook_reads_quota_with_its_own_account(
    installed, certificates, kubeconfig_of, kube_api, tmp_path
):
    from kubernetes import client

    client.CoreV1Api(kube_api).create_namespace({"metadata": {"name": "ml"}})
    quota = {"apiVersion": "hcs.io/v1alpha1", "kind": "ComputeQuota", "metadata": {"name": "team"},
             "spec": {"hard": {"vram": "8Gi"}}}  # fmt: skip
    client.CustomObjectsApi(kube_api).create_namespaced_custom_object(
        "hcs.io", "v1alpha1", "ml", "computequotas", quota
    )
    spec = container(installed, "Deployment", "hcs-webhook")
    maps = [d for d in installed if d["kind"] == "ConfigMap"]
    settings = next(d for d in maps if d["metadata"]["name"] == "hcs-webhook")["data"]
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "webhook.yaml").write_text(settings["webhook.yaml"])
    moved = {
        "/etc/hcs-webhook/tls": str(certificates / "hcs-webhook-tls"),
        "/etc/hcs-webhook/config": str(tmp_path / "config"),
    }

    def here(value: str) -> str:
        for mounted, path in moved.items():
            value = value.replace(mounted, path)
        return value

    env = {**os.environ, "HCS_WEBHOOK_KUBECONFIG": str(kubeconfig_of("hcs-webhook"))}
    env.update({v["name"]: here(v["value"]) for v in spec["env"] if "value" in v})
    port = free_port()
    argv = python(
        "hcs_webhook", *[here(a) for a in spec["args"]], "--host", "127.0.0.1", "--port", str(port)
    )
    webhook = Process("hcs-webhook", argv, tmp_path / "webhook.log", env=env)
    ca = certificates / "hcs-ca" / "tls.crt"
    try:
        webhook.wait_until(lambda: https(port, "/healthz", ca)[0] == 200, 60, "serving")
        big = _pod("big", "16Gi")
        big["metadata"]["namespace"] = "ml"
        request = {"uid": "1", "namespace": "ml", "operation": "CREATE", "object": big}
        request["kind"] = {"group": "", "version": "v1", "kind": "Pod"}
        request["resource"] = {"group": "", "version": "v1", "resource": "pods"}
        request["userInfo"] = {"username": "alice"}
        review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}
        review["request"] = request
        status, answer = https(port, "/validate", ca, review)
        assert status == 200, answer
        response = answer["response"]
        assert response["allowed"] is False
        assert "ComputeQuota ml/team" in response["status"]["message"]
    finally:
        webhook.stop()
