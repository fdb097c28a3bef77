"""The node's vendor-neutral runtime directory, which the webhook mounts into every HCS container.

Late binding chooses the vendor at bind time, after admission: the container cannot mount "the
vendor's driver" by name, so every node offers the same directory (default
/var/lib/hcs/runtime, seen in containers read-only at /usr/local/hcs):

    lib/libhcs_interceptor.so    the VRAM interposer (LD_PRELOAD), copied from the agent image
    lib/<library>.so*            relative links into drivers/<vendor>/, so one
                                 LD_LIBRARY_PATH=/usr/local/hcs/lib finds the local driver
    drivers/<vendor>/            the vendor's user-space driver, bind-mounted from the host
    ld.so.preload                the interposer's container path, for an /etc/ld.so.preload mount

NVIDIA is left out of drivers/: its container runtime injects the driver itself from
NVIDIA_VISIBLE_DEVICES. Bind mounts need CAP_SYS_ADMIN and, to reach containers started later,
a hostPath with `mountPropagation: Bidirectional`, which Kubernetes allows only to privileged
containers: the chart runs `hcs-agent runtime` as a privileged init container, and the agent
itself unprivileged. Running it again is safe: what is in place is left alone.

`plan` decides (pure, from what the host has); `apply` does the file work.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hcs_agent.errors import AgentError
from hcs_api.names import Vendor

DRIVER_DIRS: Mapping[Vendor, str] = {
    Vendor.ASCEND: "/usr/local/Ascend/driver",
    Vendor.HYGON: "/opt/hyhal",
    Vendor.CAMBRICON: "/usr/local/neuware",
}
"""The user-space driver each vendor installs on its nodes (DESIGN.md's Vendors table)."""
LIBRARY_DIRS = ("lib64", "lib64/common", "lib64/driver", "lib")
"""Sub-directories of a driver directory whose shared libraries are linked into lib/."""
INTERCEPTOR = "libhcs_interceptor.so"


class RuntimeDirError(AgentError):
    """The runtime directory could not be prepared; the message says what and why."""


@dataclass(frozen=True)
class Layout:
    runtime_dir: Path = Path("/var/lib/hcs/runtime")
    """The directory on the host (as the agent's container sees it)."""
    host_root: Path = Path("/")
    """Where the host's root is seen (a hostPath mount of / at /host in the init container)."""
    interceptor: Path = Path("/opt/hcs/lib") / INTERCEPTOR
    """The interposer shipped in the agent image."""
    container_dir: str = "/usr/local/hcs"
    """Where containers see the runtime directory (the webhook's runtime_mount_path)."""


@dataclass(frozen=True)
class Plan:
    copy: tuple[Path, Path]
    """(interposer in the image, its place under lib/)."""
    preload: tuple[Path, str]
    """(ld.so.preload's path, its content)."""
    binds: list[tuple[Path, Path]] = field(default_factory=list)
    """(host driver directory, drivers/<vendor>) to bind-mount."""
    links: dict[str, str] = field(default_factory=dict)
    """lib/<name> -> relative target under ../drivers/<vendor>/."""


def plan(layout: Layout, listing: Callable[[Path], Iterable[str]]) -> Plan:
    """What the directory must hold, given `listing(dir)` -> file names in a host directory
    (empty for a directory that does not exist)."""
    lib = layout.runtime_dir / "lib"
    preload = f"{layout.container_dir}/lib/{INTERCEPTOR}\n"
    out = Plan(
        copy=(layout.interceptor, lib / INTERCEPTOR),
        preload=(layout.runtime_dir / "ld.so.preload", preload),
    )
    for vendor, driver in DRIVER_DIRS.items():
        host = layout.host_root / driver.lstrip("/")
        found = {sub: sorted(n for n in listing(host / sub) if ".so" in n) for sub in LIBRARY_DIRS}
        if not any(found.values()):
            continue  # this vendor's driver is not on this node
        out.binds.append((host, layout.runtime_dir / "drivers" / vendor.value))
        for sub, names in found.items():
            for name in names:  # the first directory that has a library wins
                out.links.setdefault(name, f"../drivers/{vendor.value}/{sub}/{name}")
    return out


def listing(directory: Path) -> list[str]:
    try:
        return [entry.name for entry in os.scandir(directory) if not entry.is_dir()]
    except (FileNotFoundError, NotADirectoryError):
        return []


def apply(
    plan: Plan, mounted: Callable[[Path], bool], mount: Callable[[Path, Path], None]
) -> list[str]:
    """Make the directory match `plan`; what was done, a line each (nothing when all was)."""
    done = []
    source, target = plan.copy
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        content = source.read_bytes()
    except OSError as error:
        raise RuntimeDirError(
            f"the interposer {source} is not readable: {error.strerror}"
        ) from None
    if _write_if_changed(target, content, 0o755):
        done.append(f"copied {source} to {target}")
    path, text = plan.preload
    if _write_if_changed(path, text.encode(), 0o644):
        done.append(f"wrote {path}")
    for host, place in plan.binds:
        place.mkdir(parents=True, exist_ok=True)
        if not mounted(place):
            mount(host, place)
            done.append(f"bind-mounted {host} at {place}")
    done += _links(target.parent, plan.links)
    return done


def _write_if_changed(path: Path, content: bytes, mode: int) -> bool:
    """Replace `path` atomically (a running container may be loading it) if it differs."""
    with contextlib.suppress(FileNotFoundError):
        if path.read_bytes() == content:
            return False
    temporary = path.with_name(f".{path.name}.new")
    temporary.write_bytes(content)
    temporary.chmod(mode)
    temporary.replace(path)
    return True


def _links(lib: Path, wanted: Mapping[str, str]) -> list[str]:
    done = []
    for entry in lib.iterdir():  # links into a driver no longer on the node go
        ours = entry.is_symlink() and os.readlink(entry).startswith("../drivers/")
        if ours and entry.name not in wanted:
            entry.unlink()
            done.append(f"removed {entry}")
    for name, target in wanted.items():
        path = lib / name
        if path.is_symlink() and os.readlink(path) == target:
            continue
        temporary = lib / f".{name}.new"
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(target)
        temporary.replace(path)
        done.append(f"linked {path} -> {target}")
    return done


def is_mount_point(path: Path, mountinfo: Path = Path("/proc/self/mountinfo")) -> bool:
    """Whether something is mounted at `path` (field 5 of /proc/self/mountinfo)."""
    wanted = os.path.realpath(path)
    for line in mountinfo.read_text().splitlines():
        fields = line.split()
        if len(fields) > 4 and fields[4].encode().decode("unicode_escape") == wanted:
            return True
    return False


def bind_mount(source: Path, target: Path) -> None:
    """`mount --bind source target`, read-only; RuntimeDirError saying why when refused."""
    for argv in (
        ["mount", "--bind", str(source), str(target)],
        ["mount", "-o", "remount,bind,ro", str(target)],
    ):
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            reason = result.stderr.strip() or f"exit status {result.returncode}"
            raise RuntimeDirError(
                f"cannot bind-mount {source} at {target}: {reason} (bind mounts need "
                "CAP_SYS_ADMIN: run `hcs-agent runtime` as the chart's privileged init container)"
            )
