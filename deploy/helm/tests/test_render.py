"""The chart lints, renders and validates strictly for Kubernetes 1.29-1.35; bad values fail."""

from __future__ import annotations

import re

import kubernetes_validate
import pytest
from charttest import CAPABILITIES, NAMESPACE, VALUES, RenderError, containers, env, find

KUBERNETES = [f"1.{minor}.0" for minor in range(29, 36)]
THIRD_PARTY = {
    "cert-manager.io/v1": {"Issuer", "Certificate"},
    "monitoring.coreos.com/v1": {"ServiceMonitor"},
}
"""Kinds kubernetes-validate has no schema for (checked once against their CRDs, see README)."""


@pytest.mark.parametrize("values", VALUES)
def test_helm_lint_passes_strict(run_helm, values):
    files = [arg for name in VALUES[values] for arg in ("-f", name)]
    result = run_helm("lint", ".", "--strict", "--namespace", NAMESPACE, *files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("capabilities", ["bare", "cert-manager+prometheus"])
@pytest.mark.parametrize("values", VALUES)
@pytest.mark.parametrize("version", KUBERNETES)
def test_every_manifest_validates_strictly(render, version, values, capabilities):
    flags = ["--kube-version", version] + (CAPABILITIES if capabilities != "bare" else [])
    documents = render(values, *flags)
    checked = 0
    for document in documents:
        kind, api = document["kind"], document["apiVersion"]
        if kind in THIRD_PARTY.get(api, ()):
            continue
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            where = ".".join(str(p) for p in error.path)
            pytest.fail(f"{kind}/{document['metadata']['name']} at {where}: {error.message}")
        checked += 1
    assert checked >= 30, "the whole stack renders (CRDs, four workloads, RBAC, webhooks)"


def test_the_second_kube_scheduler_follows_the_clusters_version(render):
    image = containers(
        find(render("default", "--kube-version", "1.31.4"), "Deployment", "hcs-kube-scheduler")
    )
    assert image["kube-scheduler"]["image"] == "registry.k8s.io/kube-scheduler:v1.31.4"
    pinned = render("default", "--set", "scheduler.image.tag=v1.37.2")
    image = containers(find(pinned, "Deployment", "hcs-kube-scheduler"))["kube-scheduler"]["image"]
    assert image == "registry.k8s.io/kube-scheduler:v1.37.2"


def test_hcs_images_default_to_the_charts_app_version(render, chart):
    app_version = re.search(r'appVersion: "(.+)"', (chart / "Chart.yaml").read_text())[1]
    documents = render()
    images = {
        name: containers(find(documents, kind, name))
        for kind, name in [
            ("DaemonSet", "hcs-agent"),
            ("Deployment", "hcs-scheduler"),
            ("Deployment", "hcs-webhook"),
        ]
    }
    assert images["hcs-agent"]["agent"]["image"] == f"localhost/hcs-agent:{app_version}"
    assert images["hcs-scheduler"]["extender"]["image"] == f"localhost/hcs-scheduler:{app_version}"
    assert images["hcs-webhook"]["webhook"]["image"] == f"localhost/hcs-webhook:{app_version}"


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        (
            "certificates.mode=vault",
            'certificates.mode must be one of the following: "auto", "cert-manager", "hook"',
        ),
        (
            "webhook.replicas=two",
            "webhook.replicas: Invalid type. Expected: integer, given: string",
        ),
        (
            "extender.settings.open_bind=true",
            "extender.settings: Additional property open_bind is not allowed",
        ),
        ("agent.settings.interval_s=0", "agent.settings.interval_s: Must be greater than 0"),
        (
            "webhook.settings.max_devices_per_node=100",
            "webhook.settings.max_devices_per_node: Must be less than or equal to 64",
        ),
        (
            "agent.capabilities={SYS_ADMIN}",
            "agent.capabilities.0: Must not validate the schema (not)",
        ),
        (
            "agent.seccompProfile=Localhost",
            "agent.seccompProfile: agent.seccompProfile must be one of the following",
        ),
        (
            "extender.image.pullPolicy=Sometimes",
            "extender.image.pullPolicy: extender.image.pullPolicy must be one of",
        ),
        (
            "runtimeDirectory.hostPath=relative/dir",
            "runtimeDirectory.hostPath: Does not match pattern",
        ),
        ("schedulr.replicas=3", "Additional property schedulr is not allowed"),
    ],
    ids=lambda value: value.split("=")[0] if "=" in value else "",
)
def test_a_wrong_value_fails_naming_the_key(render, flag, message):
    with pytest.raises(RenderError) as refused:
        render("default", "--set", flag)
    assert "values don't meet the specifications of the schema" in str(refused.value)
    assert message in str(refused.value)


@pytest.mark.parametrize("namespace", ["default", "kube-system"])
def test_a_shared_namespace_is_refused(render, namespace):
    with pytest.raises(RenderError, match="install HCS into a namespace of its own"):
        render(namespace=namespace)


def test_only_the_runtime_init_container_is_privileged_and_the_agent_has_four_capabilities(render):
    documents = render()  # hook mode: the certificates Job too
    workloads = [d for d in documents if d["kind"] in {"DaemonSet", "Deployment", "Job"}]
    privileged = [
        (w["metadata"]["name"], name)
        for w in workloads
        for name, c in containers(w).items()
        if c.get("securityContext", {}).get("privileged")
    ]
    assert privileged == [("hcs-agent", "runtime")]
    agent = containers(find(documents, "DaemonSet", "hcs-agent"))["agent"]["securityContext"]
    assert agent["capabilities"] == {
        "drop": ["ALL"],
        "add": ["BPF", "PERFMON", "SYS_RESOURCE", "SYSLOG"],
    }
    assert agent["allowPrivilegeEscalation"] is False
    servers = [
        (w, c)
        for w in workloads
        if w["metadata"]["name"] != "hcs-agent"
        for c in containers(w).values()
    ]
    assert len(servers) == 4, (
        "kube-scheduler, extender, webhook, the hook Job: no root, read-only root"
    )
    for _, container in servers:
        context = container["securityContext"]
        assert context["runAsNonRoot"]
        assert context["readOnlyRootFilesystem"]
        assert context["capabilities"] == {"drop": ["ALL"]}


def test_the_agent_reports_for_its_own_node_from_the_host_sysfs(render):
    daemonset = find(render(), "DaemonSet", "hcs-agent")
    variables = env(containers(daemonset)["agent"])
    assert variables["HCS_AGENT_NODE_NAME"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    assert variables["HCS_AGENT_SYSFS_ROOT"] == "/host"
    volumes = {v["name"]: v for v in daemonset["spec"]["template"]["spec"]["volumes"]}
    assert volumes["sys"]["hostPath"]["path"] == "/sys"
    assert volumes["runtime-dir"]["hostPath"] == {
        "path": "/var/lib/hcs/runtime",
        "type": "DirectoryOrCreate",
    }
    init = containers(daemonset)["runtime"]
    mount = next(m for m in init["volumeMounts"] if m["name"] == "runtime-dir")
    assert mount["mountPropagation"] == "Bidirectional"
    tolerated = {t["key"] for t in daemonset["spec"]["template"]["spec"]["tolerations"]}
    assert {"hcs.io/unhealthy", "hcs.io/degraded"} <= tolerated


def test_the_webhook_preloads_from_the_file_only_where_the_agent_writes_it(render):
    def preload(*flags: str) -> object:
        webhook = find(render("default", *flags), "Deployment", "hcs-webhook")
        return env(containers(webhook)["webhook"]).get("HCS_WEBHOOK_PRELOAD_FROM_FILE")

    assert preload() == "true"  # the agent's init container writes ld.so.preload
    assert preload("--set", "agent.prepareRuntimeDirectory=false") is None
    assert preload("--set", "webhook.settings.preload_from_file=false") is None  # theirs wins


def test_inventory_mode_reports_the_inventory(render):
    documents = render("dev")
    config = find(documents, "ConfigMap", "hcs-agent")["data"]
    assert "MLU370-X4" in config["inventory.yaml"]
    agent = containers(find(documents, "DaemonSet", "hcs-agent"))["agent"]
    assert env(agent)["HCS_AGENT_INVENTORY"] == "/etc/hcs-agent/inventory.yaml"
    assert "HCS_AGENT_INVENTORY" not in env(
        containers(find(render(), "DaemonSet", "hcs-agent"))["agent"]
    )


def test_the_extender_elects_a_leader_under_its_pod_name_and_has_no_disruption_budget(render):
    documents = render(
        "default", "--set", "extender.settings.lease_name=hcs-lease", namespace="gpu-infra"
    )
    deployment = find(documents, "Deployment", "hcs-scheduler")
    variables = env(containers(deployment)["extender"])
    assert variables["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert variables["HCS_SCHEDULER_LEASE_NAMESPACE"] == "gpu-infra"
    assert variables["HCS_SCHEDULER_LEASE_NAME"] == "hcs-lease"
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == "100%"
    role = find(documents, "Role", "hcs-scheduler")
    named = next(rule for rule in role["rules"] if "resourceNames" in rule)
    assert named["resourceNames"] == ["hcs-lease"]
    budgets = {
        d["metadata"]["name"]: d["spec"] for d in documents if d["kind"] == "PodDisruptionBudget"
    }
    assert budgets == {
        "hcs-kube-scheduler": {
            "maxUnavailable": 1,
            "selector": {
                "matchLabels": {
                    "app.kubernetes.io/name": "hcs-kube-scheduler",
                    "app.kubernetes.io/component": "kube-scheduler",
                }
            },
        },
        "hcs-webhook": {
            "maxUnavailable": 1,
            "selector": {
                "matchLabels": {
                    "app.kubernetes.io/name": "hcs-webhook",
                    "app.kubernetes.io/component": "webhook",
                }
            },
        },
    }


def test_services_match_the_urls_the_configurations_call(render):
    documents = render()
    extender = find(documents, "Service", "hcs-scheduler")["spec"]["ports"]
    assert [(p["port"], p["targetPort"]) for p in extender] == [(8888, "https")]
    webhook = find(documents, "Service", "hcs-webhook")["spec"]["ports"]
    assert [(p["port"], p["targetPort"]) for p in webhook] == [(443, "https")]
    ports = {
        c["name"]: c["ports"][0]["containerPort"]
        for c in [
            *containers(find(documents, "Deployment", "hcs-scheduler")).values(),
            *containers(find(documents, "Deployment", "hcs-webhook")).values(),
        ]
    }
    assert ports == {"extender": 8888, "webhook": 8443}
