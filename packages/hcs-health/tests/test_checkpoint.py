"""The checkpoint finder picks the newest COMPLETE checkpoint of each layout, never a partial."""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from hcs_health.checkpoint import (
    Checkpoint,
    Layout,
    choose,
    find_newest,
    parse_step,
    safetensors_problem,
    scan,
    zip_problem,
)
from hcs_health.errors import CheckpointError


class _Unseekable(io.RawIOBase):
    """A sink zipfile cannot seek, so it writes data descriptors (flag bit 3) as torch does."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: bytes) -> int:  # type: ignore[override]
        self.data += b
        return len(b)


def torch_zip(path: Path, *, tensors: int = 2, descriptor: bool = False) -> Path:
    """Lays a file out as torch.save does (torch/serialization.py `_save` plus the C++ writer):
    stored members under the file's stem, data.pkl first, storages as data/<key>, version last."""
    prefix = path.name.split(".")[0]
    records = [
        ("data.pkl", pickle.dumps({"model": {f"w{i}": f"storage {i}" for i in range(tensors)}})),
        (".format_version", b"1"),
        (".storage_alignment", b"64"),
        ("byteorder", b"little"),
        *[(f"data/{i}", struct.pack("<16f", *range(16))) for i in range(tensors)],
        ("version", b"3\n"),
        (".data/serialization_id", b"0" * 40),
    ]
    sink = _Unseekable() if descriptor else io.BytesIO()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED) as archive:
        for name, data in records:
            archive.writestr(f"{prefix}/{name}", data)
    raw = sink.data if isinstance(sink, _Unseekable) else sink.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(raw))
    return path


def truncated(path: Path, keep: float = 0.5) -> Path:
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * keep)])
    return path


def safetensors(path: Path, *, cut: int = 0) -> Path:
    header = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode()
    raw = struct.pack("<Q", len(header)) + header + bytes(16)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw[: len(raw) - cut])
    return path


def at(path: Path, mtime: float) -> Path:
    os.utime(path, (mtime, mtime), follow_symlinks=False)
    return path


def reasons(result_rejected: list[tuple[Path, str]], path: Path) -> str:
    return " | ".join(reason for p, reason in result_rejected if p == path)


@pytest.mark.parametrize("descriptor", [False, True], ids=["local-sizes", "data-descriptor"])
@pytest.mark.parametrize("keep", [0.0, 0.3, 0.9, 0.999], ids=["empty", "30pc", "90pc", "last-byte"])
def test_a_truncated_torch_zip_is_refused(tmp_path: Path, descriptor: bool, keep: float) -> None:
    whole = torch_zip(tmp_path / "step-1.pt", descriptor=descriptor)
    assert zip_problem(whole) is None
    cut = truncated(torch_zip(tmp_path / "step-2.pt", descriptor=descriptor), keep)
    assert "central directory" in (zip_problem(cut) or "")


@pytest.mark.parametrize("shifted", [True, False], ids=["bytes-lost", "header-overwritten"])
def test_a_torn_zip_whose_central_directory_survived_is_refused(
    tmp_path: Path, shifted: bool
) -> None:
    path = torch_zip(tmp_path / "step-1.pt", descriptor=True)
    raw = path.read_bytes()
    with zipfile.ZipFile(path) as archive:
        second = archive.infolist()[1].header_offset
    if shifted:  # 40 bytes of one member lost, the rest (central directory too) moved up
        path.write_bytes(raw[:100] + raw[140:])
    else:  # a block of zeros where the second member's local header was
        path.write_bytes(raw[:second] + bytes(30) + raw[second + 30 :])
    assert "torn write" in (zip_problem(path) or "")


def test_a_data_descriptor_that_disagrees_with_the_central_directory_is_refused(
    tmp_path: Path,
) -> None:
    path = torch_zip(tmp_path / "step-1.pt", tensors=1, descriptor=True)
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("step-1/data/0")
    end = info.header_offset + 30 + len(info.filename) + len(info.extra) + info.compress_size
    struct.pack_into("<I", raw, end + 8, info.compress_size - 4)  # descriptor's compressed size
    path.write_bytes(bytes(raw))
    assert "data descriptor sizes" in (zip_problem(path) or "")


def test_a_zip_without_data_pkl_is_not_a_torch_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "notes.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes/readme.txt", "hello")
    assert "data.pkl" in (zip_problem(path) or "")


def test_newest_complete_file_is_chosen_over_a_newer_partial(tmp_path: Path) -> None:
    at(torch_zip(tmp_path / "step-10.pt"), 1000)
    at(torch_zip(tmp_path / "step-20.pt"), 2000)
    partial = at(truncated(torch_zip(tmp_path / "step-30.pt")), 3000)
    result = scan(tmp_path)
    assert result.chosen is not None
    assert (result.chosen.path, result.chosen.layout, result.chosen.step) == (
        tmp_path / "step-20.pt",
        Layout.PYTORCH_FILE,
        20,
    )
    assert "central directory" in reasons(result.rejected, partial)
    assert [c.path.name for c in result.complete] == ["step-10.pt", "step-20.pt"]


@pytest.mark.parametrize("name", ["step-20.pt.tmp", "step-20.pt.partial", "step-20.tmp"])
def test_a_file_being_written_under_a_temporary_name_is_never_chosen(
    tmp_path: Path, name: str
) -> None:
    torch_zip(tmp_path / "step-10.pt")
    being_written = at(torch_zip(tmp_path / name), 9999)  # even whole, it is not committed
    result = scan(tmp_path)
    assert result.chosen is not None
    assert result.chosen.path.name == "step-10.pt"
    assert "temporary name" in reasons(result.rejected, being_written)


def test_lightning_ckpt_and_pth_files_are_judged_like_pt(tmp_path: Path) -> None:
    torch_zip(tmp_path / "epoch=1-step=300.ckpt")
    torch_zip(tmp_path / "model-step-200.pth")
    chosen = find_newest(tmp_path)
    assert chosen is not None
    assert (chosen.path.name, chosen.step) == ("epoch=1-step=300.ckpt", 300)


def test_a_legacy_non_zip_torch_file_is_refused_with_a_reason(tmp_path: Path) -> None:
    legacy = tmp_path / "step-5.pt"
    legacy.write_bytes(pickle.dumps({"weights": [1.0, 2.0]}))
    result = scan(tmp_path)
    assert result.chosen is None
    assert "central directory" in reasons(result.rejected, legacy)


def _deepspeed_tag(root: Path, tag: str, mtime: float, *, partial: bool = False) -> Path:
    tag_dir = root / tag
    torch_zip(tag_dir / "mp_rank_00_model_states.pt")
    optim = torch_zip(tag_dir / "zero_pp_rank_0_mp_rank_00_optim_states.pt")
    model = tag_dir / "zero_pp_rank_0_mp_rank_00_model_states.pt"
    torch_zip(model)
    if partial:
        truncated(model)
    for path in (optim, model, tag_dir / "mp_rank_00_model_states.pt", tag_dir):
        at(path, mtime)
    return tag_dir


def _latest(root: Path, tag: str, mtime: float) -> None:
    (root / "latest").write_text(tag)
    at(root / "latest", mtime)


def test_deepspeed_tag_written_after_latest_is_not_chosen(tmp_path: Path) -> None:
    _deepspeed_tag(tmp_path, "global_step10", 1000)
    _deepspeed_tag(tmp_path, "global_step20", 2000)
    _latest(tmp_path, "global_step20", 2001)
    in_progress = _deepspeed_tag(tmp_path, "global_step30", 3000)  # whole files, no commit yet
    result = scan(tmp_path)
    assert result.chosen is not None
    assert (result.chosen.path, result.chosen.layout, result.chosen.step) == (
        tmp_path / "global_step20",
        Layout.DEEPSPEED,
        20,
    )
    assert "written after 'latest'" in reasons(result.rejected, in_progress)


def test_deepspeed_custom_tags_newer_than_latest_by_mtime_are_not_chosen(tmp_path: Path) -> None:
    _deepspeed_tag(tmp_path, "warmup", 1000)
    _latest(tmp_path, "warmup", 1001)
    in_progress = _deepspeed_tag(tmp_path, "finetune", 2000)
    result = scan(tmp_path)
    assert result.chosen is not None
    assert result.chosen.path.name == "warmup"
    assert "a save in progress" in reasons(result.rejected, in_progress)


def test_deepspeed_falls_back_when_the_latest_tag_is_broken_or_missing(tmp_path: Path) -> None:
    _deepspeed_tag(tmp_path, "global_step10", 1000)
    broken = _deepspeed_tag(tmp_path, "global_step20", 2000, partial=True)
    _latest(tmp_path, "global_step20", 2001)
    result = scan(tmp_path)
    assert result.chosen is not None
    assert result.chosen.path.name == "global_step10"
    assert "zero_pp_rank_0_mp_rank_00_model_states.pt" in reasons(result.rejected, broken)
    _latest(tmp_path, "global_step40", 4001)
    result = scan(tmp_path)
    assert "named by 'latest' but missing" in reasons(result.rejected, tmp_path / "global_step40")


def test_deepspeed_tags_without_a_latest_file_are_not_trusted(tmp_path: Path) -> None:
    tag = _deepspeed_tag(tmp_path, "global_step10", 1000)
    result = scan(tmp_path)
    assert result.chosen is None
    assert "no 'latest' file" in reasons(result.rejected, tag)


@pytest.mark.parametrize("tag", ["../elsewhere", "", "."], ids=["escape", "empty", "dot"])
def test_a_latest_file_naming_no_usable_tag_is_refused(tmp_path: Path, tag: str) -> None:
    _latest(tmp_path, tag, 1000)
    result = scan(tmp_path)
    assert result.chosen is None
    assert "no usable tag" in reasons(result.rejected, tmp_path / "latest")


def _megatron_iter(root: Path, iteration: int, ranks: int = 2, *, partial: bool = False) -> Path:
    it_dir = root / f"iter_{iteration:07d}"
    for rank in range(ranks):
        torch_zip(it_dir / f"mp_rank_{rank:02d}" / "model_optim_rng.pt", descriptor=True)
    if partial:
        truncated(it_dir / f"mp_rank_{ranks - 1:02d}" / "model_optim_rng.pt")
    return it_dir


def _tracker(root: Path, text: str) -> None:
    (root / "latest_checkpointed_iteration.txt").write_text(text)


def test_megatron_partial_iteration_newer_than_the_tracker_is_refused(tmp_path: Path) -> None:
    _megatron_iter(tmp_path, 100)
    _megatron_iter(tmp_path, 200)
    _tracker(tmp_path, "200")
    partial = _megatron_iter(tmp_path, 300, partial=True)
    result = scan(tmp_path)
    assert result.chosen is not None
    assert (result.chosen.path, result.chosen.layout, result.chosen.step) == (
        tmp_path / "iter_0000200",
        Layout.MEGATRON,
        200,
    )
    assert "newer than latest_checkpointed_iteration.txt" in reasons(result.rejected, partial)


def test_megatron_iteration_missing_a_rank_file_falls_back_to_an_older_one(tmp_path: Path) -> None:
    _megatron_iter(tmp_path, 100)
    broken = _megatron_iter(tmp_path, 200)
    (broken / "mp_rank_01" / "model_optim_rng.pt").unlink()
    _tracker(tmp_path, "200")
    result = scan(tmp_path)
    assert result.chosen is not None
    assert result.chosen.step == 100
    assert "mp_rank_01 holds no model_optim_rng.pt" in reasons(result.rejected, broken)


@pytest.mark.parametrize(
    ("metadata", "chosen"), [(True, "iter_0000050"), (False, None)], ids=["whole", "no-metadata"]
)
def test_megatron_torch_dist_iteration_needs_its_metadata(
    tmp_path: Path, metadata: bool, chosen: str | None
) -> None:
    it_dir = tmp_path / "iter_0000050"
    it_dir.mkdir()
    (it_dir / "__0_0.distcp").write_bytes(b"shard")
    (it_dir / "common.pt").write_bytes(b"x")
    if metadata:
        (it_dir / ".metadata").write_bytes(b"meta")
    _tracker(tmp_path, "50")
    found = find_newest(tmp_path)
    assert (found.path.name if found else None) == chosen


def test_megatron_release_tracker_names_the_release_directory(tmp_path: Path) -> None:
    torch_zip(tmp_path / "release" / "mp_rank_00" / "model_optim_rng.pt")
    in_progress = _megatron_iter(tmp_path, 10)
    _tracker(tmp_path, "release")
    result = scan(tmp_path)
    assert result.chosen is not None
    assert result.chosen.path.name == "release"
    assert "a save in progress" in reasons(result.rejected, in_progress)


def _dcp(path: Path, *, metadata: bool) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for rank in range(2):
        (path / f"__{rank}_0.distcp").write_bytes(b"shard")
    if metadata:
        (path / ".metadata").write_bytes(b"meta")
    return path


def test_dcp_without_metadata_is_refused(tmp_path: Path) -> None:
    _dcp(tmp_path / "step-10", metadata=True)
    partial = _dcp(tmp_path / "step-20", metadata=False)
    result = scan(tmp_path)
    assert result.chosen is not None
    assert (result.chosen.path.name, result.chosen.layout) == ("step-10", Layout.TORCH_DCP)
    assert "no .metadata" in reasons(result.rejected, partial)


@pytest.mark.parametrize("metadata", [True, False], ids=["whole", "no-metadata"])
def test_the_directory_itself_may_be_a_dcp_checkpoint(tmp_path: Path, metadata: bool) -> None:
    root = _dcp(tmp_path / "step-7", metadata=metadata)
    found = find_newest(root)
    assert ((found.path, found.step) if found else None) == ((root, 7) if metadata else None)


def _hf(root: Path, step: int, *, state: str | None = None, weights: str = "safetensors") -> Path:
    ckpt = root / f"checkpoint-{step}"
    if weights == "safetensors":
        safetensors(ckpt / "model.safetensors")
    else:
        torch_zip(ckpt / "pytorch_model.bin")
    torch_zip(ckpt / "optimizer.pt")
    if state is None:
        state = json.dumps({"global_step": step, "log_history": []})
    (ckpt / "trainer_state.json").write_text(state)
    return ckpt


@pytest.mark.parametrize(
    ("break_it", "reason"),
    [
        (lambda c: (c / "trainer_state.json").unlink(), "trainer_state.json"),
        (lambda c: (c / "trainer_state.json").write_text('{"global_step": 2'), "does not parse"),
        (lambda c: safetensors(c / "model.safetensors", cut=3), "truncated"),
        (lambda c: (c / "model.safetensors").unlink(), "no model weights"),
    ],
    ids=["no-state", "state-cut", "weights-cut", "no-weights"],
)
def test_hf_trainer_checkpoint_needs_state_and_whole_weights(
    tmp_path: Path, break_it: Callable[[Path], object], reason: str
) -> None:
    _hf(tmp_path, 100, weights="bin")
    newer = _hf(tmp_path, 200)
    break_it(newer)
    result = scan(tmp_path)
    assert result.chosen is not None
    assert (result.chosen.path.name, result.chosen.layout) == ("checkpoint-100", Layout.HF_TRAINER)
    assert reason in reasons(result.rejected, newer)


def test_safetensors_check_accepts_whole_and_refuses_cut_files(tmp_path: Path) -> None:
    assert safetensors_problem(safetensors(tmp_path / "a.safetensors")) is None
    assert "truncated" in (
        safetensors_problem(safetensors(tmp_path / "b.safetensors", cut=1)) or ""
    )
    assert "truncated" in (
        safetensors_problem(safetensors(tmp_path / "c.safetensors", cut=40)) or ""
    )


def test_empty_directory_has_no_checkpoint(tmp_path: Path) -> None:
    assert find_newest(tmp_path) is None
    assert scan(tmp_path).rejected == []


@pytest.mark.parametrize(
    ("make", "errno_text"),
    [(lambda p: p, "No such file or directory"), (lambda p: p.write_text("x"), "Not a directory")],
    ids=["missing", "a-file"],
)
def test_an_unreadable_directory_raises_naming_it(
    tmp_path: Path, make: Callable[[Path], object], errno_text: str
) -> None:
    target = tmp_path / "job-ckpt"
    make(target)
    with pytest.raises(CheckpointError, match=f"{target}.*{errno_text}"):
        find_newest(target)


def test_symlinks_out_of_the_directory_are_not_followed(tmp_path: Path) -> None:
    outside = torch_zip(tmp_path / "elsewhere" / "step-999.pt")
    job = tmp_path / "job"
    torch_zip(job / "step-1.pt")
    (job / "step-999.pt").symlink_to(outside)
    (job / "iter_0000999").symlink_to(outside.parent, target_is_directory=True)
    result = scan(job)
    assert result.chosen is not None
    assert result.chosen.path == job / "step-1.pt"
    assert "symlink, not followed" in reasons(result.rejected, job / "step-999.pt")


def test_the_scan_stops_at_its_entry_cap_and_says_so(tmp_path: Path) -> None:
    for i in range(10):
        (tmp_path / f"log-{i}.txt").write_text("x")
    result = scan(tmp_path, max_entries=3)
    assert any("scan stopped after 3 entries" in reason for _, reason in result.rejected)


@pytest.mark.parametrize(
    ("name", "step"),
    [
        ("step-40.pt", 40),
        ("step_40.pth", 40),
        ("epoch=2-step=900.ckpt", 900),
        ("global_step1200", 1200),
        ("checkpoint-500", 500),
        ("iter_0000100", 100),
        ("1000", 1000),
        ("ckpt-7.pt", 7),
        ("resnet50.pt", None),
        ("timestep5.pt", None),
        ("best.ckpt", None),
    ],
    ids=lambda v: str(v),
)
def test_parse_step(name: str, step: int | None) -> None:
    assert parse_step(name) == step


def _ck(name: str, step: int | None, mtime: float) -> Checkpoint:
    return Checkpoint(Path(name), Layout.PYTORCH_FILE, step, mtime, "test")


@pytest.mark.parametrize(
    ("candidates", "winner"),
    [
        ([_ck("a", 10, 5.0), _ck("b", 20, 1.0)], "b"),
        ([_ck("a", 20, 5.0), _ck("b", 20, 1.0)], "a"),
        ([_ck("a", None, 9.0), _ck("b", 1, 1.0)], "b"),
        ([_ck("a", None, 9.0), _ck("b", 0, 1.0)], "b"),
        ([_ck("a", None, 1.0), _ck("b", None, 2.0)], "b"),
        ([_ck("a", 0, 1.0)], "a"),
    ],
    ids=[
        "higher-step",
        "tie-newest-mtime",
        "step-beats-none",
        "step-0-beats-none",
        "no-steps-newest",
        "step-zero",
    ],
)
def test_choose(candidates: list[Checkpoint], winner: str) -> None:
    chosen = choose(candidates)
    assert chosen is not None
    assert chosen.path == Path(winner)
    assert choose([]) is None
