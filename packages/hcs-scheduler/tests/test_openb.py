"""The Alibaba trace CSVs read into nodes and tasks; a bad row names file, line and reason."""

import pytest

from hcs_exchange import load_database
from hcs_scheduler.cli import bundled
from hcs_scheduler.errors import InputError
from hcs_scheduler.sim import openb

PROFILES = load_database()
POD_HEADER = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\n"


def test_bundled_sample_reads():
    tasks = openb.read_tasks(bundled("openb-sample.csv"), PROFILES)
    assert len(tasks) == 1200
    assert {t.num_gpu for t in tasks} >= {0, 1, 8}


def test_trace_models_map_to_profiles(tmp_path):
    path = tmp_path / "nodes.csv"
    path.write_text(
        "sn,cpu_milli,memory_mib,gpu,model\nn0,96000,393216,8,V100M32\nn1,32000,131072,2,G2\nn2,32000,131072,0,\n"
    )
    report = openb.ReadReport()
    nodes = openb.read_nodes(path, PROFILES, report=report)
    assert [d.model for d in nodes[0].devices][:1] == ["V100-SXM2-32G"]
    assert nodes[1].devices[0].model == "G2"
    assert nodes[2].devices == ()
    assert "model G2 has no hcs-exchange profile" in report.warnings[0]


def test_gpu_spec_maps_to_profiles(tmp_path):
    path = tmp_path / "pods.csv"
    path.write_text(POD_HEADER + "p0,1000,1024,1,500,V100M16|T4\n")
    assert openb.read_tasks(path, PROFILES)[0].gpu_spec == ("V100-SXM2-16G", "T4")


BAD_ROWS = [
    ("not-a-number", "p0,abc,1024,1,500,\n", "cpu_milli is 'abc', not a whole number"),
    ("negative", "p0,1000,-5,1,500,\n", "memory_mib is negative"),
    ("more-than-a-gpu", "p0,1000,1024,1,1500,\n", "gpu_milli 1500 is more than one GPU"),
    ("multi-gpu-share", "p0,1000,1024,2,500,\n", "2 GPUs must be whole"),
    ("extra-field", "p0,1000,1024,1,500,,surprise\n", "more fields than the header has"),
]


@pytest.mark.parametrize(
    ("row", "message"), [b[1:] for b in BAD_ROWS], ids=[b[0] for b in BAD_ROWS]
)
def test_bad_row_names_file_and_line(tmp_path, row, message):
    path = tmp_path / "pods.csv"
    path.write_text(POD_HEADER + "ok,1000,1024,0,0,\n" + row)
    with pytest.raises(InputError, match=message) as caught:
        openb.read_tasks(path, PROFILES)
    assert f"{path}:3:" in str(caught.value)


def test_skip_mode_keeps_reading_and_reports(tmp_path):
    path = tmp_path / "pods.csv"
    path.write_text(POD_HEADER + "bad,x,1,1,1,\nok,1000,1024,0,0,\n")
    report = openb.ReadReport()
    tasks = openb.read_tasks(path, PROFILES, on_error="skip", report=report)
    assert [t.name for t in tasks] == ["ok"]
    assert report.skipped == [f"{path}:2: cpu_milli is 'x', not a whole number"]


def test_missing_columns_and_files(tmp_path):
    path = tmp_path / "pods.csv"
    path.write_text("name,cpu\n")
    with pytest.raises(InputError, match="missing column"):
        openb.read_tasks(path, PROFILES)
    with pytest.raises(InputError, match="cannot read"):
        openb.read_tasks(tmp_path / "nope.csv", PROFILES)
