"""The rendered chart is accepted strictly by the API server; the hook makes and keeps the
certificates with its own account; each account may do what its component needs, no more."""

from __future__ import annotations

import base64

import pytest
from chartkube import NS, run_hook


def test_the_api_server_accepts_every_object_strictly(installed, kube_api):
    from kubernetes import client

    kinds = {d["kind"] for d in installed}
    assert {"CustomResourceDefinition", "DaemonSet", "Deployment", "Job"} <= kinds
    admission = client.AdmissionregistrationV1Api(kube_api)
    webhook = admission.read_mutating_webhook_configuration("hcs-webhook")
    assert webhook.webhooks[0].match_conditions[0].name == "asks-for-ai-compute"


def test_the_hook_keeps_the_certificates_and_the_ca_bundle(
    installed, certificates, kubeconfig_of, kube_api
):
    from kubernetes import client

    ca = (certificates / "hcs-ca" / "tls.crt").read_bytes()
    admission = client.AdmissionregistrationV1Api(kube_api)
    for read in (
        admission.read_mutating_webhook_configuration,
        admission.read_validating_webhook_configuration,
    ):
        assert base64.b64decode(read("hcs-webhook").webhooks[0].client_config.ca_bundle) == ca
    again = run_hook(installed, kubeconfig_of("hcs-certificates"))
    assert again.stdout.strip() == "every certificate is valid; nothing to do", again.stderr
    core = client.CoreV1Api(kube_api)
    spoilt = core.read_namespaced_secret("hcs-webhook-tls", NS)
    spoilt.data["tls.crt"] = base64.b64encode(b"garbage").decode()
    core.replace_namespaced_secret("hcs-webhook-tls", NS, spoilt)
    renewed = run_hook(installed, kubeconfig_of("hcs-certificates"))
    assert renewed.stdout.strip() == "issued Secret hcs-webhook-tls: unreadable", renewed.stderr


MUTATING = "admissionregistration.k8s.io/mutatingwebhookconfigurations"
LEASES = "coordination.k8s.io/leases"
# (account, verb, group/resource[/subresource], namespace, name, allowed)
ACCESS = [
    ("hcs-agent", "create", "hcs.io/computenodes", "", "", True),
    ("hcs-agent", "patch", "/nodes/status", "", "gpu-01", True),
    # hcs-health: the node's taints, evictions through the API, a bare pod's replacement.
    ("hcs-agent", "patch", "/nodes", "", "gpu-01", True),
    ("hcs-agent", "create", "/pods/eviction", "ml", "", True),
    ("hcs-agent", "delete", "/pods", "ml", "", False),
    ("hcs-agent", "delete", "/nodes", "", "gpu-01", False),
    ("hcs-agent", "list", "/secrets", NS, "", False),
    ("hcs-scheduler", "create", "/pods/binding", "ml", "", True),
    ("hcs-scheduler", "update", LEASES, NS, "hcs-scheduler-extender", True),
    ("hcs-scheduler", "update", LEASES, NS, "hcs-scheduler", False),
    ("hcs-scheduler", "patch", "/pods", "ml", "", False),
    ("hcs-kube-scheduler", "update", LEASES, NS, "hcs-scheduler", True),
    ("hcs-kube-scheduler", "update", LEASES, NS, "hcs-scheduler-extender", False),
    ("hcs-webhook", "list", "hcs.io/computequotas", "ml", "", True),
    ("hcs-webhook", "create", "/pods", "ml", "", False),
    ("hcs-webhook", "get", "/secrets", NS, "hcs-webhook-tls", False),
    ("hcs-certificates", "update", "/secrets", NS, "hcs-ca", True),
    ("hcs-certificates", "get", "/secrets", NS, "other", False),
    ("hcs-certificates", "patch", MUTATING, "", "hcs-webhook", True),
    ("hcs-certificates", "patch", MUTATING, "", "other", False),
]


@pytest.mark.parametrize(
    ("account", "verb", "resource", "namespace", "name", "allowed"),
    ACCESS,
    ids=[f"{a}-{v}-{r.split('/')[1]}-{n or 'any'}-{ok}" for a, v, r, _, n, ok in ACCESS],
)
def test_each_account_may_do_what_its_component_needs_and_no_more(
    installed, kube_api, account, verb, resource, namespace, name, allowed
):
    from kubernetes import client

    group, _, rest = resource.partition("/")
    plural, _, subresource = rest.partition("/")
    attributes = {"verb": verb, "group": group, "resource": plural, "subresource": subresource}
    attributes.update(namespace=namespace, name=name)
    review = {
        "spec": {
            "user": f"system:serviceaccount:{NS}:{account}",
            "groups": ["system:serviceaccounts", f"system:serviceaccounts:{NS}"],
            "resourceAttributes": attributes,
        }
    }
    answer = client.AuthorizationV1Api(kube_api).create_subject_access_review(review)
    assert answer.status.allowed is allowed
