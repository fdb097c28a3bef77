"""The ClusterReads adapter on the official kubernetes client, over real HTTP against kmock."""

import kubernetes
import pytest

from hcs_webhook.errors import ClusterReadError
from hcs_webhook.kube import KubernetesCluster

pytestmark = [pytest.mark.asyncio, pytest.mark.integration]


def client_for(kmock) -> KubernetesCluster:
    configuration = kubernetes.client.Configuration()
    configuration.host = str(kmock.url).rstrip("/")
    return KubernetesCluster(kubernetes.client.ApiClient(configuration))


QUOTA = {
    "apiVersion": "hcs.io/v1alpha1",
    "kind": "ComputeQuota",
    "metadata": {"name": "team", "namespace": "ml", "uid": "q1", "resourceVersion": "7"},
    "spec": {"hard": {"vram": "64Gi", "acu": "200"}, "podSelector": {"matchLabels": {"t": "a"}}},
}
NODE = {
    "apiVersion": "hcs.io/v1alpha1",
    "kind": "ComputeNode",
    "metadata": {"name": "gpu-01"},
    "spec": {
        "nodeName": "gpu-01",
        "vendors": ["nvidia"],
        "devices": [
            {"id": "0", "uuid": "GPU-0", "vendor": "nvidia", "model": "T4", "vram": "16Gi"}
        ],
    },
}


async def test_reads_quotas_pods_and_computenodes(kmock, kit):
    kmock.objects["hcs.io/v1alpha1/computequotas", "ml", "team"] = QUOTA
    kmock.objects["hcs.io/v1alpha1/computequotas", "other", "x"] = {
        **QUOTA,
        "metadata": {"name": "x", "namespace": "other"},
    }
    broken = {
        **QUOTA,
        "metadata": {"name": "broken", "namespace": "ml"},
        "spec": {"hard": {"vram": "-1"}},
    }
    kmock.objects["hcs.io/v1alpha1/computequotas", "ml", "broken"] = broken
    running = kit.pod(kit.container("train", vram="16Gi"), name="running", labels={"t": "a"})
    kmock.objects["v1/pods", "ml", "running"] = running
    kmock.objects["hcs.io/v1alpha1/computenodes", None, "gpu-01"] = NODE
    cluster = client_for(kmock)

    quotas = await cluster.compute_quotas("ml")
    assert [q.metadata.name for q in quotas] == ["team"], "the invalid one is skipped, logged"
    assert str(quotas[0].spec.hard.vram) == "64Gi"
    pods = await cluster.pods("ml")
    assert pods[0]["spec"]["containers"][0]["resources"]["limits"] == {"ai.compute/vram": "16Gi"}
    nodes = await cluster.compute_nodes()
    assert [n.spec.node_name for n in nodes] == ["gpu-01"]
    pod_list = next(r for r in kmock if r.url.path == "/api/v1/namespaces/ml/pods")
    assert pod_list.url.query["fieldSelector"] == "status.phase!=Succeeded,status.phase!=Failed"
    paths = [request.url.path for request in kmock]
    assert "/apis/hcs.io/v1alpha1/namespaces/ml/computequotas" in paths
    assert "/api/v1/namespaces/ml/pods" in paths
    assert "/apis/hcs.io/v1alpha1/computenodes" in paths


async def test_api_errors_become_cluster_read_errors(kmock):
    # Nothing declared: kmock answers 404 for an unknown resource, as the API server would
    # before the CRD is installed.
    with pytest.raises(ClusterReadError, match="404"):
        await client_for(kmock).compute_quotas("ml")
