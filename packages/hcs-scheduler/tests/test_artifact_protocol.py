"""The FGD artifact's protocol: whole list shuffled, sized to 130 %, 100 % value averaged."""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import pytest

from hcs_scheduler.sim import artifact_protocol
from hcs_scheduler.sim.artifact_protocol import ArtifactCurve, at_hundred, gpu_milli, sequence
from hcs_scheduler.sim.openb import TraceTask

BENCH = Path(__file__).absolute().parents[3] / "bench" / "openb_compare.py"


def task(name: str, num_gpu: int = 1, gpu_milli: int = 1000) -> TraceTask:
    return TraceTask(
        name=name,
        cpu_milli=0,
        memory_mib=0,
        num_gpu=num_gpu,
        gpu_milli=gpu_milli if num_gpu else 0,
        gpu_spec=(),
    )


def mixed_list(count: int) -> list[TraceTask]:
    shapes = [(1, 500), (1, 250), (1, 1000), (2, 1000), (0, 0)]
    return [task(f"t{i}", *shapes[i % len(shapes)]) for i in range(count)]


def test_a_short_list_is_shuffled_whole_then_topped_up_to_130_percent() -> None:
    tasks = mixed_list(10)  # 10 tasks ask for 9.5 GPUs; 130 % of 20 GPUs is 26
    order = sequence(tasks, capacity=20, seed=4)
    assert sorted(order[:10]) == list(range(10))
    assert order[:10] != list(range(10))
    total = sum(gpu_milli(tasks[i]) for i in order)
    assert 26_000 - 2_000 < total <= 26_000
    assert len(order) > 10


def test_a_long_list_is_thinned_at_random_to_130_percent() -> None:
    tasks = mixed_list(100)  # 95 GPUs asked for; 130 % of 10 GPUs is 13
    order = sequence(tasks, capacity=10, seed=4)
    assert len(set(order)) == len(order)
    total = sum(gpu_milli(tasks[i]) for i in order)
    assert 13_000 - 2_000 < total <= 13_000
    assert order != sorted(order)


@pytest.mark.parametrize(("count", "capacity"), [(10, 20), (100, 10)], ids=["topped", "thinned"])
def test_the_sequence_is_deterministic_per_seed_and_differs_across_seeds(
    count: int, capacity: int
) -> None:
    tasks = mixed_list(count)
    assert sequence(tasks, capacity, seed=1) == sequence(tasks, capacity, seed=1)
    assert sequence(tasks, capacity, seed=1) != sequence(tasks, capacity, seed=2)


def test_a_list_without_gpu_tasks_is_only_shuffled() -> None:
    tasks = [task(f"c{i}", num_gpu=0) for i in range(6)]
    assert sorted(sequence(tasks, capacity=8, seed=0)) == list(range(6))


def test_the_inflation_ratio_is_the_artifacts() -> None:
    tasks = [task(f"s{i}", gpu_milli=100) for i in range(5)]
    assert len(sequence(tasks, capacity=10, seed=0)) == 130


def test_the_value_at_100_is_the_mean_over_arrivals_rounding_to_100(make_node) -> None:
    # 10 GPUs, tasks of 0.04 GPU: each arrival adds 0.4 %; 99.6, 100.0 and 100.4 round to 100.
    nodes = [make_node("n", devices=10)]
    tasks = [task(f"s{i}", gpu_milli=40) for i in range(50)]
    (curve,) = artifact_protocol.run(nodes, tasks, ["best-fit"], seed=0)
    assert curve.placed == 250  # 13,000 milli arrived, 10,000 fit
    assert curve.failed == 75
    assert curve.arrived[-1] == pytest.approx(130.0)
    assert sorted(round(a, 1) for a, _, _ in curve.near_full) == [
        98.8,
        99.2,
        99.6,
        100.0,
        100.4,
        100.8,
        101.2,
    ]
    unallocated, fragmented = curve.at_full()
    assert unallocated == pytest.approx((0.4 + 0.0 + 0.0) / 3)
    assert curve.unallocated[-1] == pytest.approx(0.0)
    assert at_hundred(curve) == (unallocated, fragmented)


def test_stopping_after_full_keeps_the_value_at_100(make_node) -> None:
    nodes = [make_node("n", devices=10)]
    tasks = [task(f"s{i}", gpu_milli=40) for i in range(50)]
    (whole,) = artifact_protocol.run(nodes, tasks, ["best-fit"], seed=0)
    (cut,) = artifact_protocol.run(nodes, tasks, ["best-fit"], seed=0, stop_after_full=True)
    assert cut.at_full() == whole.at_full()
    assert cut.arrived[-1] == pytest.approx(101.2)  # 101.6 would round to 102
    assert cut.placed + cut.failed == 253


def test_up_to_full_cuts_before_the_first_arrival_past_101() -> None:
    tasks = [task("a", gpu_milli=500), task("b", num_gpu=2), task("c")]
    # 10 GPUs: 5 %, 25 %, ... the third "b" brings 100 % -> 120 %: cut before it.
    order = [1, 1, 1, 1, 0, 1, 2]
    assert artifact_protocol.up_to_full(tasks, order, capacity=10) == [1, 1, 1, 1, 0]
    assert artifact_protocol.up_to_full(tasks, [0, 2], capacity=10) == [0, 2]


def test_halves_round_to_even_and_a_gap_at_100_falls_back_to_99_to_101() -> None:
    curve = ArtifactCurve(
        policy="p", near_full=[(99.5, 4.0, 1.0), (100.5, 2.0, 1.0), (101.5, 9.0, 0.0)]
    )
    assert at_hundred(curve) == (3.0, 1.0)  # 99.5 and 100.5 round to 100, 101.5 to 102
    gap = ArtifactCurve(policy="p", near_full=[(98.7, 6.0, 2.0), (101.2, 2.0, 0.0)])
    assert at_hundred(gap) == (4.0, 1.0)


def test_every_policy_sees_the_same_sequence(make_node) -> None:
    nodes = [make_node("a", devices=4), make_node("b", devices=4)]
    tasks = mixed_list(30)
    curves = artifact_protocol.run(nodes, tasks, ["best-fit", "random-fit"], seed=3)
    assert curves[0].placed + curves[0].failed == curves[1].placed + curves[1].failed
    assert curves[0].arrived[-1] == curves[1].arrived[-1]


def test_the_published_table_names_the_three_policies_for_every_list() -> None:
    table = artifact_protocol.PUBLISHED
    assert len(table) == 8
    for name, figures in table.items():
        assert {"random-fit", "best-fit", "fgd"} <= figures.keys(), name
        assert all(0.0 < v < 100.0 for v in figures.values()), name
        assert figures["fgd"] == min(figures.values()), name
    assert Counter(len(f) for f in table.values()) == {3: 7, 6: 1}
    assert artifact_protocol.published("default", "fgd-published") == 4.77
    assert artifact_protocol.published("gpushare20", "fgd") is None


def test_the_bench_prints_the_published_table() -> None:
    spec = importlib.util.spec_from_file_location("openb_compare", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.PUBLISHED["default"]["best-fit"] == 7.14
    row = module.summarise("multigpu50", {"fgd": [3.0, 2.5], "default": [2.0, 2.2]})
    assert row["worstSeed"]["fgd"] == 3.0
    assert row["spread"]["fgd"] == pytest.approx(0.5)
    assert row["published"] == {"fgd": 2.91, "default": None}
    assert row["meanMargin"] == pytest.approx(2.1 - 2.75)
    assert row["defaultMeetsBar"]


@pytest.mark.parametrize(
    ("default", "meets"),
    [
        ([2.6, 2.6], True),  # mean equal to the best baseline's, worst better
        ([2.0, 3.0], True),  # worst seed 0.1 above the best baseline's worst (2.9)
        ([2.0, 3.1], False),  # 0.2 above
        ([2.7, 2.7], False),  # mean behind
    ],
)
def test_the_bar_is_mean_at_most_best_and_worst_within_a_tenth(default, meets) -> None:
    module = _bench()
    runs = {"default": default, "fgd": [2.2, 3.0], "best-fit": [2.9, 2.9]}
    row = module.summarise("some-list", runs)
    assert row["bestBaseline"] == "fgd"
    assert row["bestWorstBaseline"] == "best-fit"
    assert row["defaultMeetsBar"] is meets


def test_bench_units_keep_one_file_per_policy_and_resume(tmp_path) -> None:
    module = _bench()
    units = module.Units(tmp_path, resume=False)
    units.save("artifact", "default", 3, {"fgd": 4.5, "default": 4.25})
    assert units.read("artifact", "default", 3, "fgd") == 4.5
    assert units.missing("artifact", "default", 3, ["fgd", "best-fit"]) == ["best-fit"]
    fresh = module.Units(tmp_path, resume=False)  # files from an earlier run are not reused
    assert fresh.missing("artifact", "default", 3, ["fgd"]) == ["fgd"]
    assert fresh.read("artifact", "default", 3, "fgd") is None
    resumed = module.Units(tmp_path, resume=True)
    assert resumed.read("artifact", "default", 3, "default") == 4.25
    assert module.parse_seeds("0-2,7") == [0, 1, 2, 7]


def _bench():
    spec = importlib.util.spec_from_file_location("openb_compare", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
