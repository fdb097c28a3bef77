"""Each checkpoint layout is taken or refused with the exact reason an operator reads."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from hcs_health.checkpoint import SMALL_FILE, Layout, scan


def whole_zip(path: Path) -> Path:
    """A complete archive as torch.save lays it out (its data.pkl under the file's stem)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{path.name.split('.')[0]}/data.pkl", b"\x80\x04N.")
    return path


def at(path: Path, mtime: float) -> Path:
    os.utime(path, (mtime, mtime), follow_symlinks=False)
    return path


def ds_tag(root: Path, tag: str, mtime: float) -> Path:
    whole_zip(root / tag / "mp_rank_00_model_states.pt")
    return at(root / tag, mtime)


def latest(root: Path, tag: bytes, mtime: float = 5000.0) -> Path:
    (root / "latest").write_bytes(tag)
    return at(root / "latest", mtime)


def taken(root: Path) -> dict[str, str]:
    return {c.path.name: c.reason for c in scan(root).complete}


def refused(root: Path) -> dict[str, str]:
    return {path.name: reason for path, reason in scan(root).rejected}


def test_deepspeed_reasons_for_the_named_tag_and_an_older_one(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("notes")  # sorts before the tags
    ds_tag(tmp_path, "global_step10", 1000)
    ds_tag(tmp_path, "global_step20", 2000)
    latest(tmp_path, b"global_step20\n")
    assert taken(tmp_path) == {
        "global_step10": "older than global_step20; model_states zips whole",
        "global_step20": "named by 'latest'; model_states zips whole",
    }
    assert refused(tmp_path) == {}
    assert scan(tmp_path).chosen.layout is Layout.DEEPSPEED  # type: ignore[union-attr]


def test_deepspeed_newer_is_judged_by_step_when_both_have_one(tmp_path: Path) -> None:
    ds_tag(tmp_path, "global_step20", 2000)
    ds_tag(tmp_path, "global_step30", 1000)  # older mtime, but a later step: in progress
    ds_tag(tmp_path, "global_step_20", 9000)  # same step as latest: not newer
    latest(tmp_path, b"global_step20", 5000)
    assert set(taken(tmp_path)) == {"global_step20", "global_step_20"}
    assert "written after 'latest'" in refused(tmp_path)["global_step30"]


def test_deepspeed_custom_tag_at_the_same_mtime_as_latest_is_older(tmp_path: Path) -> None:
    ds_tag(tmp_path, "warmup", 5000)
    ds_tag(tmp_path, "finetune", 5000)
    latest(tmp_path, b"global_step20", 5000)
    (tmp_path / "global_step20").mkdir()
    whole_zip(tmp_path / "global_step20" / "mp_rank_00_model_states.pt")
    assert taken(tmp_path) == {
        "finetune": "older than global_step20; model_states zips whole",
        "global_step20": "named by 'latest'; model_states zips whole",
        "warmup": "older than global_step20; model_states zips whole",
    }


def test_deepspeed_tag_named_by_latest_without_model_states(tmp_path: Path) -> None:
    (tmp_path / "global_step20").mkdir()
    latest(tmp_path, b"global_step20")
    assert refused(tmp_path) == {"global_step20": "holds no *model_states.pt"}


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"..", "names no usable tag ('..')"),
        (b"global_step\xff", "named by 'latest' but missing"),
    ],
    ids=["dot-dot", "not-utf8"],
)
def test_deepspeed_latest_naming_nothing_usable(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    latest(tmp_path, content)
    assert reason in refused(tmp_path).values()


def test_deepspeed_tag_symlink_and_temporary_dirs_are_not_judged_as_tags(tmp_path: Path) -> None:
    ds_tag(tmp_path, "global_step10", 1000)
    outside = ds_tag(tmp_path / "elsewhere", "global_step5", 500)
    (tmp_path / "global_step8").symlink_to(outside, target_is_directory=True)
    ds_tag(tmp_path, "global_step9.tmp", 900)
    latest(tmp_path, b"global_step10")
    assert set(taken(tmp_path)) == {"global_step10"}
    reasons = refused(tmp_path)
    assert reasons["global_step8"].startswith("symlink, not followed")
    assert reasons["global_step9.tmp"].startswith("temporary name")


@pytest.mark.parametrize("marker", ["latest", "latest_checkpointed_iteration.txt"])
def test_an_oversized_marker_file_is_refused_naming_why(tmp_path: Path, marker: str) -> None:
    with (tmp_path / marker).open("wb") as handle:
        handle.truncate(SMALL_FILE + 1)  # sparse: a corrupt or wrong file, not a tag
    assert refused(tmp_path) == {marker: f"cannot read: larger than {SMALL_FILE} bytes"}


TRACKER = "latest_checkpointed_iteration.txt"


def mg_iter(root: Path, name: str, ranks: int = 2) -> Path:
    for rank in range(ranks):
        whole_zip(root / name / f"mp_rank_{rank:02d}" / "model_optim_rng.pt")
    return root / name


def tracker(root: Path, text: str) -> None:
    (root / TRACKER).write_text(text)


def test_megatron_reasons_for_the_named_iteration_and_an_older_one(tmp_path: Path) -> None:
    mg_iter(tmp_path, "iter_0000100")
    mg_iter(tmp_path, "iter_0000200")
    (tmp_path / "logs").mkdir()  # not an iteration: neither judged nor refused
    tracker(tmp_path, "200\n")
    assert taken(tmp_path) == {
        "iter_0000100": "older than iter_0000200; every rank's file whole",
        "iter_0000200": "named by the tracker; every rank's file whole",
    }
    assert refused(tmp_path) == {}


@pytest.mark.parametrize(
    ("text", "name", "reason"),
    [
        ("abc", TRACKER, "holds 'abc', not an iteration or 'release'"),
        ("300", "iter_0000300", f"named by {TRACKER} but missing"),
    ],
    ids=["not-a-number", "names-a-missing-iteration"],
)
def test_megatron_tracker_naming_nothing_usable(
    tmp_path: Path, text: str, name: str, reason: str
) -> None:
    mg_iter(tmp_path, "iter_0000100")
    tracker(tmp_path, text)
    assert refused(tmp_path)[name] == reason


def test_megatron_release_directory_beside_an_iteration_tracker_counts_as_older(
    tmp_path: Path,
) -> None:
    mg_iter(tmp_path, "iter_0000000")
    mg_iter(tmp_path, "release")
    tracker(tmp_path, "0")
    assert taken(tmp_path)["release"] == "older than iter_0000000; every rank's file whole"


def test_megatron_symlinked_iteration_is_not_followed(tmp_path: Path) -> None:
    mg_iter(tmp_path, "iter_0000100")
    outside = mg_iter(tmp_path / "elsewhere", "iter_0000200")
    (tmp_path / "iter_0000200").symlink_to(outside, target_is_directory=True)
    tracker(tmp_path, "100")
    assert set(taken(tmp_path)) == {"iter_0000100"}
    assert refused(tmp_path)["iter_0000200"].startswith("symlink, not followed")


def rank_problem(root: Path) -> str:
    tracker(root, "100")
    return refused(root)["iter_0000100"]


def test_megatron_rank_file_cut_short_is_named(tmp_path: Path) -> None:
    it = mg_iter(tmp_path, "iter_0000100")
    (it / "mp_rank_01" / "model_optim_rng.pt").write_bytes(b"PK\x03\x04")
    assert rank_problem(tmp_path).startswith(
        "mp_rank_01/model_optim_rng.pt: no readable zip central directory"
    )


def test_megatron_only_mp_rank_directories_are_ranks(tmp_path: Path) -> None:
    it = mg_iter(tmp_path, "iter_0000100", ranks=0)
    (it / "extra").mkdir(parents=True)
    outside = mg_iter(tmp_path / "elsewhere", "x", ranks=1) / "mp_rank_00"
    (it / "mp_rank_00").symlink_to(outside, target_is_directory=True)
    assert rank_problem(tmp_path) == "holds no mp_rank_* directory"


def test_megatron_torch_dist_iteration_without_metadata_says_so(tmp_path: Path) -> None:
    it = tmp_path / "iter_0000100"
    it.mkdir()
    (it / "__0_0.distcp").write_bytes(b"shard")
    assert rank_problem(tmp_path) == "torch_dist shards but no .metadata yet"


def test_dcp_reasons_count_the_shards(tmp_path: Path) -> None:
    for step, marker in ((10, "file"), (20, None), (30, "symlink")):
        folder = tmp_path / f"step-{step}"
        folder.mkdir()
        for rank in range(3):
            (folder / f"__{rank}_0.distcp").write_bytes(b"shard")
        (folder / "notes.txt").write_text("not a shard")
        if marker == "file":
            (folder / ".metadata").write_bytes(b"meta")
        elif marker == "symlink":
            (folder / ".metadata").symlink_to(tmp_path / "step-10" / ".metadata")
    assert taken(tmp_path) == {"step-10": ".metadata present over 3 .distcp shards"}
    no_marker = "3 .distcp shards but no .metadata: torch.distributed.checkpoint writes it last"
    assert refused(tmp_path) == {"step-20": no_marker, "step-30": no_marker}


def test_hf_checkpoint_directory_without_trainer_state(tmp_path: Path) -> None:
    whole_zip(tmp_path / "checkpoint-5" / "pytorch_model.bin")
    assert refused(tmp_path) == {
        "checkpoint-5": "no trainer_state.json object: the Trainer writes it last"
    }


def test_megatron_tracker_that_is_not_utf8_is_refused_naming_its_text(tmp_path: Path) -> None:
    (tmp_path / TRACKER).write_bytes(b"1\xff0")
    assert refused(tmp_path) == {TRACKER: "holds '1\ufffd0', not an iteration or 'release'"}


def test_hf_step_comes_from_the_directory_name_before_trainer_state(tmp_path: Path) -> None:
    folder = tmp_path / "checkpoint-500"
    whole_zip(folder / "pytorch_model.bin")
    (folder / "trainer_state.json").write_text('{"global_step": 499}')
    [found] = scan(tmp_path).complete
    assert (found.step, found.reason) == (500, "trainer_state.json parses; weights whole")
