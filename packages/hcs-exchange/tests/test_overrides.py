"""An operator's override file adds private models, changes figures and overrides rates."""

from fractions import Fraction

import pytest

from hcs_exchange import Demand, Exchange, Precision, ProfileFileError, Workload, apply_overrides

OVERRIDES = """
sources:
  our-bench-2026: {title: "Internal benchmark of G1 nodes", publisher: "Example Corp", year: 2026}
profiles:
  # G1 is one of the Alibaba trace's undisclosed models: the operator describes it.
  - model: G1
    vendor: internal
    aliases: [G1]
    vram: {value: 32Gi, source: our-bench-2026}
    memory_bandwidth_gbps: {value: 900, source: our-bench-2026}
    throughput:
      fp16: {value: 100, source: our-bench-2026}
  # Only the field given changes: this T4 fleet is power-capped.
  - model: Tesla T4
    tdp_w: {value: 60, source: our-bench-2026, note: "capped by our BMC"}
rates:
  - {model: 910B3, precision: fp16, workload: compute, rate: "0.6", reason: "our vLLM throughput"}
"""


@pytest.fixture
def override_file(tmp_path):
    path = tmp_path / "overrides.yaml"
    path.write_text(OVERRIDES)
    return path


def test_private_model_is_added_and_usable(database, override_file):
    merged, rates = apply_overrides(database, override_file)
    exchange = Exchange(merged, rates)
    assert exchange.rate("G1", Precision.FP16) == Fraction(100, 312)
    assert exchange.fit(Demand(vram=64 * 1024**3, spread_vram=True), "G1").devices == 2
    assert exchange.fit(Demand(vram=32 * 1024**3), "G1").devices == 1
    assert not merged.get("G1").schedulable


def test_existing_model_changes_only_the_given_field(database, override_file):
    merged, _ = apply_overrides(database, override_file)
    t4 = merged.get("T4")
    assert t4.tdp_w.value == 60
    assert t4.throughput == database.get("T4").throughput
    assert len(merged.profiles) == len(database.profiles) + 1


def test_rate_override_wins_over_the_datasheet(database, override_file):
    merged, rates = apply_overrides(database, override_file)
    exchange = Exchange(merged, rates)
    assert exchange.rate("Ascend-910B3", Precision.FP16, Workload.COMPUTE) == Fraction(3, 5)
    assert rates[0].reason == "our vLLM throughput"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rates:\n  - {model: H1000, precision: fp16, rate: 2}\n", "unknown model 'H1000'"),
        ("rates:\n  - {model: T4, precision: fp4, rate: 2}\n", r"rates\[0\]\.precision"),
        ("profiles:\n  - {model: G2}\n", r"profiles\[\d+\] \(G2\)\.vendor: Field required"),
        ("bogus: 1\n", "bogus: Extra inputs are not permitted"),
        ("profiles: [unclosed\n", "is not valid YAML"),
    ],
    ids=[
        "unknown-model",
        "bad-precision",
        "incomplete-private-model",
        "unknown-key",
        "broken-yaml",
    ],
)
def test_bad_override_files_name_the_problem(database, tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ProfileFileError, match=message):
        apply_overrides(database, path)
