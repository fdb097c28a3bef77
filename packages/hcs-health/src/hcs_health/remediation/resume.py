"""Where a pod's checkpoints are on the node, and what its replacement looks like. Pure.

The agent runs on the pod's node with the kubelet's pod directory mounted, so it reads the
pod's checkpoint volume the way the kubelet laid it out: `<kubelet>/pods/<uid>/volumes/
<plugin>/<volume>` for emptyDir (`kubernetes.io~empty-dir`), NFS (`kubernetes.io~nfs`) and
in-tree volumes, `<kubelet>/pods/<uid>/volumes/kubernetes.io~csi/<pv>/mount` for CSI volumes
(a PersistentVolumeClaim resolves to its PersistentVolume's name), and a hostPath volume at its
own path on the host. The kubelet's layout: pkg/volume/util and the CSI plugin's
`mount` subdirectory (kubernetes/kubernetes, pkg/volume/csi/csi_mounter.go).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from hcs_api.names import (
    DEVICES_ANNOTATION_PREFIX,
    VRAM_QUOTA_ANNOTATION_PREFIX,
    Annotation,
    is_decision_annotation,
)
from hcs_health.remediation.port import ObjectRef

PLUGIN_DIRS = {"emptyDir": "kubernetes.io~empty-dir", "nfs": "kubernetes.io~nfs"}
CSI_DIR = "kubernetes.io~csi"
_RESUMED_NAME = re.compile(r"^(?P<base>.+)-r(?P<n>\d+)$")


def checkpoint_dir(pod: Mapping[str, Any]) -> str | None:
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(Annotation.CHECKPOINT_DIR)
    return value if isinstance(value, str) and value.startswith("/") else None


def host_path(
    pod: Mapping[str, Any],
    container_path: str,
    kubelet_root: Path,
    claim_volume: Callable[[str], str | None],
) -> tuple[Path | None, str]:
    """The host path holding `container_path` of the pod's first container that mounts it, and
    how it was found (or why it could not be: the second element is then the reason)."""
    wanted = PurePosixPath(posixpath.normpath(container_path))
    best: tuple[PurePosixPath, Mapping[str, Any]] | None = None
    for container in (pod.get("spec") or {}).get("containers") or []:
        for mount in container.get("volumeMounts") or []:
            at = PurePosixPath(posixpath.normpath(mount.get("mountPath", "/")))
            if (wanted == at or at in wanted.parents) and (
                best is None or len(at.parts) > len(best[0].parts)
            ):
                best = (at, mount)
    if best is None:
        return None, f"no volume of the pod is mounted at {container_path}"
    at, mount = best
    volumes = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or []}
    volume = volumes.get(mount.get("name"))
    if volume is None:
        return None, f"volume {mount.get('name')} is not in the pod's spec"
    base, how = _volume_dir(pod, volume, kubelet_root, claim_volume)
    if base is None:
        return None, how
    inside = PurePosixPath(mount.get("subPath") or "") / wanted.relative_to(at)
    return base / inside, how


def _volume_dir(
    pod: Mapping[str, Any],
    volume: Mapping[str, Any],
    kubelet_root: Path,
    claim_volume: Callable[[str], str | None],
) -> tuple[Path | None, str]:
    uid = (pod.get("metadata") or {}).get("uid", "")
    volumes = kubelet_root / "pods" / uid / "volumes"
    name = volume.get("name", "")
    if "hostPath" in volume:
        return Path(volume["hostPath"]["path"]), f"hostPath volume {name}"
    for kind, plugin in PLUGIN_DIRS.items():
        if kind in volume:
            return volumes / plugin / name, f"{kind} volume {name}"
    if "persistentVolumeClaim" in volume:
        claim = volume["persistentVolumeClaim"].get("claimName", "")
        pv = claim_volume(claim)
        if pv is None:
            return None, f"claim {claim} is not bound to a volume"
        return volumes / CSI_DIR / pv / "mount", f"claim {claim} (volume {pv})"
    if "csi" in volume:
        return volumes / CSI_DIR / name / "mount", f"inline CSI volume {name}"
    kinds = sorted(set(volume) - {"name"})
    return None, f"volume {name} ({', '.join(kinds)}) is not one HCS reads checkpoints from"


def container_path(checkpoint_root: str, host_root: Path, found: Path) -> str:
    """The checkpoint's path as the container sees it."""
    return posixpath.join(checkpoint_root, found.relative_to(host_root).as_posix())


def controller_of(obj: Mapping[str, Any]) -> ObjectRef | None:
    """The object's controller owner (ownerReferences[].controller), in its namespace."""
    meta = obj.get("metadata") or {}
    for ref in meta.get("ownerReferences") or []:
        if ref.get("controller"):
            return ObjectRef(ref["apiVersion"], ref["kind"], meta.get("namespace", ""), ref["name"])
    return None


def replacement(pod: Mapping[str, Any], resume_from: str | None) -> dict[str, Any]:
    """A bare pod's replacement: the same spec unbound, the user's metadata, HCS's decisions
    dropped (the scheduler decides again), and the resume point. Named `<name>-r<N+1>`."""
    meta = pod.get("metadata") or {}
    annotations = {
        k: v
        for k, v in (meta.get("annotations") or {}).items()
        if not is_decision_annotation(k)
        and not k.startswith((DEVICES_ANNOTATION_PREFIX, VRAM_QUOTA_ANNOTATION_PREFIX))
    }
    if resume_from is not None:
        annotations[Annotation.RESUME_FROM] = resume_from
    spec = {k: v for k, v in (pod.get("spec") or {}).items() if k != "nodeName"}
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": next_name(meta.get("name", "pod")),
            "labels": dict(meta.get("labels") or {}),
            "annotations": annotations,
        },
        "spec": spec,
    }
    return body


def next_name(name: str) -> str:
    """train -> train-r1 -> train-r2: a stable name a retry finds again (create is idempotent)."""
    match = _RESUMED_NAME.match(name)
    if match is None:
        return f"{name[:59]}-r1"
    return f"{match['base']}-r{int(match['n']) + 1}"
