"""Every decision annotation, per-container ones included, set, changed or removed at CREATE or
UPDATE by anyone but HCS's own service account is denied over HTTPS naming the key; HCS may."""

import pytest

pytestmark = [pytest.mark.asyncio, pytest.mark.integration]

HCS = "system:serviceaccount:hcs-system:hcs-scheduler"
USERS = {"hcs": HCS, "other-sa": "system:serviceaccount:ml:trainer", "user": "alice"}
KEYS = {
    "hcs.io/node": ("gpu-1", "gpu-2"),
    "hcs.io/vendor": ("nvidia", "ascend"),
    "hcs.io/allocation": ('{"node":"gpu-1"}', '{"node":"gpu-2"}'),
    "hcs.io/bind-phase": ("bound", "failed"),
    "hcs.io/bind-time": ("2026-12-06T10:00:00Z", "2026-12-06T11:00:00Z"),
    "hcs.io/devices.train": ("0", "0,1,2,3"),
    "hcs.io/vram-quota.train": ("17179869184", "999999999999999"),
    "hcs.io/resume-from": ("/ckpt/step-30.pt", "/ckpt/step-40.pt"),
}
# (case, operation, annotations before, annotations after) as functions of (key, a, b)
CHANGES = {
    "create-set": ("CREATE", lambda k, a, b: None, lambda k, a, b: {k: a}),
    "update-set": ("UPDATE", lambda k, a, b: {}, lambda k, a, b: {k: a}),
    "update-changed": ("UPDATE", lambda k, a, b: {k: a}, lambda k, a, b: {k: b}),
    "update-removed": ("UPDATE", lambda k, a, b: {k: a}, lambda k, a, b: {}),
}


def _pod(kit, annotations):
    annotations = {**annotations, "team": "a"}  # an unrelated annotation keeps the dict non-empty
    return kit.pod(kit.container("train", vram="16Gi"), annotations=annotations)


@pytest.mark.parametrize("user", list(USERS), ids=list(USERS))
@pytest.mark.parametrize("change", list(CHANGES), ids=list(CHANGES))
@pytest.mark.parametrize("key", list(KEYS), ids=[k.removeprefix("hcs.io/") for k in KEYS])
async def test_decision_annotation_matrix(served, kit, key, change, user):
    operation, before, after = CHANGES[change]
    first, second = KEYS[key]
    old_annotations = before(key, first, second)
    old = None if old_annotations is None else _pod(kit, old_annotations)
    new = _pod(kit, after(key, first, second))
    review = kit.review(new, operation, old, USERS[user])
    status, answer = await served.post("/validate", review)
    assert status == 200
    response = answer["response"]
    if user == "hcs":
        assert response["allowed"] is True, response
        return
    assert response["allowed"] is False
    assert response["status"]["code"] == 403
    message = response["status"]["message"]
    assert key in message
    assert "written only by HCS" in message


@pytest.mark.parametrize("user", ["other-sa", "user"])
async def test_keeping_decisions_unchanged_is_allowed_to_anyone(served, kit, user):
    # A user relabelling a running pod sends its decisions back as they are.
    annotations = {key: first for key, (first, _) in KEYS.items()}
    old, new = _pod(kit, annotations), _pod(kit, annotations)
    new["metadata"]["labels"] = {"owner": "alice"}
    status, answer = await served.post("/validate", kit.review(new, "UPDATE", old, USERS[user]))
    assert (status, answer["response"]["allowed"]) == (200, True)
