"""The review orchestration with in-memory ports: plan, quota reads, P2P, denials and codes."""

import base64
import json

import pytest

from hcs_api import PlanResult
from hcs_api.v1alpha1 import ComputeNode, ComputeQuota
from hcs_webhook.admission import Admission, Deps
from hcs_webhook.errors import ClusterReadError, PlanError
from hcs_webhook.ports import FakePlanner, InMemoryCluster
from hcs_webhook.review import AdmissionRequest, AdmissionReview


def planned(vendor=None, error=None, model=None):
    return FakePlanner(lambda pod: PlanResult(vendor=vendor, model=model, error=error))


def admission(settings, exchange, planner=None, cluster=None):
    return Admission(settings, Deps(cluster or InMemoryCluster(), planner or planned(), exchange))


def request(kit, obj, operation="CREATE", old=None):
    return AdmissionReview.model_validate(kit.review(obj, operation, old)).request


def patched(kit, obj, response):
    assert response.allowed, response.status
    patch = json.loads(base64.b64decode(response.patch)) if response.patch else []
    return kit.apply_patch(obj, patch)


@pytest.mark.asyncio
async def test_late_binding_never_asks_the_planner(kit, settings, exchange):
    planner = planned("nvidia")
    obj = kit.pod(kit.container("train", vram="16Gi"))
    response = await admission(settings, exchange, planner).mutate(request(kit, obj))
    assert patched(kit, obj, response)["spec"]["schedulerName"] == "hcs-scheduler"
    assert planner.asked == []


@pytest.mark.asyncio
async def test_rebinding_asks_the_planner_and_rewrites_the_image(kit, settings, exchange):
    planner = planned("ascend", model="Ascend-910B3")
    obj = kit.pod(kit.container("train", vram="32Gi"), annotations={"hcs.io/rebind-image": "true"})
    response = await admission(settings, exchange, planner).mutate(request(kit, obj))
    result = patched(kit, obj, response)
    assert planner.asked == [obj]
    assert result["spec"]["containers"][0]["image"].startswith("ascendhub.example/")
    kit.assert_valid_pod(result)
    again = await admission(settings, exchange, planned("nvidia")).mutate(request(kit, result))
    assert again.allowed
    assert again.patch is None, "reinvocation keeps the first vendor"


@pytest.mark.asyncio
async def test_pinned_vendor_survives_an_unreachable_planner(kit, settings, exchange):
    def unreachable(pod):
        raise PlanError("connection refused")

    obj = kit.pod(kit.container("train", vram="16Gi"), annotations={"hcs.io/vendors": "nvidia"})
    app = admission(settings, exchange, FakePlanner(unreachable))
    result = patched(kit, obj, await app.mutate(request(kit, obj)))
    assert "hcs.io/vendor" in json.dumps(result["spec"]["affinity"])


@pytest.mark.asyncio
async def test_rebinding_without_a_planner_is_refused_with_503(kit, settings, exchange):
    def unreachable(pod):
        raise PlanError("connection refused")

    obj = kit.pod(kit.container("train", vram="16Gi"), annotations={"hcs.io/rebind-image": "true"})
    response = await admission(settings, exchange, FakePlanner(unreachable)).mutate(
        request(kit, obj)
    )
    assert not response.allowed
    assert response.status.code == 503
    assert "connection refused" in response.status.message


@pytest.mark.asyncio
async def test_rebinding_to_a_vendor_without_runtime_image_is_refused(kit, settings, exchange):
    obj = kit.pod(kit.container("train", vram="16Gi"), annotations={"hcs.io/rebind-image": "true"})
    response = await admission(settings, exchange, planned("hygon")).mutate(request(kit, obj))
    assert not response.allowed
    assert "vendors.hygon.runtime_image" in response.status.message


@pytest.mark.asyncio
async def test_nothing_fits_now_refuses_rebinding_with_the_planners_reason(kit, settings, exchange):
    obj = kit.pod(kit.container("train", vram="16Gi"), annotations={"hcs.io/rebind-image": "true"})
    app = admission(settings, exchange, planned(error="every H100 is taken"))
    response = await app.mutate(request(kit, obj))
    assert response.status.message == "no vendor can serve this pod now: every H100 is taken"


@pytest.mark.asyncio
async def test_p2p_switch_comes_from_computenodes(kit, settings, exchange):
    devices = [
        {
            "id": str(i),
            "uuid": f"u{i}",
            "vendor": "nvidia",
            "model": "T4",
            "vram": "16Gi",
            "links": [{"type": "pcie", "peers": [str(1 - i)], "p2p": False}],
        }
        for i in range(2)
    ]
    node = ComputeNode.model_validate(
        {
            "metadata": {"name": "n"},
            "spec": {"nodeName": "n", "vendors": ["nvidia"], "devices": devices},
        }
    )
    obj = kit.pod(kit.container("train", vram="16Gi", devices="2"))
    app = admission(settings, exchange, cluster=InMemoryCluster(nodes=[node]))
    env = kit.env_of(patched(kit, obj, await app.mutate(request(kit, obj))), "train")
    assert env["NCCL_P2P_DISABLE"] == "1"
    assert "HCCL_INTRA_ROCE_ENABLE" not in env, "no Ascend node is known"


@pytest.mark.asyncio
async def test_invalid_request_is_refused_by_both_paths(kit, settings, exchange):
    obj = kit.pod(kit.container("train", vram="lots"))
    app = admission(settings, exchange)
    for decide in (app.mutate, app.validate):
        response = await decide(request(kit, obj))
        assert not response.allowed
        assert "'lots' is not a Kubernetes quantity" in response.status.message


@pytest.mark.asyncio
async def test_validate_counts_the_namespace_against_its_quota(kit, settings, exchange):
    team = ComputeQuota.model_validate(
        {"metadata": {"name": "team", "namespace": "ml"}, "spec": {"hard": {"vram": "32Gi"}}}
    )
    running = kit.pod(kit.container("a", vram="24Gi"), name="running")
    cluster = InMemoryCluster(quotas=[team], pod_list=[running])
    obj = kit.pod(kit.container("b", vram="16Gi"), name="new")
    response = await admission(settings, exchange, cluster=cluster).validate(request(kit, obj))
    assert not response.allowed
    assert response.status.message.startswith("ComputeQuota ml/team: VRAM would be 40Gi")


@pytest.mark.asyncio
async def test_unreadable_cluster_refuses_with_503_instead_of_guessing(kit, settings, exchange):
    class Broken(InMemoryCluster):
        async def compute_quotas(self, namespace):
            raise ClusterReadError("API server timed out")

    obj = kit.pod(kit.container("b", vram="16Gi"))
    response = await admission(settings, exchange, cluster=Broken()).validate(request(kit, obj))
    assert (response.allowed, response.status.code) == (False, 503)


@pytest.mark.asyncio
async def test_update_by_the_extender_is_not_judged_on_resources(kit, settings, exchange):
    old = kit.pod(kit.container("train", vram="lots"))
    new = kit.pod(kit.container("train", vram="lots"), annotations={"hcs.io/node": "n"})
    review = kit.review(new, "UPDATE", old, "system:serviceaccount:hcs-system:hcs-scheduler")
    response = await admission(settings, exchange).validate(
        AdmissionReview.model_validate(review).request
    )
    assert response.allowed


@pytest.mark.asyncio
async def test_a_model_without_a_published_vram_is_admitted_where_nodes_report_it(
    kit, settings, exchange
):
    # The bundled Hygon-Z100 profile has no VRAM: refused on the profiles alone, admitted once
    # an agent reports Z100 devices of 32Gi, refused again above what any of them holds.
    pinned = {"hcs.io/models": "Hygon-Z100"}
    small = kit.review(kit.pod(kit.container("train", vram="16Gi"), annotations=pinned))
    large = kit.review(kit.pod(kit.container("train", vram="40Gi"), annotations=pinned))
    bare = Admission(
        settings,
        Deps(InMemoryCluster(), FakePlanner(lambda pod: PlanResult(error="unused")), exchange),
    )
    assert not (await bare.validate(AdmissionRequest.model_validate(small["request"]))).allowed
    z100 = {
        "metadata": {"name": "dcu-1"},
        "spec": {
            "nodeName": "dcu-1",
            "vendors": ["hygon"],
            "devices": [
                {
                    "id": "hygon-0",
                    "uuid": "z-0",
                    "vendor": "hygon",
                    "model": "Hygon-Z100",
                    "vram": "32Gi",
                }
            ],
        },
    }
    cluster = InMemoryCluster(nodes=[ComputeNode.model_validate(z100)])
    reported = Admission(
        settings, Deps(cluster, FakePlanner(lambda pod: PlanResult(error="unused")), exchange)
    )
    assert (await reported.validate(AdmissionRequest.model_validate(small["request"]))).allowed
    refused = await reported.validate(AdmissionRequest.model_validate(large["request"]))
    assert not refused.allowed
    assert "holds 32Gi" in refused.status.message
