"""The hcs-api command prints CRDs, validates resource files and explains pod requests."""

import yaml
from click.testing import CliRunner

from hcs_api.cli import main


def _run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_crds_prints_both_definitions():
    result = _run("crds")
    assert result.exit_code == 0
    documents = list(yaml.safe_load_all(result.output))
    assert [d["metadata"]["name"] for d in documents] == [
        "computenodes.hcs.io",
        "computequotas.hcs.io",
    ]


def test_crds_writes_files(tmp_path):
    result = _run("crds", "--output-dir", str(tmp_path / "out"))
    assert result.exit_code == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "computenodes.hcs.io.yaml",
        "computequotas.hcs.io.yaml",
    ]


def test_validate_accepts_examples_and_prints_them(examples_dir):
    result = _run("validate", "--print", str(examples_dir / "computenode-h100.yaml"))
    assert result.exit_code == 0
    assert "ComputeNode gpu-h100-01 is valid" in result.output
    printed = yaml.safe_load(result.stdout.split("---\n", 1)[1])
    assert printed["spec"]["devices"][5]["cordonReason"].startswith("Xid 79")


def test_validate_names_every_bad_field_and_fails(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: hcs.io/v1alpha1\nkind: ComputeNode\nmetadata: {name: n1}\n"
        "spec:\n  nodeName: n1\n  vendors: [nvidia]\n  devices:\n"
        "  - {id: '0', uuid: u0, vendor: nvidia, model: T4, vram: 16GB, health: 300}\n"
        "---\n"
        "apiVersion: hcs.io/v1alpha1\nkind: ComputeQuota\nmetadata: {name: q, namespace: x}\n"
        "spec: {hard: {vram: 1Gi}}\n"
    )
    result = _run("validate", str(bad))
    assert result.exit_code == 1
    assert "ComputeNode n1 is invalid" in result.output
    assert "spec.devices[0].vram: '16GB' is not a Kubernetes quantity" in result.output
    assert "spec.devices[0].health: Input should be less than or equal to 100" in result.output
    assert "ComputeQuota q is valid" in result.output
    assert "1 invalid resource(s)" in result.output


def test_validate_reports_unreadable_and_malformed_files(tmp_path):
    result = _run("validate", str(tmp_path / "missing.yaml"))
    assert result.exit_code == 1
    assert "cannot read" in result.output
    broken = tmp_path / "broken.yaml"
    broken.write_text("spec: [unclosed\n")
    result = _run("validate", str(broken))
    assert result.exit_code == 1
    assert "is not valid YAML" in result.output
    assert "Traceback" not in result.output


def test_request_explains_a_pod(tmp_path):
    pod = tmp_path / "pod.yaml"
    pod.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, annotations: {hcs.io/vendors: ascend}}\n"
        "spec:\n  containers:\n  - name: train\n    resources:\n"
        "      limits: {ai.compute/vram: 16Gi, ai.compute/tflops-fp16: '100'}\n"
    )
    result = _run("request", str(pod))
    assert result.exit_code == 0
    assert '"vram": 17179869184' in result.output
    assert '"vendors": [\n      "ascend"\n    ]' in result.output


def test_request_refuses_bad_pod_without_traceback(tmp_path):
    pod = tmp_path / "pod.yaml"
    pod.write_text(
        "kind: Pod\nspec:\n  containers:\n  - name: t\n"
        "    resources: {requests: {ai.compute/vram: 1.5}}\n"
    )
    result = _run("request", str(pod))
    assert result.exit_code == 1
    assert "ai.compute/vram is 1500m; extended resources must be whole numbers" in result.output
