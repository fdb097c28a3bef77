"""Which checkpoint a new pod resumes from, found where hcs-health recorded it.

When HCS moves a training pod off a sick accelerator, hcs-health writes the job's newest
complete checkpoint (a path inside the container) in `hcs.io/resume-from`: on the replacement
pod itself when HCS recreates a bare pod, else on the pod's controller and that controller's
own (a Job, and the JobSet that created it), since HCS cannot write into the pod a controller
recreates. The webhook reads it back at CREATE and gives it to the accelerated containers as
`HCS_RESUME_FROM`. A path that is not under the pod's `hcs.io/checkpoint-dir` is ignored: the
annotation must never point a job at files outside the checkpoints its owner declared.
A failed read never blocks admission: the pod starts without the variable, with a warning.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hcs_api import PodRequest
from hcs_api.names import Annotation
from hcs_webhook.errors import ClusterReadError
from hcs_webhook.mutation import RESUME_VARIABLE
from hcs_webhook.ports import ClusterReads, OwnerRef, controller_of
from hcs_webhook.validation import annotations_of

MAX_OWNER_LEVELS = 2
"""Owners read above the pod: its controller, and that controller's controller."""


@dataclass(frozen=True)
class Resume:
    """The checkpoint to resume from, if any; `source` says where it was found."""

    path: str | None
    source: str
    """"pod", the owner ("Job team-a/train"), or "none"."""
    warning: str | None = None
    """For the user (an admission warning): why no path was set although one was looked for."""


NOTHING = Resume(None, "none")


async def resume_from(
    pod: Mapping[str, Any], request: PodRequest, reads: ClusterReads, namespace: str
) -> Resume:
    """The checkpoint `pod` resumes from: its own annotation, else its controller's, else that
    controller's controller's. Only pods that ask for `ai.compute/*` and name a checkpoint
    directory are looked up; `namespace` is the review's (a pod being created often has none
    in its metadata yet)."""
    checkpoint_dir = request.preferences.checkpoint_dir
    if request.is_empty() or checkpoint_dir is None:
        return NOTHING
    own = annotations_of(pod).get(Annotation.RESUME_FROM)
    if isinstance(own, str):  # annotation values are strings; anything else was never HCS's
        return checked(own, checkpoint_dir, "pod")
    owner = controller_of(pod)
    # Two levels cover every shape HCS writes to: the pod's controller (Job, PyTorchJob...)
    # and the JobSet above a Job. Going higher would cost another API read on the admission
    # path (which has 5 s in all) for owners hcs-health never annotates.
    for _ in range(MAX_OWNER_LEVELS):
        if owner is None or "/" not in owner.api_version:
            return NOTHING  # none, or in the core group: no controller there records checkpoints
        source = owner_label(owner, namespace)
        try:
            meta = await reads.owner_annotations(
                namespace, owner.api_version, owner.kind, owner.name
            )
        except ClusterReadError as error:
            return Resume(None, source, _unreadable(source, error))
        if meta is None:
            return NOTHING  # the owner is gone: nothing above it can be reached either
        path = meta.annotations.get(Annotation.RESUME_FROM)
        if path is not None:
            return checked(path, checkpoint_dir, source)
        owner = meta.controller
    return NOTHING


def checked(path: str, checkpoint_dir: str, source: str) -> Resume:
    """`path`, normalised, when it is absolute and under `checkpoint_dir`; else no path and a
    warning naming both. The first annotation found decides: one further up was written at the
    same move, or an earlier one, and would be no better."""
    where = "the pod" if source == "pod" else source
    if not path.startswith("/"):
        why = "is not an absolute path under"
        return Resume(None, source, _ignored(path, where, checkpoint_dir, why))
    # After normalising, "/ckpt/../etc/passwd" is "/etc/passwd": judged where it really points.
    normal = posixpath.normpath(path)
    base = posixpath.normpath(checkpoint_dir)
    if not normal.startswith(base.rstrip("/") + "/"):
        return Resume(None, source, _ignored(path, where, checkpoint_dir, "is not under"))
    return Resume(normal, source)


def owner_label(owner: OwnerRef, namespace: str) -> str:
    """How a warning names an owner: "Job team-a/train"."""
    return f"{owner.kind} {namespace}/{owner.name}"


def _ignored(path: str, where: str, checkpoint_dir: str, why: str) -> str:
    return (
        f"{Annotation.RESUME_FROM} {path!r} on {where} {why} the pod's "
        f"{Annotation.CHECKPOINT_DIR} {checkpoint_dir!r}; ignored, {RESUME_VARIABLE} not set"
    )


def _unreadable(source: str, error: ClusterReadError) -> str:
    return f"could not read {source} to find its checkpoint: {error}; {RESUME_VARIABLE} not set"
