"""A recreated pod resumes from the checkpoint HCS recorded on it or its owners, inside its dir."""

import base64
import json

import pytest

from hcs_api import read_pod_request
from hcs_webhook.admission import Admission, Deps
from hcs_webhook.errors import ClusterReadError
from hcs_webhook.ports import FakePlanner, InMemoryCluster, OwnerMeta, OwnerRef
from hcs_webhook.resume import Resume, checked, resume_from
from hcs_webhook.review import AdmissionReview

CKPT = {"hcs.io/checkpoint-dir": "/ckpt"}
JOB = ("team-a", "batch/v1", "Job", "train")
JOBSET = ("team-a", "jobset.x-k8s.io/v1alpha2", "JobSet", "big")
JOB_REF = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "name": "train",
    "uid": "u1",
    "controller": True,
}
JOBSET_REF = OwnerRef("jobset.x-k8s.io/v1alpha2", "JobSet", "big")


def owned(kit, annotations=None, owner=JOB_REF, *containers):
    obj = kit.pod(
        *(containers or [kit.container("train", vram="16Gi")]),
        annotations={**CKPT, **(annotations or {})},
        namespace="team-a",
        name="train-0",
    )
    if owner is not None:
        obj["metadata"]["ownerReferences"] = [owner]
    return obj


async def find(obj, cluster):
    return await resume_from(obj, read_pod_request(obj), cluster, "team-a")


@pytest.mark.asyncio
async def test_the_pods_own_annotation_wins_without_reading_owners(kit):
    cluster = InMemoryCluster(owners={JOB: OwnerMeta({"hcs.io/resume-from": "/ckpt/old.pt"})})
    obj = owned(kit, {"hcs.io/resume-from": "/ckpt/step-30.pt"})
    assert await find(obj, cluster) == Resume("/ckpt/step-30.pt", "pod")
    assert cluster.owner_reads == []


@pytest.mark.asyncio
async def test_a_jobs_pod_resumes_from_the_jobs_annotation(kit):
    cluster = InMemoryCluster(owners={JOB: OwnerMeta({"hcs.io/resume-from": "/ckpt/step-30.pt"})})
    assert await find(owned(kit), cluster) == Resume("/ckpt/step-30.pt", "Job team-a/train")
    assert cluster.owner_reads == [JOB]


@pytest.mark.asyncio
async def test_a_jobsets_pod_resumes_from_the_jobset_two_levels_up(kit):
    cluster = InMemoryCluster(
        owners={
            JOB: OwnerMeta({"unrelated": "x"}, JOBSET_REF),
            JOBSET: OwnerMeta({"hcs.io/resume-from": "/ckpt/step-30.pt"}),
        }
    )
    assert await find(owned(kit), cluster) == Resume("/ckpt/step-30.pt", "JobSet team-a/big")
    assert cluster.owner_reads == [JOB, JOBSET]


@pytest.mark.asyncio
async def test_no_more_than_two_owner_levels_are_read(kit):
    top = OwnerRef("example.com/v1", "Pipeline", "p")
    cluster = InMemoryCluster(
        owners={
            JOB: OwnerMeta({}, JOBSET_REF),
            JOBSET: OwnerMeta({}, top),
            ("team-a", "example.com/v1", "Pipeline", "p"): OwnerMeta(
                {"hcs.io/resume-from": "/ckpt/step-30.pt"}
            ),
        }
    )
    assert await find(owned(kit), cluster) == Resume(None, "none")
    assert cluster.owner_reads == [JOB, JOBSET]


@pytest.mark.parametrize(
    ("annotations", "owner", "containers"),
    [
        ({"hcs.io/checkpoint-dir": None}, JOB_REF, ()),
        ({}, {**JOB_REF, "apiVersion": "v1", "kind": "ReplicationController"}, ()),
        ({}, {**JOB_REF, "controller": False}, ()),
        ({}, None, ()),
        ({}, JOB_REF, ({"name": "plain", "image": "busybox"},)),
    ],
    ids=["no-checkpoint-dir", "core-group-owner", "not-a-controller", "bare-pod", "no-ai-compute"],
)
@pytest.mark.asyncio
async def test_nothing_is_looked_up(kit, annotations, owner, containers):
    cluster = InMemoryCluster(owners={JOB: OwnerMeta({"hcs.io/resume-from": "/ckpt/step-30.pt"})})
    obj = owned(kit, None, owner, *containers)
    for key, value in annotations.items():
        if value is None:
            del obj["metadata"]["annotations"][key]
    assert await find(obj, cluster) == Resume(None, "none")
    assert cluster.owner_reads == []


@pytest.mark.asyncio
async def test_an_owner_that_is_gone_or_unannotated_gives_nothing(kit):
    gone = InMemoryCluster()
    assert await find(owned(kit), gone) == Resume(None, "none")
    assert gone.owner_reads == [JOB], "read once, not again"
    cluster = InMemoryCluster(owners={JOB: OwnerMeta({"team": "a"})})
    assert await find(owned(kit), cluster) == Resume(None, "none")


@pytest.mark.asyncio
async def test_a_read_failure_gives_no_path_and_says_why(kit):
    cluster = InMemoryCluster(owners={JOB: ClusterReadError("batch/v1 Job team-a/train: 403")})
    resume = await find(owned(kit), cluster)
    assert (resume.path, resume.source) == (None, "Job team-a/train")
    assert resume.warning == (
        "could not read Job team-a/train to find its checkpoint: batch/v1 Job team-a/train: 403; "
        "HCS_RESUME_FROM not set"
    )


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/ckpt/step-30.pt", "/ckpt/step-30.pt"),
        ("/ckpt/run-1/step-30/", "/ckpt/run-1/step-30"),
        ("/ckpt/./old/../step-30.pt", "/ckpt/step-30.pt"),
        ("/etc/passwd", None),
        ("/ckpt/../etc/passwd", None),
        ("/ckpt-other/step-30.pt", None),
        ("/ckpt", None),
        ("ckpt/step-30.pt", None),
        ("", None),
    ],
    ids=[
        "inside",
        "directory",
        "normalised",
        "outside",
        "dotdot",
        "sibling",
        "the-dir",
        "relative",
        "empty",
    ],
)
def test_only_paths_under_the_checkpoint_dir_are_used(path, expected):
    resume = checked(path, "/ckpt/", "Job team-a/train")
    assert (resume.path, resume.source) == (expected, "Job team-a/train")
    if expected is None:
        assert f"hcs.io/resume-from {path!r} on Job team-a/train" in resume.warning
        assert "hcs.io/checkpoint-dir '/ckpt/'" in resume.warning
        assert resume.warning.endswith("ignored, HCS_RESUME_FROM not set")
    else:
        assert resume.warning is None


@pytest.mark.parametrize(
    ("path", "why"),
    [("step-30.pt", "is not an absolute path under"), ("/etc/shadow", "is not under")],
    ids=["relative", "outside"],
)
def test_a_path_on_the_pod_itself_is_judged_and_named_the_same(path, why):
    resume = checked(path, "/ckpt", "pod")
    assert (resume.path, resume.source) == (None, "pod")
    assert resume.warning == (
        f"hcs.io/resume-from {path!r} on the pod {why} the pod's hcs.io/checkpoint-dir "
        "'/ckpt'; ignored, HCS_RESUME_FROM not set"
    )


@pytest.mark.parametrize(
    ("path", "checkpoint_dir"),
    [("/step-30.pt", "/"), ("/runX/step-30.pt", "/runX"), ("/ckpt/step-30.pt", "/ckpt//")],
    ids=["root", "dir-ending-in-x", "trailing-slashes"],
)
def test_the_checkpoint_dir_is_matched_exactly(path, checkpoint_dir):
    assert checked(path, checkpoint_dir, "pod") == Resume(path, "pod")


@pytest.mark.asyncio
async def test_an_outside_path_on_an_owner_is_ignored_with_a_warning(kit):
    cluster = InMemoryCluster(owners={JOB: OwnerMeta({"hcs.io/resume-from": "/etc/shadow"})})
    resume = await find(owned(kit), cluster)
    assert resume.path is None
    assert resume.warning == (
        "hcs.io/resume-from '/etc/shadow' on Job team-a/train is not under the pod's "
        "hcs.io/checkpoint-dir '/ckpt'; ignored, HCS_RESUME_FROM not set"
    )


# -- through the mutating review


def admission(settings, exchange, cluster):
    planner = FakePlanner(lambda pod: pytest.fail("late binding never plans"))
    return Admission(settings, Deps(cluster, planner, exchange))


def request(kit, obj, operation="CREATE"):
    return AdmissionReview.model_validate(kit.review(obj, operation)).request


def patched(kit, obj, response):
    assert response.allowed, response.status
    patch = json.loads(base64.b64decode(response.patch)) if response.patch else []
    return kit.apply_patch(obj, patch)


@pytest.mark.asyncio
async def test_accelerated_containers_get_the_variable_and_others_do_not(kit, settings, exchange):
    cluster = InMemoryCluster(owners={JOB: OwnerMeta({"hcs.io/resume-from": "/ckpt/step-30.pt"})})
    sidecar = {"name": "logs", "image": "fluent-bit:3"}
    obj = owned(kit, None, JOB_REF, kit.container("train", vram="16Gi"), sidecar)
    webhook = admission(settings, exchange, cluster)
    response = await webhook.mutate(request(kit, obj))
    result = patched(kit, obj, response)
    assert kit.env_of(result, "train")["HCS_RESUME_FROM"] == "/ckpt/step-30.pt"
    assert "env" not in result["spec"]["containers"][1]
    assert response.warnings is None
    kit.assert_valid_pod(result)
    again = await webhook.mutate(request(kit, result))
    assert again.patch is None, "reinvocation changes nothing"


@pytest.mark.asyncio
async def test_a_read_failure_admits_the_pod_without_the_variable(kit, settings, exchange):
    cluster = InMemoryCluster(owners={JOB: ClusterReadError("batch/v1 Job team-a/train: 500")})
    obj = owned(kit)
    response = await admission(settings, exchange, cluster).mutate(request(kit, obj))
    result = patched(kit, obj, response)
    assert "HCS_RESUME_FROM" not in kit.env_of(result, "train")
    assert "HCS_VRAM_QUOTA" in kit.env_of(result, "train"), "the rest of the mutation happens"
    assert response.warnings == [
        "could not read Job team-a/train to find its checkpoint: batch/v1 Job team-a/train: 500; "
        "HCS_RESUME_FROM not set"
    ]


@pytest.mark.parametrize(
    ("naming", "shown"),
    [({"name": "train-0"}, "train-0"), ({"generateName": "train-"}, "train-"), ({}, "?")],
    ids=["named", "generated-name-as-a-job-makes-it", "no-name"],
)
@pytest.mark.asyncio
async def test_the_owner_is_read_in_the_reviews_namespace(
    kit, settings, exchange, caplog, naming, shown
):
    """A pod being created names no namespace in its metadata (a Job's has only a generateName):
    the review's namespace is the owner's, and the log names the pod as well as it can."""
    cluster = InMemoryCluster(owners={JOB: ClusterReadError("batch/v1 Job team-a/train: 500")})
    body = kit.review(owned(kit))
    meta = body["request"]["object"]["metadata"]
    del meta["namespace"], meta["name"]
    meta.update(naming)
    review = AdmissionReview.model_validate(body).request
    assert review.namespace == "team-a"
    with caplog.at_level("WARNING", logger="hcs_webhook"):
        await admission(settings, exchange, cluster).mutate(review)
    assert cluster.owner_reads == [JOB]
    assert caplog.messages == [
        f"pod team-a/{shown}: could not read Job team-a/train to find its checkpoint: "
        "batch/v1 Job team-a/train: 500; HCS_RESUME_FROM not set"
    ]


@pytest.mark.asyncio
async def test_no_warning_is_logged_when_the_checkpoint_is_found(kit, settings, exchange, caplog):
    cluster = InMemoryCluster(owners={JOB: OwnerMeta({"hcs.io/resume-from": "/ckpt/step-30.pt"})})
    with caplog.at_level("WARNING", logger="hcs_webhook"):
        await admission(settings, exchange, cluster).mutate(request(kit, owned(kit)))
    assert caplog.messages == []


@pytest.mark.asyncio
async def test_a_user_set_variable_is_kept_with_a_warning(kit, settings, exchange):
    cluster = InMemoryCluster(owners={JOB: OwnerMeta({"hcs.io/resume-from": "/ckpt/step-30.pt"})})
    train = kit.container("train", vram="16Gi")
    train["env"] = [{"name": "HCS_RESUME_FROM", "value": "/ckpt/mine.pt"}]
    obj = owned(kit, None, JOB_REF, train)
    response = await admission(settings, exchange, cluster).mutate(request(kit, obj))
    assert kit.env_of(patched(kit, obj, response), "train")["HCS_RESUME_FROM"] == "/ckpt/mine.pt"
    assert response.warnings == [
        "container 'train': env HCS_RESUME_FROM kept as set in the pod; HCS would have set it "
        "to '/ckpt/step-30.pt', the checkpoint it recorded when it moved the job"
    ]


@pytest.mark.parametrize(
    ("obj_of", "operation"),
    [
        (lambda kit: owned(kit), "UPDATE"),
        (lambda kit: owned(kit, None, JOB_REF, {"name": "plain", "image": "busybox"}), "CREATE"),
    ],
    ids=["update", "no-ai-compute"],
)
@pytest.mark.asyncio
async def test_no_lookup_outside_an_accelerated_create(kit, settings, exchange, obj_of, operation):
    cluster = InMemoryCluster(owners={JOB: OwnerMeta({"hcs.io/resume-from": "/ckpt/step-30.pt"})})
    response = await admission(settings, exchange, cluster).mutate(
        request(kit, obj_of(kit), operation)
    )
    assert (response.allowed, response.patch) == (True, None)
    assert cluster.owner_reads == []


@pytest.mark.integration
@pytest.mark.asyncio
async def test_the_warning_reaches_the_admission_review_over_https(served, kit):
    served.cluster.owners[JOB] = ClusterReadError("batch/v1 Job team-a/train: 403 Forbidden")
    status, answer = await served.post("/mutate", kit.review(owned(kit)))
    assert status == 200
    assert answer["response"]["allowed"] is True
    assert answer["response"]["warnings"] == [
        "could not read Job team-a/train to find its checkpoint: batch/v1 Job team-a/train: "
        "403 Forbidden; HCS_RESUME_FROM not set"
    ]
