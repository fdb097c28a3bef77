"""The scan's edges: entry budget, unreadable parts, ordering, HF shard indexes, names, symlinks."""

from __future__ import annotations

import json
import os
import struct
import zipfile
from pathlib import Path

import pytest

from hcs_health import checkpoint
from hcs_health.checkpoint import SMALL_FILE, Checkpoint, Layout, choose, parse_step, scan


def whole_zip(path: Path) -> Path:
    """A complete archive as torch.save lays it out (its data.pkl under the file's stem)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{path.name.split('.')[0]}/data.pkl", b"\x80\x04N.")
    return path


def safetensors(path: Path) -> Path:
    header = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(struct.pack("<Q", len(header)) + header + bytes(16))
    return path


def refused(root: Path, **kwargs: int) -> dict[str, str]:
    return {path.name: reason for path, reason in scan(root, **kwargs).rejected}


def test_the_budget_covers_exactly_max_entries(tmp_path: Path) -> None:
    for name in ("a.pt", "b.pt", "c.pt"):
        whole_zip(tmp_path / name)
    assert refused(tmp_path, max_entries=3) == {}
    assert len(scan(tmp_path, max_entries=3).complete) == 3
    result = scan(tmp_path, max_entries=2)
    assert result.rejected == [
        (
            tmp_path,
            "scan stopped after 2 entries in all; the rest of this directory was not examined",
        )
    ]
    assert len(result.complete) == 2


def test_an_unlistable_subdirectory_is_refused_and_the_scan_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole_zip(tmp_path / "step-1.pt")
    (tmp_path / "checkpoint-2").mkdir()
    real = os.scandir

    def scandir(path: Path) -> object:
        if Path(path).name == "checkpoint-2":
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(checkpoint.os, "scandir", scandir)
    result = scan(tmp_path)
    assert [c.path.name for c in result.complete] == ["step-1.pt"]
    assert (tmp_path / "checkpoint-2", "cannot list: Permission denied") in result.rejected


def test_a_missing_directory_error_names_it_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(checkpoint.CheckpointError) as caught:
        scan(tmp_path / "gone")
    assert (
        str(caught.value) == f"checkpoint directory {tmp_path / 'gone'}: No such file or directory"
    )


def test_a_checkpoint_that_vanishes_before_its_mtime_is_read_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole_zip(tmp_path / "step-1.pt")

    def lstat_mtime(path: Path) -> float:
        raise FileNotFoundError(2, "No such file or directory")

    monkeypatch.setattr(checkpoint, "_lstat_mtime", lstat_mtime)
    assert refused(tmp_path) == {
        "step-1.pt": "vanished during the scan (No such file or directory)"
    }


def test_a_torch_file_is_taken_with_its_mtime_and_reason(tmp_path: Path) -> None:
    path = whole_zip(tmp_path / "step-3.pt")
    os.utime(path, (1000.0, 1000.0))
    assert scan(tmp_path).chosen == Checkpoint(
        path, Layout.PYTORCH_FILE, 3, 1000.0,
        "torch.save zip: central directory and member sizes intact",
    )  # fmt: skip


def test_complete_checkpoints_are_listed_by_path(tmp_path: Path) -> None:
    whole_zip(tmp_path / "global_step10" / "mp_rank_00_model_states.pt")
    (tmp_path / "latest").write_text("global_step10")
    whole_zip(tmp_path / "a.pt")
    assert [c.path.name for c in scan(tmp_path).complete] == ["a.pt", "global_step10"]


def test_a_directory_named_like_a_torch_file_is_judged_as_a_directory(tmp_path: Path) -> None:
    folder = tmp_path / "step-4.pt"
    folder.mkdir()
    (folder / "__0_0.distcp").write_bytes(b"shard")
    (folder / ".metadata").write_bytes(b"meta")
    chosen = scan(tmp_path).chosen
    assert chosen is not None
    assert chosen.layout is Layout.TORCH_DCP


@pytest.mark.parametrize("marker", ["latest", "latest_checkpointed_iteration.txt"])
def test_a_symlinked_commit_marker_is_not_trusted(tmp_path: Path, marker: str) -> None:
    whole_zip(tmp_path / "global_step10" / "mp_rank_00_model_states.pt")
    whole_zip(tmp_path / "iter_0000010" / "mp_rank_00" / "model_optim_rng.pt")
    real = tmp_path / "elsewhere" / "marker"
    real.parent.mkdir()
    real.write_text("global_step10" if marker == "latest" else "10")
    (tmp_path / marker).symlink_to(real)
    reasons = refused(tmp_path)
    assert scan(tmp_path).chosen is None
    assert reasons[marker].startswith("symlink, not followed")
    assert reasons["global_step10"] == (
        "DeepSpeed tag directory but no 'latest' file names it "
        "(a first save in progress, or saved with save_latest=False)"
    )
    assert reasons["iter_0000010"] == (
        "Megatron iteration directory but no latest_checkpointed_iteration.txt"
    )


def hf(root: Path, name: str, step: int = 5) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    return folder


def test_hf_directory_with_any_name_is_judged_by_its_trainer_state(tmp_path: Path) -> None:
    safetensors(hf(tmp_path, "final", step=9) / "model.safetensors")
    chosen = scan(tmp_path).chosen
    assert chosen is not None
    assert (chosen.path.name, chosen.layout, chosen.step) == ("final", Layout.HF_TRAINER, 9)


def sharded(folder: Path, shards: list[str]) -> None:
    index = {"weight_map": {f"layer.{i}": shard for i, shard in enumerate(shards)}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))


def test_hf_sharded_weights_are_each_checked(tmp_path: Path) -> None:
    whole = hf(tmp_path, "checkpoint-1")
    names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    for name in names:
        safetensors(whole / name)
    sharded(whole, [names[0], names[1], names[1]])
    missing = hf(tmp_path, "checkpoint-2")
    safetensors(missing / names[0])
    sharded(missing, names)
    cut = hf(tmp_path, "checkpoint-3")
    safetensors(cut / names[0])
    (cut / names[1]).write_bytes(b"\x08")
    sharded(cut, names)
    adapter = hf(tmp_path, "checkpoint-4")
    (adapter / "adapter_model.safetensors").write_bytes(b"\x08")
    safetensors(adapter / names[0])
    sharded(adapter, names[:1])
    (hf(tmp_path, "checkpoint-5") / "model.safetensors.index.json").write_text('{"shards": []}')
    hf(tmp_path, "checkpoint-6")
    result = scan(tmp_path)
    assert [c.path.name for c in result.complete] == ["checkpoint-1"]
    reasons = {path.name: reason for path, reason in result.rejected}
    assert reasons["checkpoint-2"] == f"weights file {names[1]} is missing"
    assert reasons["checkpoint-3"].startswith(f"{names[1]}: header length ")
    assert reasons["checkpoint-4"].startswith("adapter_model.safetensors: header length ")
    assert reasons["checkpoint-5"] == "model.safetensors.index.json does not parse"
    assert reasons["checkpoint-6"] == (
        "no model weights (model.safetensors, pytorch_model.bin or a shard index)"
    )


def test_a_trainer_state_of_exactly_the_size_limit_is_read(tmp_path: Path) -> None:
    folder = tmp_path / "checkpoint-7"
    folder.mkdir()
    text = json.dumps({"global_step": 7})
    (folder / "trainer_state.json").write_text(text + " " * (SMALL_FILE - len(text)))
    safetensors(folder / "model.safetensors")
    assert [c.path.name for c in scan(tmp_path).complete] == ["checkpoint-7"]


def test_a_file_named_by_its_step_alone() -> None:
    assert parse_step("500.pt") == 500


def _ck(name: str, step: int | None, mtime: float) -> Checkpoint:
    return Checkpoint(Path(name), Layout.PYTORCH_FILE, step, mtime, "test")


def test_choose_step_one_beats_a_newer_step_zero_and_ties_go_to_the_path() -> None:
    assert choose([_ck("a", 0, 9.0), _ck("b", 1, 1.0)]) == _ck("b", 1, 1.0)
    assert choose([_ck("a", 5, 1.0), _ck("b", 5, 1.0)]) == _ck("b", 5, 1.0)
