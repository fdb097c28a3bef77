"""The chart installs what deploy/ ships (CRDs, scheduler and webhook configuration) and what
each component accepts; nothing in it is a second copy that could drift."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
import yaml
from charttest import CAPABILITIES, CHART, DEPLOY, REPO, containers, env, find, source_documents
from settings_schema import CHART_SETS, MODELS, generated

import hcs_agent
import hcs_scheduler
import hcs_webhook
from hcs_agent.settings import load_settings as load_agent_settings
from hcs_api.names import Vendor
from hcs_scheduler.extender.settings import ExtenderSettings
from hcs_webhook.settings import load_settings as load_webhook_settings


def _without_labels(document: dict) -> dict:
    document["metadata"].pop("labels", None)
    return document


def test_crds_are_the_generated_files_byte_for_byte(run_helm, chart):
    result = run_helm("template", "hcs", str(chart), "-n", "hcs-system", "--include-crds")
    assert result.returncode == 0, result.stderr
    shipped = sorted((DEPLOY / "crds").glob("*.yaml"))
    assert result.stdout.count("# Source: hcs/crds/") == len(shipped) == 2
    for path in shipped:
        assert f"# Source: hcs/crds/{path.name}\n{path.read_text()}" in result.stdout
        # The chart's crds/ are links to deploy/crds, not copies.
        assert (CHART / "crds" / path.name).resolve() == path.resolve()


def test_a_packaged_chart_holds_the_files_behind_the_links(run_helm, tmp_path):
    result = run_helm("package", str(CHART), "--destination", str(tmp_path))
    assert result.returncode == 0, result.stderr
    with tarfile.open(next(tmp_path.glob("hcs-*.tgz"))) as packed:
        for linked in ["crds/computenodes.hcs.io.yaml", "files/kube-scheduler-config.yaml"]:
            member = packed.getmember(f"hcs/{linked}")
            assert member.isfile()
            assert packed.extractfile(member).read() == (CHART / linked).read_bytes()


def test_the_scheduler_configuration_is_deploy_scheduler_byte_for_byte(render):
    config = find(render(), "ConfigMap", "hcs-kube-scheduler")["data"]["hcs-scheduler-config.yaml"]
    shipped = (DEPLOY / "scheduler" / "kube-scheduler-config.yaml").read_text()
    assert config == shipped


def test_in_another_namespace_only_the_lease_and_the_extenders_url_move(render):
    config = find(render(namespace="gpu-infra"), "ConfigMap", "hcs-kube-scheduler")
    moved = yaml.safe_load(config["data"]["hcs-scheduler-config.yaml"])
    shipped = yaml.safe_load((DEPLOY / "scheduler" / "kube-scheduler-config.yaml").read_text())
    shipped["leaderElection"]["resourceNamespace"] = "gpu-infra"
    shipped["extenders"][0]["urlPrefix"] = "https://hcs-scheduler.gpu-infra.svc:8888"
    assert moved == shipped


def _registrations(documents: list[dict]) -> list[dict]:
    kinds = {"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"}
    return [_without_labels(d) for d in documents if d["kind"] in kinds]


def test_with_cert_manager_the_registrations_are_deploy_webhooks(render):
    shipped = source_documents(DEPLOY / "webhook" / "webhook-configurations.yaml")
    assert _registrations(render("default", *CAPABILITIES)) == shipped


def test_in_hook_mode_only_the_cainjector_annotation_goes(render):
    shipped = source_documents(DEPLOY / "webhook" / "webhook-configurations.yaml")
    for document in shipped:
        document["metadata"].pop("annotations")
    assert _registrations(render()) == shipped


def test_in_another_namespace_the_registrations_call_it_and_leave_it_out(render):
    for registration in _registrations(render("default", *CAPABILITIES, namespace="gpu-infra")):
        annotation = registration["metadata"]["annotations"]["cert-manager.io/inject-ca-from"]
        assert annotation == "gpu-infra/hcs-webhook"
        for hook in registration["webhooks"]:
            assert hook["clientConfig"]["service"]["namespace"] == "gpu-infra"
            excluded = hook["namespaceSelector"]["matchExpressions"][0]["values"]
            assert excluded == ["kube-system", "gpu-infra"]


def test_the_webhooks_role_is_deploy_webhook_rbac(render):
    shipped = find(source_documents(DEPLOY / "webhook" / "rbac.yaml"), "ClusterRole", "hcs-webhook")
    assert find(render(), "ClusterRole", "hcs-webhook")["rules"] == shipped["rules"]


def test_the_certificates_cainjector_reads_is_the_webhooks(render):
    documents = render("default", *CAPABILITIES)
    certificate = find(documents, "Certificate", "hcs-webhook")["spec"]
    assert certificate["secretName"] == "hcs-webhook-tls"
    assert "hcs-webhook.hcs-system.svc" in certificate["dnsNames"]
    client = find(documents, "Certificate", "hcs-kube-scheduler-client")["spec"]
    assert client["commonName"] in ExtenderSettings().bind_clients
    assert not [d for d in documents if d["kind"] == "Job"], "no hook Job with cert-manager"


def test_every_rbac_rule_says_why(chart):
    """Each rule in the chart's templates is preceded by a comment giving its reason."""
    for template in sorted((chart / "templates").glob("*.yaml")):
        lines = template.read_text().splitlines()
        for number, line in enumerate(lines):
            if line.strip().startswith("- apiGroups:") and "rules:" in "".join(lines[:number]):
                assert lines[number - 1].strip().startswith("#"), f"{template.name}:{number + 1}"


def test_the_settings_schemas_are_generated_from_the_models():
    committed = json.loads((CHART / "values.schema.json").read_text())
    assert committed == generated(), "run: .venv/bin/python deploy/helm/settings_schema.py"
    for component, keys in CHART_SETS.items():
        assert set(keys) <= set(MODELS[component].model_fields), f"{component}: renamed setting"


def _environment(container: dict) -> dict[str, str]:
    return {k: v for k, v in env(container).items() if isinstance(v, str)}


def test_each_component_accepts_the_settings_the_chart_renders(render, tmp_path, monkeypatch):
    """The rendered settings files and HCS_* variables load in the components' own models."""
    documents = render("prod", *CAPABILITIES)
    extender = _environment(containers(find(documents, "Deployment", "hcs-scheduler"))["extender"])
    for name, value in extender.items():
        monkeypatch.setenv(name, value)
    settings = ExtenderSettings()
    assert (settings.api_concurrency, str(settings.client_ca)) == (64, "/etc/hcs/tls/ca.crt")
    assert settings.token_users == ["system:serviceaccount:hcs-system:hcs-webhook"]

    webhook = containers(find(documents, "Deployment", "hcs-webhook"))["webhook"]
    config = tmp_path / "webhook.yaml"
    config.write_text(find(documents, "ConfigMap", "hcs-webhook")["data"]["webhook.yaml"])
    for name, value in _environment(webhook).items():
        monkeypatch.setenv(name, value)
    loaded = load_webhook_settings(config)
    assert loaded.hcs_service_accounts == ["system:serviceaccount:hcs-system:hcs-scheduler"]
    assert loaded.scheduler_url == "https://hcs-scheduler.hcs-system.svc:8888"
    assert (
        loaded.runtime(Vendor.NVIDIA).runtime_image == "registry.example.com/hcs/cuda-runtime:12.4"
    )

    agent = containers(find(documents, "DaemonSet", "hcs-agent"))["agent"]
    config = tmp_path / "agent.yaml"
    config.write_text(find(documents, "ConfigMap", "hcs-agent")["data"]["agent.yaml"])
    for name, value in _environment(agent).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HCS_AGENT_NODE_NAME", "gpu-01")  # the downward API's part
    assert load_agent_settings(config).tool_timeout_s == 5


def _keys(values: dict, prefix: str = "") -> list[str]:
    """Every key's dotted path; a `resources` block is one value (a Kubernetes object)."""
    keys = []
    for key, value in values.items():
        keys.append(prefix + key)
        if isinstance(value, dict) and value and key != "resources":
            keys += _keys(value, f"{prefix}{key}.")
    return keys


@pytest.mark.parametrize("readme", [CHART / "README.md"], ids=["chart-readme"])
def test_the_readme_lists_every_value(readme: Path):
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    text = readme.read_text()
    missing = [key for key in _keys(values) if f"`{key}`" not in text]
    assert not missing, f"values not in {readme.name}: {missing}"


def test_root_readme_links_the_chart():
    text = (REPO / "README.md").read_text()
    assert "## Install on a cluster" in text
    assert "deploy/helm/hcs/README.md" in text


@pytest.mark.parametrize("values", ["values-dev.yaml", "values-prod.yaml"])
def test_example_values_use_the_tags_make_images_gives(values):
    """tools/images/build.sh tags hcs-<component>:<its package's version> (which each
    package's `__version__` equals: its package_check)."""
    dev = yaml.safe_load((CHART / values).read_text())
    versions = {
        "agent": hcs_agent.__version__,
        "extender": hcs_scheduler.__version__,
        "webhook": hcs_webhook.__version__,
    }
    assert {c: dev[c]["image"]["tag"] for c in versions} == versions
