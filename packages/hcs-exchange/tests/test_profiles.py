"""The bundled profiles are complete, sourced and unique; bad profile files are refused by name."""

import copy

import pytest

from hcs_exchange import ProfileFileError, UnknownModelError
from hcs_exchange._files import parse_database


def test_bundled_database_covers_the_fleet(database):
    assert len(database.profiles) >= 25
    assert len(database.vendors()) >= 6
    for required in ["nvidia", "ascend", "hygon", "cambricon"]:
        assert required in database.vendors()


REQUIRED_MODELS = [
    "V100-SXM2-16G",
    "T4",
    "A10",
    "A100-SXM4-40G",
    "A100-SXM4-80G",
    "A800-SXM4-80G",
    "H100-SXM5-80G",
    "H100-PCIE-80G",
    "H800-SXM5-80G",
    "H20",
    "L40S",
    "H200-SXM-141G",
    "Ascend-910A",
    "Ascend-910B3",
    "Ascend-910C",
    "Ascend-310P3",
    "Hygon-Z100",
    "Hygon-K100",
    "Hygon-K100-AI",
    "MLU370-X8",
    "MLU590",
]


@pytest.mark.parametrize("model", REQUIRED_MODELS)
def test_required_models_are_present(database, model):
    assert database.get(model).model == model


REPORTED_NAMES = [
    # (name as a tool or trace reports it, profile)
    ("P100", "P100-PCIE-16G"),
    ("T4", "T4"),
    ("V100M16", "V100-SXM2-16G"),
    ("V100M32", "V100-SXM2-32G"),
    ("A10", "A10"),
    ("NVIDIA H100 80GB HBM3", "H100-SXM5-80G"),
    ("Tesla V100-SXM2-16GB", "V100-SXM2-16G"),
    ("NVIDIA A100-SXM4-40GB", "A100-SXM4-40G"),
    ("NVIDIA A100-SXM4-80GB", "A100-SXM4-80G"),
    ("910B3", "Ascend-910B3"),
    ("K100_AI", "Hygon-K100-AI"),
    ("MLU370-X8", "MLU370-X8"),
]


@pytest.mark.parametrize(("name", "model"), REPORTED_NAMES, ids=[n for n, _ in REPORTED_NAMES])
def test_names_tools_and_traces_report_resolve(database, name, model):
    assert database.get(name).model == model


def test_lookup_ignores_case_spaces_dashes_and_underscores(database):
    assert database.get("k100-ai").model == database.get("K100_AI").model
    assert database.get("h100 sxm5 80g").model == "H100-SXM5-80G"


def test_unknown_model_suggests_the_nearest_names(database):
    with pytest.raises(
        UnknownModelError, match="unknown model 'H100-SXM-80G'; did you mean"
    ) as caught:
        database.get("H100-SXM-80G")
    assert "H100-SXM5-80G" in caught.value.suggestions


def test_every_figure_cites_a_listed_source(database):
    for profile in database.profiles:
        figures = [profile.memory_bandwidth_gbps, profile.tdp_w, *profile.throughput.values()]
        for figure in figures:
            if figure.value is not None:
                assert figure.source in database.sources, profile.model
        if profile.vram.value is not None:
            assert profile.vram.source in database.sources


def test_schedulable_vendors_are_the_four_hcs_runs_on(database):
    assert database.get("H100").schedulable
    assert database.get("Ascend-910B3").schedulable
    assert not database.get("MTT-S4000").schedulable


def _document(database):
    return copy.deepcopy(database.model_dump(mode="json", exclude_none=True))


BAD_FILES = [
    (
        "negative-throughput",
        lambda d: d["profiles"][0]["throughput"]["fp32"].update(value=-1),
        r"profiles\[0\] \(P100-PCIE-16G\)\.throughput\.fp32\.value: Input should be greater than",
    ),
    (
        "figure-without-source",
        lambda d: d["profiles"][1]["throughput"]["fp32"].pop("source"),
        r"profiles\[1\] \(P100-SXM2-16G\)\.throughput\.fp32: figure 10\.6 has no source",
    ),
    (
        "unknown-source",
        lambda d: d["profiles"][2]["tdp_w"].update(source="a-blog"),
        r"profile V100-SXM2-16G: tdp_w cites unknown source 'a-blog'",
    ),
    (
        "duplicate-alias",
        lambda d: d["profiles"][3]["aliases"].append("T4"),
        r"name 'T4' of T4 is already used by V100-SXM2-32G|name 'T4' of V100-SXM2-32G",
    ),
    (
        "bad-vram",
        lambda d: d["profiles"][0]["vram"].update(value="16 GB"),
        r"profiles\[0\] \(P100-PCIE-16G\)\.vram\.value: '16 GB' is not a Kubernetes quantity",
    ),
    (
        "unknown-precision",
        lambda d: d["profiles"][0]["throughput"].update(
            fp8={"value": 1, "source": "nvidia-p100-datasheet-2016"}
        ),
        r"profiles\[0\] \(P100-PCIE-16G\)\.throughput\.fp8\.\[key\]",
    ),
    (
        "typo-field",
        lambda d: d["profiles"][0].update(tdp={"value": 1}),
        r"profiles\[0\] \(P100-PCIE-16G\)\.tdp: Extra inputs are not permitted",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "message"), [b[1:] for b in BAD_FILES], ids=[b[0] for b in BAD_FILES]
)
def test_bad_profile_files_are_refused_naming_profile_and_field(database, mutate, message):
    document = _document(database)
    mutate(document)
    with pytest.raises(ProfileFileError, match=message):
        parse_database(document, "test.yaml")
