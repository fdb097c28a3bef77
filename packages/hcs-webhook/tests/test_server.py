"""The real server over HTTPS: recorded reviews in, allow/deny/patch out, bad input is 400."""

import asyncio
import base64
import json
import os
import ssl

import aiohttp
import pytest
from aiohttp import web

from hcs_api import PlanResult
from hcs_webhook import Deps
from hcs_webhook.ports import FakePlanner, InMemoryCluster
from hcs_webhook.server import make_runner
from hcs_webhook.settings import WebhookSettings
from hcs_webhook.tls import self_signed

pytestmark = [pytest.mark.asyncio, pytest.mark.integration]


def decoded_patch(answer):
    return json.loads(base64.b64decode(answer["response"]["patch"]))


async def test_recorded_upstream_review_is_patched_into_a_valid_pod(served, kit):
    review = kit.recorded("create-pod-nvidia.json")
    status, answer = await served.post("/mutate", review)
    assert status == 200
    assert answer["apiVersion"] == "admission.k8s.io/v1"
    assert answer["kind"] == "AdmissionReview"
    response = answer["response"]
    assert response["uid"] == review["request"]["uid"]
    assert (response["allowed"], response["patchType"]) == (True, "JSONPatch")
    pod = kit.apply_patch(review["request"]["object"], decoded_patch(answer))
    kit.assert_valid_pod(pod)
    assert pod["spec"]["schedulerName"] == "hcs-scheduler"
    env = kit.env_of(pod, "train")
    assert env["EPOCHS"] == "3"
    assert env["NVIDIA_VISIBLE_DEVICES"]["fieldRef"]["fieldPath"] == (
        "metadata.annotations['hcs.io/devices.train']"
    )
    status, answer = await served.post("/validate", review)
    assert (status, answer["response"]["allowed"]) == (200, True)
    assert "patch" not in answer["response"]


async def test_pod_without_ai_compute_is_allowed_without_patch(served, kit):
    status, answer = await served.post("/mutate", kit.review(kit.pod(kit.container())))
    assert status == 200
    assert answer["response"] == {"uid": "uid-1", "allowed": True}


async def test_denial_carries_code_and_message(served, kit):
    obj = kit.pod(kit.container("train", vram="16Gi"), annotations={"hcs.io/node": "gpu-7"})
    status, answer = await served.post("/validate", kit.review(obj))
    assert status == 200
    assert answer["response"]["allowed"] is False
    assert answer["response"]["status"]["code"] == 403
    assert "hcs.io/node is written only by HCS" in answer["response"]["status"]["message"]


async def test_unservable_request_is_denied_by_validate(served, kit):
    obj = kit.pod(kit.container("train", vram="4Ti"))
    _, answer = await served.post("/validate", kit.review(obj))
    assert (
        "no known accelerator model can serve 4096Gi VRAM"
        in (answer["response"]["status"]["message"])
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"[]", "not an admission.k8s.io/v1 AdmissionReview"),
        (
            json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}).encode(),
            "no request",
        ),
        (
            json.dumps(
                {"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview", "request": {}}
            ).encode(),
            "apiVersion",
        ),
    ],
    ids=["not-json", "not-an-object", "no-request", "wrong-version"],
)
async def test_bad_reviews_get_400_with_the_reason(served, body, reason):
    status, answer = await served.post("/mutate", body)
    assert status == 400
    assert reason in answer["error"]


async def test_body_over_one_mebibyte_is_413_unread(served, kit):
    review = kit.review(kit.pod(kit.container("train", vram="16Gi")))
    review["request"]["object"]["metadata"]["annotations"] = {"x": "y" * (1024 * 1024)}
    status, answer = await served.post("/mutate", review)
    assert status == 413
    assert "at most 1048576 are read" in answer["error"]


async def test_object_that_is_not_a_pod_is_400(served, kit):
    review = kit.review(kit.pod())
    review["request"]["object"]["spec"]["containers"] = [
        {"name": "a", "env": 5, "resources": {"limits": {"ai.compute/vram": "1Gi"}}}
    ]
    status, _ = await served.post("/mutate", review)
    assert status == 400


async def test_healthz_and_metrics(served, kit):
    async with served.client.get(served.url + "/healthz") as response:
        assert (response.status, await response.text()) == (200, "ok\n")
    await served.post("/mutate", kit.review(kit.pod(kit.container("t", vram="1Gi"))))
    await served.post("/validate", kit.review(kit.pod(kit.container("t", vram="4Ti"))))
    await served.post("/validate", b"nope")
    async with served.client.get(served.url + "/metrics") as response:
        text = await response.text()
    assert 'hcs_webhook_decisions_total{endpoint="mutate",outcome="patched"} 1.0' in text
    assert 'hcs_webhook_decisions_total{endpoint="validate",outcome="denied"} 1.0' in text
    assert 'hcs_webhook_decisions_total{endpoint="validate",outcome="bad_request"} 1.0' in text
    assert 'hcs_webhook_review_seconds_count{endpoint="mutate"} 1.0' in text


async def test_certificate_files_are_reloaded_when_they_change(served, tmp_path):
    old_ca = served.cert.read_bytes()
    new_cert, new_key = self_signed(tmp_path / "renewed", ["localhost", "127.0.0.1"])
    # Replace in place (as a Secret volume update does), with a newer mtime.
    served.cert.write_bytes(new_cert.read_bytes())
    served.key.write_bytes(new_key.read_bytes())
    stamp = os.stat(served.cert).st_mtime_ns + 1_000_000
    os.utime(served.cert, ns=(stamp, stamp))
    os.utime(served.key, ns=(stamp, stamp))
    trusts_new = ssl.create_default_context(cafile=str(new_cert))
    async with (
        aiohttp.ClientSession() as client,
        client.get(served.url + "/healthz", ssl=trusts_new) as response,
    ):
        assert response.status == 200
    assert served.tls.reloads == 1
    trusts_old = ssl.create_default_context(cadata=old_ca.decode())
    async with aiohttp.ClientSession() as client:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await client.get(served.url + "/healthz", ssl=trusts_old)


async def test_a_half_written_certificate_keeps_the_old_one(served, tmp_path):
    served.key.write_bytes(b"-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n")
    await asyncio.sleep(0)
    async with aiohttp.ClientSession() as client:
        trusts = ssl.create_default_context(cafile=str(served.cert))
        async with client.get(served.url + "/healthz", ssl=trusts) as response:
            assert response.status == 200
    assert served.tls.reloads == 0


async def test_recorded_ascend_review_setting_its_own_devices_is_refused(served, kit):
    review = kit.recorded("create-pod-ascend-rebind.json")  # sets ASCEND_VISIBLE_DEVICES=0,1
    for path in ("/mutate", "/validate"):
        status, answer = await served.post(path, review)
        assert (status, answer["response"]["allowed"]) == (200, False)
        message = answer["response"]["status"]["message"]
        assert "container 'finetune': env ASCEND_VISIBLE_DEVICES is set by HCS" in message


async def test_recorded_ascend_review_is_bound_early_and_rebound(served, kit):
    served.planner.answer = lambda pod: PlanResult(vendor="ascend", model="Ascend-910B3")
    review = kit.recorded("create-pod-ascend-rebind.json")
    finetune = review["request"]["object"]["spec"]["containers"][0]
    finetune["env"] = [{"name": "EPOCHS", "value": "2"}]  # not its own devices (refused above)
    status, answer = await served.post("/mutate", review)
    assert status == 200
    pod = kit.apply_patch(review["request"]["object"], decoded_patch(answer))
    kit.assert_valid_pod(pod)
    finetune, metrics = pod["spec"]["containers"]
    assert finetune["image"] == "ascendhub.example/ascend-cann:8.0-ubuntu22.04"
    assert metrics["image"] == "registry.example.com/ops/exporter:1", "no accelerator, untouched"
    assert "env" not in metrics
    names = [c["name"] for c in pod["spec"]["initContainers"]]
    assert names == ["hcs-code-finetune", "fetch-weights"]
    env = kit.env_of(pod, "finetune")
    assert env["ASCEND_VISIBLE_DEVICES"]["fieldRef"]["fieldPath"] == (
        "metadata.annotations['hcs.io/devices.finetune']"
    )
    assert env["EPOCHS"] == "2"
    assert "NVIDIA_VISIBLE_DEVICES" not in env
    assert served.planner.asked == [review["request"]["object"]]
    status, answer = await served.post(
        "/validate", {**review, "request": {**review["request"], "object": pod}}
    )
    assert (status, answer["response"]["allowed"]) == (200, True), "HCS's own env passes"
    # The API server sends the patched pod again (reinvocation): nothing more to do.
    review["request"]["object"] = pod
    status, answer = await served.post("/mutate", review)
    assert answer["response"]["allowed"] is True
    assert "patch" not in answer["response"]


async def test_recorded_bind_update_is_allowed_for_hcs_and_denied_for_a_user(served, kit):
    review = kit.recorded("update-pod-bind-annotations.json")
    status, answer = await served.post("/validate", review)
    assert (status, answer["response"]["allowed"]) == (200, True)
    review["request"]["userInfo"] = {"username": "mallory", "groups": ["system:authenticated"]}
    _, answer = await served.post("/validate", review)
    assert answer["response"]["allowed"] is False
    assert "mallory may not add, change or remove it" in answer["response"]["status"]["message"]


async def test_a_slow_client_is_cut_off(tmp_path, exchange):
    settings = WebhookSettings(request_timeout=0.5)
    planner = FakePlanner(lambda pod: PlanResult(error="unused"))
    runner = make_runner(settings, Deps(InMemoryCluster(), planner, exchange))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        for partial in (
            b"POST /validate HTTP/1.1\r\nHost: x\r\n",  # headers never finished
            b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{",  # body
        ):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(partial)
            started = asyncio.get_running_loop().time()
            answer = await asyncio.wait_for(reader.read(), 5)  # until the server closes
            writer.close()
            assert asyncio.get_running_loop().time() - started < 3
            assert answer == b"" or answer.startswith(b"HTTP/1.1 408")
    finally:
        await runner.cleanup()
