"""A pod cannot switch off its own slice: every variable and path HCS enforces through, set by
any route in any container, is refused naming the container and the key (unless the namespace
is trusted); HCS's own injected values pass, and harmless look-alikes are left alone."""

import base64
import copy
import json

import pytest

from hcs_webhook.isolation import isolation_problems
from hcs_webhook.mutation import Binding, mutate
from hcs_webhook.validation import read_request

pytestmark = [pytest.mark.integration]


def _with(kit, change):
    obj = kit.pod(kit.container("train", vram="16Gi"), kit.container("sidecar"))
    change(obj["spec"])
    return obj


def env(container, name, value=None, **value_from):
    entry = {"name": name, "value": value} if value is not None else {"name": name}
    if value_from:
        entry["valueFrom"] = value_from
    container.setdefault("env", []).append(entry)


def mount(container, name, path, **extra):
    container.setdefault("volumeMounts", []).append({"name": name, "mountPath": path, **extra})


def volume(spec, name, **source):
    spec.setdefault("volumes", []).append({"name": name, **source})


def train(spec):
    return spec["containers"][0]


def other_ref(container, name):
    path = "metadata.annotations['hcs.io/devices.other']"
    env(container, name, fieldRef={"apiVersion": "v1", "fieldPath": path})


def init_with_env(spec):
    spec["initContainers"] = [{"name": "fetch", "image": "busybox"}]
    env(spec["initContainers"][0], "MLU_VISIBLE_DEVICES", "0,1,2,3")


def empty_dir_at(path, **extra):
    def change(spec):
        volume(spec, "scratch", emptyDir={})
        mount(train(spec), "scratch", path, **extra)

    return change


def renamed_runtime(spec):
    volume(spec, "hcs-runtime", emptyDir={})


def runtime_sub_path(spec):
    volume(spec, "hcs-runtime", hostPath={"path": "/var/lib/hcs/runtime", "type": "Directory"})
    mount(train(spec), "hcs-runtime", "/usr/local/hcs", subPath="lib")


def privileged(spec):
    spec["containers"][1]["securityContext"] = {"privileged": True}


def host_path(path):
    def change(spec):
        volume(spec, "host", hostPath={"path": path})
        mount(train(spec), "host", "/host")

    return change


def ephemeral(spec):
    spec["ephemeralContainers"] = [{"name": "debug", "image": "busybox"}]
    env(spec["ephemeralContainers"][0], "NVIDIA_VISIBLE_DEVICES", "all")


REFUSED = [
    (
        "visible-devices-all",
        lambda s: env(train(s), "NVIDIA_VISIBLE_DEVICES", "all"),
        "container 'train': env NVIDIA_VISIBLE_DEVICES",
    ),
    (
        "quota-huge",
        lambda s: env(train(s), "HCS_VRAM_QUOTA", "1Ti"),
        "container 'train': env HCS_VRAM_QUOTA",
    ),
    (
        "per-device-quota",
        lambda s: env(train(s), "HCS_VRAM_QUOTA_0", "1Ti"),
        "env HCS_VRAM_QUOTA_0",
    ),
    ("preload-emptied", lambda s: env(train(s), "LD_PRELOAD", ""), "env LD_PRELOAD"),
    (
        "own-accounting-region",
        lambda s: env(train(s), "HCS_SHM_PATH", "/tmp/mine"),
        "env HCS_SHM_PATH",
    ),
    (
        "sidecar-without-request",
        lambda s: env(s["containers"][1], "ASCEND_VISIBLE_DEVICES", "0"),
        "container 'sidecar': env ASCEND_VISIBLE_DEVICES",
    ),
    ("init-container", init_with_env, "init container 'fetch': env MLU_VISIBLE_DEVICES"),
    ("ephemeral-container", ephemeral, "ephemeral container 'debug': env NVIDIA_VISIBLE_DEVICES"),
    (
        "another-containers-devices",
        lambda s: other_ref(train(s), "HIP_VISIBLE_DEVICES"),
        "env HIP_VISIBLE_DEVICES",
    ),
    (
        "empty-dir-over-runtime",
        empty_dir_at("/usr/local/hcs"),
        "volumeMount /usr/local/hcs covers /usr/local/hcs",
    ),
    (
        "empty-dir-under-runtime",
        empty_dir_at("/usr/local/hcs/lib/"),
        "volumeMount /usr/local/hcs/lib/ covers /usr/local/hcs",
    ),
    (
        "ld-so-preload-sub-path",
        empty_dir_at("/etc/ld.so.preload", subPath="x"),
        "covers /etc/ld.so.preload",
    ),
    ("over-a-driver", empty_dir_at("/usr/local/nvidia"), "covers /usr/local/nvidia (the nvidia"),
    ("runtime-volume-replaced", renamed_runtime, "volume hcs-runtime is HCS's name"),
    ("runtime-volume-sub-path", runtime_sub_path, "volumeMount /usr/local/hcs covers"),
    ("privileged", privileged, "container 'sidecar': securityContext.privileged"),
    ("device-node", host_path("/dev/nvidia0"), "volume host mounts device nodes"),
    ("dev-directory", host_path("/dev"), "mounts device nodes from the host (/dev)"),
    ("host-root", host_path("/"), "mounts device nodes from the host (/)"),
]


@pytest.mark.parametrize(
    ("change", "fragment"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED]
)
def test_each_route_is_refused_naming_the_key(kit, settings, change, fragment):
    problems = isolation_problems(_with(kit, change), settings, "ml")
    assert any(fragment in p for p in problems), problems


ALLOWED = [
    ("renumbering-inside-the-slice", lambda s: env(train(s), "CUDA_VISIBLE_DEVICES", "1")),
    (
        "env-from-a-config-map",
        lambda s: train(s).setdefault("envFrom", []).append({"configMapRef": {"name": "job"}}),
    ),
    ("mount-above-the-runtime", empty_dir_at("/usr/local")),
    ("mount-beside-the-runtime", empty_dir_at("/usr/local/hcs-data")),
    ("unrelated-host-path", host_path("/data/datasets")),
    ("not-privileged", lambda s: train(s).update(securityContext={"privileged": False})),
]


@pytest.mark.parametrize("change", [a[1] for a in ALLOWED], ids=[a[0] for a in ALLOWED])
def test_look_alikes_are_left_alone(kit, settings, change):
    assert isolation_problems(_with(kit, change), settings, "ml") == []


def test_a_trusted_namespace_may_do_all_of_it(kit, settings):
    obj = _with(kit, lambda s: [change(s) for _, change, _ in REFUSED[:3]] and privileged(s))
    assert isolation_problems(obj, settings, "ml")
    trusted = settings.model_copy(update={"trusted_namespaces": ["ml"]})
    assert isolation_problems(obj, trusted, "ml") == []


@pytest.mark.asyncio
async def test_hcs_own_mutation_passes_validation(served, kit, settings):
    obj = kit.pod(kit.container("train", vram="16Gi"), kit.container("sidecar"))
    _, answer = await served.post("/mutate", kit.review(obj))
    mutated = kit.apply_patch(obj, json.loads(base64.b64decode(answer["response"]["patch"])))
    assert isolation_problems(mutated, settings, "ml") == []
    status, answer = await served.post("/validate", kit.review(mutated))
    assert (status, answer["response"]["allowed"]) == (200, True)


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["/mutate", "/validate"])
async def test_both_endpoints_refuse_with_the_key_named(served, kit, path):
    obj = _with(kit, lambda s: env(train(s), "LD_PRELOAD", ""))
    status, answer = await served.post(path, kit.review(obj))
    assert (status, answer["response"]["allowed"]) == (200, False)
    message = answer["response"]["status"]["message"]
    assert "container 'train': env LD_PRELOAD is set by HCS" in message
    assert "trusted_namespaces" in message


@pytest.mark.asyncio
async def test_an_ephemeral_container_added_later_is_refused(served, kit):
    old = kit.pod(kit.container("train", vram="16Gi"))
    new = copy.deepcopy(old)
    new["spec"]["ephemeralContainers"] = [
        {"name": "debug", "image": "busybox", "env": [{"name": "LD_PRELOAD", "value": ""}]}
    ]
    review = kit.review(new, "UPDATE", old)
    review["request"]["subResource"] = "ephemeralcontainers"
    status, answer = await served.post("/validate", review)
    assert (status, answer["response"]["allowed"]) == (200, False)
    assert "ephemeral container 'debug': env LD_PRELOAD" in answer["response"]["status"]["message"]
    new["spec"]["ephemeralContainers"][0]["env"] = []
    review = kit.review(new, "UPDATE", old)
    review["request"]["subResource"] = "ephemeralcontainers"
    _, answer = await served.post("/validate", review)
    assert answer["response"]["allowed"] is True


def test_the_preload_file_mount_is_hcs_own_and_survives_reinvocation(kit, settings):
    preloading = settings.model_copy(update={"preload_from_file": True})
    obj = kit.pod(kit.container("train", vram="16Gi"))
    patch = mutate(obj, read_request(obj), preloading, Binding()).patch
    mutated = kit.apply_patch(obj, patch)
    mounts = {m["mountPath"]: m for m in mutated["spec"]["containers"][0]["volumeMounts"]}
    assert mounts["/etc/ld.so.preload"] == {
        "name": "hcs-runtime",
        "mountPath": "/etc/ld.so.preload",
        "subPath": "ld.so.preload",
        "readOnly": True,
    }
    assert "/usr/local/hcs" in mounts
    kit.assert_valid_pod(mutated)
    assert isolation_problems(mutated, preloading, "ml") == []
    again = mutate(mutated, read_request(mutated), preloading, Binding())
    assert again.patch == []  # idempotent: both runtime mounts are there
    # Off (the default), nothing is mounted at /etc/ld.so.preload.
    plain = kit.apply_patch(obj, mutate(obj, read_request(obj), settings, Binding()).patch)
    assert all(
        m["mountPath"] != "/etc/ld.so.preload"
        for m in plain["spec"]["containers"][0]["volumeMounts"]
    )
