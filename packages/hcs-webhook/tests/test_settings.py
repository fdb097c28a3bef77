"""Configuration: precedence, per-vendor overrides, and errors that name the key, no traceback."""

import pytest
from click.testing import CliRunner

from hcs_api.names import Vendor
from hcs_webhook.cli import main
from hcs_webhook.errors import ConfigError
from hcs_webhook.settings import VendorRuntime, VendorTable, WebhookSettings, load_settings


def test_every_setting_is_documented():
    for model in (WebhookSettings, VendorRuntime, VendorTable):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no docstring"


def test_a_vendor_override_keeps_the_other_built_in_fields(tmp_path, monkeypatch):
    path = tmp_path / "webhook.yaml"
    path.write_text("port: 9443\nvendors:\n  ascend:\n    runtime_image: cann:8\n")
    monkeypatch.setenv("HCS_WEBHOOK_PORT", "10443")
    settings = load_settings(path)
    assert settings.port == 10443, "environment beats the file"
    ascend = settings.runtime(Vendor.ASCEND)
    assert ascend.runtime_image == "cann:8"
    assert ascend.visible_devices_env == ["ASCEND_VISIBLE_DEVICES"]
    assert load_settings(path, port=8000).port == 8000, "flags beat the environment"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("port: 70000\n", "invalid setting port: Input should be less than or equal to 65535"),
        ("schedulr_name: x\n", "invalid setting schedulr_name: Extra inputs are not permitted"),
        ("vendors:\n  nvidia:\n    driver_path: /x\n", "vendors.nvidia.driver_path"),
        ("tls_cert: /a.pem\n", "tls_cert and tls_key must be given together"),
        ("port: [\n", "config file"),
    ],
    ids=["out-of-range", "unknown-key", "unknown-nested-key", "cert-without-key", "bad-yaml"],
)
def test_invalid_configuration_names_the_key(tmp_path, text, message):
    path = tmp_path / "webhook.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_settings(path)
    assert message in str(error.value)


def test_serve_with_invalid_configuration_exits_with_the_message_and_no_traceback(tmp_path):
    path = tmp_path / "webhook.yaml"
    path.write_text("max_devices_per_node: 0\n")
    result = CliRunner().invoke(main, ["serve", "--config", str(path), "--self-signed"])
    assert result.exit_code == 1
    assert "invalid setting max_devices_per_node" in result.output
    assert "Traceback" not in result.output


def test_serve_needs_a_certificate(tmp_path, monkeypatch):
    monkeypatch.delenv("HCS_WEBHOOK_TLS_CERT", raising=False)
    result = CliRunner().invoke(main, ["serve"])
    assert result.exit_code == 2
    assert "--tls-cert and --tls-key, or --self-signed" in result.output
