"""The simulator is deterministic for a seed, fills the cluster, and shows what routing buys."""

import pytest

from hcs_exchange import Exchange, load_database
from hcs_scheduler.cli import bundled
from hcs_scheduler.errors import InputError
from hcs_scheduler.sim import fgd_protocol, openb, scenario, vendor_lock

PROFILES = load_database()


@pytest.fixture(scope="module")
def scenario_inputs():
    nodes = scenario.read_cluster(bundled("mixed-cluster.yaml"), PROFILES)
    tasks = openb.read_tasks(bundled("openb-sample.csv"), PROFILES)
    return nodes, tasks


def test_fgd_protocol_is_deterministic_and_reaches_full_workload(scenario_inputs):
    nodes, tasks = scenario_inputs
    first = fgd_protocol.run(nodes, tasks, ["default", "random-fit"], seed=3)
    second = fgd_protocol.run(nodes, tasks, ["default", "random-fit"], seed=3)
    assert [c.unallocated for c in first] == [c.unallocated for c in second]
    for curve in first:
        assert curve.arrived[-1] == pytest.approx(100.0, abs=1.0)
        assert curve.arrived == sorted(curve.arrived)
        assert 0.0 <= curve.at_full()[0] <= 100.0
        assert curve.unallocated[0] > curve.unallocated[-1]


def test_every_policy_sees_the_same_draw(scenario_inputs):
    nodes, tasks = scenario_inputs
    curves = fgd_protocol.run(nodes, tasks, ["best-fit", "gpu-packing"], seed=1)
    assert curves[0].placed + curves[0].failed == curves[1].placed + curves[1].failed


def test_default_beats_random_fit_on_the_bundled_scenario(scenario_inputs):
    nodes, tasks = scenario_inputs
    by_name = {
        c.policy: c.at_full()[0]
        for c in fgd_protocol.run(nodes, tasks, ["default", "random-fit"], seed=0)
    }
    assert by_name["default"] < by_name["random-fit"]


def test_vendor_neutral_routing_waits_less_than_vendor_locked():
    exchange = Exchange(PROFILES)
    nodes = scenario.read_cluster(bundled("mixed-cluster.yaml"), PROFILES)
    workload = scenario.read_workload(bundled("mixed-workload.yaml"))
    workload = workload.model_copy(update={"jobs": 150})
    neutral, locked = vendor_lock.compare(nodes, workload, exchange, seed=0)
    assert neutral.policy.startswith("hcs")
    assert neutral.placed + neutral.failed == locked.placed + locked.failed == 150
    assert neutral.delay(0.5) <= locked.delay(0.5)
    assert neutral.utilisation >= locked.utilisation


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "nodes:\n  - {name: x, model: H1000, devices: 8}\n",
            r"nodes\[0\] \(x\): unknown model 'H1000'",
        ),
        (
            "nodes:\n  - {name: x, model: T4}\n",
            "nodes.0.devices: Field required|nodes\\[0\\].devices: Field required",
        ),
        ("nodes: []\n", "nodes: List should have at least 1 item"),
        ("nodes:\n  - {name: x, model: Hygon-Z100, devices: 8}\n", "Hygon-Z100 has no known VRAM"),
    ],
    ids=["unknown-model", "missing-field", "empty", "model-without-vram"],
)
def test_bad_cluster_files_name_the_problem(tmp_path, text, message):
    path = tmp_path / "cluster.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        scenario.read_cluster(path, PROFILES)
