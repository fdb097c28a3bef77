"""The shipped webhook configurations are valid Kubernetes objects with the chosen policies."""

import kubernetes_validate
import pytest
import yaml

VERSIONS = ["1.30.0", "1.37.0"]  # matchConditions are GA from 1.30


@pytest.fixture
def documents(kit):
    path = kit.repo_root / "deploy" / "webhook" / "webhook-configurations.yaml"
    return {d["kind"]: d for d in yaml.safe_load_all(path.read_text())}


@pytest.mark.parametrize("version", VERSIONS)
def test_configurations_validate_strictly(documents, version):
    assert set(documents) == {"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"}
    for document in documents.values():
        kubernetes_validate.validate(document, version, strict=True)


@pytest.mark.parametrize("version", VERSIONS)
def test_rbac_validates_and_is_read_only(kit, version):
    path = kit.repo_root / "deploy" / "webhook" / "rbac.yaml"
    documents = list(yaml.safe_load_all(path.read_text()))
    for document in documents:
        kubernetes_validate.validate(document, version, strict=True)
    role = next(d for d in documents if d["kind"] == "ClusterRole")
    assert {verb for rule in role["rules"] for verb in rule["verbs"]} == {"list", "get"}
    owners = {
        (r["apiGroups"][0], res)
        for r in role["rules"]
        if r["verbs"] == ["get"]
        for res in r["resources"]
    }
    assert owners == {
        ("batch", "jobs"),
        ("jobset.x-k8s.io", "jobsets"),
        ("kubeflow.org", "pytorchjobs"),
        ("kubeflow.org", "mpijobs"),
        ("kubeflow.org", "tfjobs"),
    }, "the owners kube.py reads for hcs.io/resume-from"


def test_policies(documents):
    mutating = documents["MutatingWebhookConfiguration"]["webhooks"][0]
    validating = documents["ValidatingWebhookConfiguration"]["webhooks"][0]
    assert mutating["reinvocationPolicy"] == "IfNeeded"
    assert mutating["clientConfig"]["service"]["path"] == "/mutate"
    assert validating["clientConfig"]["service"]["path"] == "/validate"
    assert validating["rules"][0]["operations"] == ["CREATE", "UPDATE"]
    for hook in (mutating, validating):
        assert hook["admissionReviewVersions"] == ["v1"]
        assert hook["sideEffects"] == "None"
        assert hook["failurePolicy"] == "Fail"
        assert hook["timeoutSeconds"] == 5
        excluded = hook["namespaceSelector"]["matchExpressions"][0]
        assert excluded["operator"] == "NotIn"
        assert set(excluded["values"]) == {"kube-system", "hcs-system"}
        assert "ai.compute/" in hook["matchConditions"][0]["expression"]
    assert "hcs.io/" in validating["matchConditions"][0]["expression"]
