"""The hcs-exchange command lists, shows, converts, rates and calibrates, failing clearly."""

import json
import sys
from decimal import Decimal

import pytest
import yaml
from click.testing import CliRunner

from hcs_exchange.cli import main


def _run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_profiles_lists_every_model_and_filters_by_vendor():
    everything = _run("profiles")
    assert everything.exit_code == 0
    assert "H100-SXM5-80G" in everything.output
    ascend = _run("profiles", "--vendor", "ascend", "--output", "json")
    models = json.loads(ascend.output)
    assert models
    assert {m["vendor"] for m in models} == {"ascend"}


def test_profiles_unknown_vendor_lists_known_ones():
    result = _run("profiles", "--vendor", "intel")
    assert result.exit_code == 1
    assert "no profiles for vendor 'intel'; known:" in result.output


def test_show_prints_figures_with_sources():
    result = _run("show", "T4")
    assert result.exit_code == 0
    assert (
        "nvidia-t4-datasheet-2019: NVIDIA T4 Tensor Core GPU datasheet, NVIDIA, 2019"
        in result.output
    )
    assert "320+ GB/s" in result.output


def test_show_unknown_model_suggests_names():
    result = _run("show", "H100-SXM")
    assert result.exit_code == 0  # an alias
    result = _run("show", "H100-SMX5-80G")
    assert result.exit_code == 1
    assert "did you mean H100-SXM5-80G" in result.output


def test_convert_answers_per_model():
    result = _run("convert", "--tflops-fp16", "100", "--vram", "48Gi", "--to", "H100", "--to", "T4")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == (
        "request: 48Gi VRAM on one device, 32.05 ACU fp16; workload compute; at most 8 devices"
    )
    h100 = next(line for line in lines if line.startswith("H100-SXM5-80G"))
    t4 = next(line for line in lines if line.startswith("T4"))
    assert h100.split()[2:5] == ["1", "0.6", "vram"]
    assert "none (VRAM over one device's)" in t4  # a 16Gi T4 cannot hold 48Gi


def test_convert_spreads_vram_only_when_sharded():
    args = ("convert", "--tflops-fp16", "100", "--vram", "48Gi", "--to", "T4", "--sharded")
    result = _run(*args)
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].startswith("request: 48Gi VRAM in total (sharded),")
    t4 = next(line for line in lines if line.startswith("T4"))
    assert t4.split()[2:5] == ["3", "3", "vram"]
    refused = _run(*args[:-1])
    assert refused.exit_code == 1
    assert "no model can serve this request" in refused.output


def test_convert_json_is_exact_enough_to_check():
    result = _run("convert", "--tflops-fp16", "624", "--to", "A100-SXM4-80G", "--output", "json")
    data = json.loads(result.output)
    assert data["request"]["acu"] == {"fp16": "200"}
    assert data["fits"] == [
        {
            "model": "A100-SXM4-80G",
            "vendor": "nvidia",
            "devices": 2,
            "exact": "2",
            "limitedBy": "fp16",
            "missing": [],
            "tooSmall": None,
            "perResource": {"fp16": "2"},
            "canServe": True,
        }
    ]


def test_convert_that_no_model_can_serve_fails():
    result = _run("convert", "--vram", "4Ti")
    assert result.exit_code == 1
    assert "no model can serve this request with at most 8 devices" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--vram", "48GB"], "'48GB' is not a Kubernetes quantity"),
        (["--vram", "0.5"], "is not a whole number of bytes"),
        ([], "say what the request needs"),
        (["--tflops-fp16", "-3"], "-3"),
        (["--vram", "1Gi", "--to", "H1000"], "unknown model 'H1000'"),
    ],
    ids=["bad-quantity", "fractional-bytes", "empty-request", "negative", "unknown-target"],
)
def test_convert_rejects_bad_input_without_traceback(args, message):
    result = CliRunner().invoke(main, ["convert", *args])
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_rates_derive_the_classic_table():
    result = _run("rates", "--precision", "fp16")
    assert result.exit_code == 0
    rows = {line.split()[0]: line.split()[2] for line in result.output.splitlines()[2:]}
    assert rows["A100-SXM4-80G"] == "1"
    assert rows["H100-SXM5-80G"] == "3.171"
    assert rows["Ascend-910B1"] == "1.026"
    assert rows["Ascend-910B3"] == "-"


def test_rates_json_for_memory_workload():
    data = json.loads(_run("rates", "--workload", "memory", "--output", "json").output)
    assert data["reference"] == "A100-SXM4-80G"
    assert data["rates"]["H100-SXM5-80G"] == "1.642962"


def test_overrides_and_bad_override_file(tmp_path):
    good = tmp_path / "o.yaml"
    good.write_text("rates:\n  - {model: T4, precision: fp16, rate: '0.5'}\n")
    data = json.loads(_run("--overrides", str(good), "rates", "--output", "json").output)
    assert data["rates"]["T4"] == "0.5"
    bad = tmp_path / "bad.yaml"
    bad.write_text("rates: 3\n")
    result = _run("--overrides", str(bad), "rates")
    assert result.exit_code == 1
    assert "rates: Input should be a valid list" in result.output


def test_calibrate_on_cpu_writes_a_record_that_calibration_reads(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # numpy alone
    record_file = tmp_path / "records.yaml"
    args = ["calibrate", "--model", "A10", "--device", "cpu", "--size", "128", "--repeats", "2"]
    result = _run(*args, "--copy-mib", "1", "--write", str(record_file))
    assert result.exit_code == 0
    record = yaml.safe_load(result.stdout)
    assert record["device_id"] == "cpu"
    assert record["precision"] == "fp32"  # the CPU's default
    assert record["environment"].startswith("numpy ")
    assert record["command"] == (
        "hcs-exchange calibrate --model A10 --device cpu --precision fp32 --size 128 "
        "--repeats 2 --copy-mib 1"
    )
    assert f"appended to {record_file}" in result.stderr
    shown = _run("--calibration", str(record_file), "show", "A10", "--output", "json")
    figure = json.loads(shown.output)["throughput"]["fp32"]
    assert figure["datasheet"]["value"] == "31.2"
    assert figure["source"].startswith("measured-")
    assert Decimal(figure["value"]) == Decimal(str(record["measured_tflops"])) > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--device", "cpu", "--precision", "fp16"],
            "the CPU benchmark (numpy) measures fp32, not fp16",
        ),
        (["--device", "cuda:0"], "measuring cuda:0 needs PyTorch built for it"),
        ([], "measuring cuda:0 needs PyTorch built for it"),
    ],
    ids=["cpu-fp16", "gpu-without-torch", "default-device-is-the-gpu"],
)
def test_calibrate_refusals_are_one_clear_line(monkeypatch, args, message):
    monkeypatch.setitem(sys.modules, "torch", None)
    result = CliRunner().invoke(main, ["calibrate", "--model", "A10", *args])
    assert result.exit_code == 1
    assert f"Error: {message}" in result.output
    assert "Traceback" not in result.output
