"""hcs-webhook registered with the real API server: pods are mutated, forgeries refused, and an
outage fails as the shipped failurePolicy says."""

import pytest
from hcs_envtest import wait_for
from kubernetes.client.exceptions import ApiException
from kubetest import HCS_USER, pod, registrations


def _mutated(api, namespace):
    """A dry-run create of an ai.compute pod, once the API server calls the webhook."""
    probe = api.core.create_namespaced_pod(
        namespace, pod("probe", {"ai.compute/vram": "8Gi"}), dry_run="All"
    )
    return probe if probe.spec.scheduler_name == "hcs-scheduler" else None


def test_pod_asking_for_compute_comes_back_mutated(api, webhook, kube_namespace):
    wait_for(lambda: _mutated(api, kube_namespace), 30, "the webhook registration to take effect")
    created = api.core.create_namespaced_pod(
        kube_namespace, pod("train", {"ai.compute/vram": "16Gi"})
    )
    assert created.spec.scheduler_name == "hcs-scheduler"
    env = {e.name: e for e in created.spec.containers[0].env or []}
    hcs_env = [name for name in env if name.startswith("HCS_") or "VISIBLE_DEVICES" in name]
    assert hcs_env, f"no HCS runtime env injected: {sorted(env)}"
    # Late binding: the devices resolve on the node through the downward API.
    downward = [e for e in env.values() if e.value_from and e.value_from.field_ref]
    assert any("hcs.io/" in e.value_from.field_ref.field_path for e in downward)

    plain = api.core.create_namespaced_pod(kube_namespace, pod("web", {"cpu": "1"}))
    assert plain.spec.scheduler_name == "default-scheduler"  # matchConditions: not HCS's business


def test_forged_decision_annotation_is_refused_with_the_webhooks_message(
    api, webhook, kube_namespace, control_plane
):
    wait_for(lambda: _mutated(api, kube_namespace), 30, "the webhook registration to take effect")
    forged = pod("forged", {"ai.compute/vram": "8Gi"}, annotations={"hcs.io/node": "gpu-01"})
    with pytest.raises(ApiException) as refused:
        api.core.create_namespaced_pod(kube_namespace, forged)
    assert refused.value.status == 403
    assert "hcs.io/node is written only by HCS" in refused.value.body

    # UPDATE: a user may not rewrite what HCS decided; HCS's own account may.
    api.core.create_namespaced_pod(kube_namespace, pod("decided", {"ai.compute/vram": "8Gi"}))
    as_hcs = control_plane.api_client(control_plane.kubeconfig(HCS_USER, ["system:masters"]))
    from kubernetes import client

    client.CoreV1Api(as_hcs).patch_namespaced_pod(
        "decided", kube_namespace, {"metadata": {"annotations": {"hcs.io/node": "gpu-01"}}}
    )
    as_user = control_plane.api_client(control_plane.kubeconfig("mallory", ["system:masters"]))
    with pytest.raises(ApiException) as refused:
        client.CoreV1Api(as_user).patch_namespaced_pod(
            "decided", kube_namespace, {"metadata": {"annotations": {"hcs.io/node": "gpu-02"}}}
        )
    assert refused.value.status == 403
    assert "mallory may not add, change or remove it" in refused.value.body
    kept = api.core.read_namespaced_pod("decided", kube_namespace)
    assert kept.metadata.annotations["hcs.io/node"] == "gpu-01"


def test_a_pod_cannot_switch_off_its_slice_nor_debug_its_way_around_it(
    api, webhook, kube_namespace
):
    wait_for(lambda: _mutated(api, kube_namespace), 30, "the webhook registration to take effect")
    escaping = pod("escaping", {"ai.compute/vram": "8Gi"})
    escaping["spec"]["containers"][0]["env"] = [{"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"}]
    with pytest.raises(ApiException) as refused:
        api.core.create_namespaced_pod(kube_namespace, escaping)
    assert refused.value.status == 403
    assert "container 'main': env NVIDIA_VISIBLE_DEVICES is set by HCS" in refused.value.body

    # kubectl debug adds an ephemeral container through the subresource: judged the same way.
    api.core.create_namespaced_pod(kube_namespace, pod("debugged", {"ai.compute/vram": "8Gi"}))
    debug = {"name": "debug", "image": "busybox", "env": [{"name": "LD_PRELOAD", "value": ""}]}
    with pytest.raises(ApiException) as refused:
        api.core.patch_namespaced_pod_ephemeralcontainers(
            "debugged", kube_namespace, {"spec": {"ephemeralContainers": [debug]}}
        )
    assert refused.value.status == 403
    assert "ephemeral container 'debug': env LD_PRELOAD" in refused.value.body
    debug["env"] = []
    api.core.patch_namespaced_pod_ephemeralcontainers(
        "debugged", kube_namespace, {"spec": {"ephemeralContainers": [debug]}}
    )


def test_webhook_down_follows_the_failure_policy(api, webhook, kube_namespace):
    wait_for(lambda: _mutated(api, kube_namespace), 30, "the webhook registration to take effect")
    webhook.stop()
    # failurePolicy Fail: an ai.compute pod is refused rather than admitted unmutated.
    with pytest.raises(ApiException) as refused:
        api.core.create_namespaced_pod(kube_namespace, pod("orphan", {"ai.compute/vram": "8Gi"}))
    assert refused.value.status == 500
    assert "mutate.hcs.io" in refused.value.body
    assert "failed calling webhook" in refused.value.body
    # matchConditions: every other pod never reaches the webhook, so the outage spares it.
    plain = api.core.create_namespaced_pod(kube_namespace, pod("web", {"cpu": "1"}))
    assert plain.metadata.name == "web"
    webhook.start()
    wait_for(lambda: _mutated(api, kube_namespace), 30, "the webhook back in service")


def test_shipped_registration_is_what_the_api_server_stores(api, webhook):
    stored = api.admission.read_mutating_webhook_configuration("hcs-webhook")
    shipped = registrations(webhook.port, b"")[0]["webhooks"][0]
    assert stored.webhooks[0].failure_policy == shipped["failurePolicy"] == "Fail"
    assert [c.name for c in stored.webhooks[0].match_conditions] == [
        c["name"] for c in shipped["matchConditions"]
    ]
    assert stored.webhooks[0].timeout_seconds == shipped["timeoutSeconds"]
