"""Is this file whole? The two weight-file formats a checkpoint's completeness rests on.

- torch.save zip archives (PyTorch >= 1.6, torch/serialization.py ``_save``): the central
  directory is written last, so a readable one whose members' local headers and sizes agree
  means the writer finished.
- safetensors: an 8-byte little-endian header length, a JSON header, then the tensor data; the
  last tensor's ``data_offsets`` end must be where the file ends.

Only headers are read, never tensor data. Split from checkpoint, which re-exports the public
names.
"""

from __future__ import annotations

import io
import json
import os
import struct
import zipfile
from pathlib import Path

__all__ = ["SAFETENSORS_MAX_HEADER", "open_nofollow", "safetensors_problem", "zip_problem"]

SAFETENSORS_MAX_HEADER = 100 << 20  # the safetensors reference reader's own limit
_LOCAL_HEADER = struct.Struct("<IHHHHHIIIHH")  # zip APPNOTE 4.3.7, 30 bytes
_LOCAL_SIG, _DESCRIPTOR_SIG = 0x04034B50, 0x08074B50


def open_nofollow(path: Path) -> int:
    """A read-only descriptor that refuses a symlink: a checkpoint must live where it is listed."""
    return os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))


def zip_problem(path: Path) -> str | None:
    """Why ``path`` is not a complete torch.save zip archive, or None when it is."""
    try:
        with os.fdopen(open_nofollow(path), "rb") as handle:
            try:
                with zipfile.ZipFile(handle) as archive:
                    infos = archive.infolist()
            except (zipfile.BadZipFile, EOFError, ValueError) as exc:
                return (
                    f"no readable zip central directory ({exc}): torch.save writes it last,"
                    " so the file is truncated or still being written"
                )
            if not any(info.filename.split("/")[-1] == "data.pkl" for info in infos):
                return "zip archive holds no data.pkl: not written by torch.save"
            for info in infos:
                problem = _member_problem(handle, info)
                if problem:
                    return f"member {info.filename}: {problem}"
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    return None


def _member_problem(handle: io.BufferedReader, info: zipfile.ZipInfo) -> str | None:
    """Checks one member's local header and sizes against the central directory."""
    if info.header_offset < 0:  # zipfile read the shortfall as data prepended to the archive
        return "central directory points before the file's start (torn write)"
    handle.seek(info.header_offset)
    raw = handle.read(_LOCAL_HEADER.size)
    if len(raw) < _LOCAL_HEADER.size:
        return "local header cut off"
    sig, _, flags, method, _, _, _, csize, usize, nlen, xlen = _LOCAL_HEADER.unpack(raw)
    if sig != _LOCAL_SIG:
        return "no local header where the central directory points (torn write)"
    if method == zipfile.ZIP_STORED and info.compress_size != info.file_size:
        return f"stored member with {info.compress_size} bytes stored for {info.file_size}"
    data_end = info.header_offset + _LOCAL_HEADER.size + nlen + xlen + info.compress_size
    if not flags & 0x08:  # sizes sit in the local header (zip64 marks them 0xFFFFFFFF)
        if csize != 0xFFFFFFFF and (csize, usize) != (info.compress_size, info.file_size):
            return f"local header sizes {(csize, usize)} disagree with the central directory"
        return None
    handle.seek(data_end)  # data descriptor, as torch's writer emits (flag bit 3)
    tail = handle.read(24)
    if tail[:4] == struct.pack("<I", _DESCRIPTOR_SIG):
        tail = tail[4:]
    want = (info.compress_size, info.file_size)
    short = struct.unpack("<II", tail[4:12]) if len(tail) >= 12 else None
    wide = struct.unpack("<QQ", tail[4:20]) if len(tail) >= 20 else None
    if want not in (short, wide):
        return f"data descriptor sizes {short} disagree with the central directory {want}"
    return None


def safetensors_problem(path: Path) -> str | None:
    """Why ``path`` is not a whole safetensors file (8-byte little-endian header length, a JSON
    header whose ``data_offsets`` end where the file ends), or None."""
    try:
        with os.fdopen(open_nofollow(path), "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            length = int.from_bytes(handle.read(8).ljust(8, b"\xff"), "little")
            if length > min(size - 8, SAFETENSORS_MAX_HEADER):
                return f"header length {length} runs past the {size}-byte file (truncated)"
            header = json.loads(handle.read(length))
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    except (ValueError, UnicodeDecodeError):
        return "header is not JSON"
    if not isinstance(header, dict):
        return "header is not a JSON object"
    try:
        end = max(
            (int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"), default=0
        )
    except (TypeError, KeyError, IndexError, ValueError):
        return "a tensor entry has no data_offsets"
    if 8 + length + end != size:
        return f"holds {size} bytes but its header describes {8 + length + end} (truncated)"
    return None
