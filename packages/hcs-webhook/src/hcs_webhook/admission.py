"""One review in, one answer out: gathers what the pure decisions need through the ports.

The decisions themselves are pure (validation.py, quota.py, mutation.py, topology.py); this
module only asks the cluster and the planner, and turns Denied into an admission response.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from dataclasses import dataclass
from typing import Any

from hcs_api import ComputeRequest, PodRequest, Preferences
from hcs_api.names import Vendor
from hcs_exchange import Demand, Exchange, fill_from_reports, lacking
from hcs_webhook._early import bound_vendor
from hcs_webhook.errors import BadReviewError, ClusterReadError, PlanError
from hcs_webhook.isolation import explain, isolation_problems
from hcs_webhook.mutation import Binding, mutate
from hcs_webhook.ports import ClusterReads, Planner
from hcs_webhook.quota import check_quota
from hcs_webhook.resume import resume_from
from hcs_webhook.review import AdmissionRequest, AdmissionResponse, Operation, allow, deny
from hcs_webhook.settings import WebhookSettings
from hcs_webhook.topology import vendors_without_p2p
from hcs_webhook.validation import Denied, check_decisions, check_satisfiable, read_request

log = logging.getLogger(__name__)

EPHEMERAL = "ephemeralcontainers"
"""The pod subresource `kubectl debug` writes ephemeral containers through."""


@dataclass(frozen=True)
class Deps:
    """What the webhook talks to: the Kubernetes API, hcs-scheduler, the exchange rates."""

    cluster: ClusterReads
    planner: Planner
    exchange: Exchange


class Admission:
    """The validating and mutating decisions for pods."""

    def __init__(self, settings: WebhookSettings, deps: Deps) -> None:
        self.settings = settings
        self.deps = deps
        # Whether a request shape is servable depends only on the shape and the profiles, and
        # costs ~3 ms of exact arithmetic over every model: pods of one job share the shape.
        self._unservable = functools.lru_cache(maxsize=4096)(self._why_unservable)

    def _why_unservable(self, effective: ComputeRequest, preferences: Preferences) -> str | None:
        request = PodRequest(containers=(), effective=effective, preferences=preferences)
        try:
            check_satisfiable(request, self.deps.exchange, self.settings.max_devices_per_node)
        except Denied as denied:
            return str(denied)
        return None

    async def validate(self, request: AdmissionRequest) -> AdmissionResponse:
        if not request.is_pod() or request.operation not in (Operation.CREATE, Operation.UPDATE):
            return allow(request.uid)
        pod = _pod(request)
        try:
            check_decisions(request, self.settings)
            if request.operation is not Operation.CREATE:
                # Resources are fixed at CREATE; an UPDATE is judged on the decision
                # annotations, and an added ephemeral container on its isolation too.
                if request.sub_resource == EPHEMERAL and not read_request(pod).is_empty():
                    self._check_isolation(request, pod)
                return allow(request.uid)
            pod_request = read_request(pod)
            if pod_request.is_empty():
                return allow(request.uid)
            self._check_isolation(request, pod)
            unservable = self._unservable(pod_request.effective, pod_request.preferences)
            if unservable is not None:
                await self._refuse_unless_nodes_serve(pod_request, unservable)
            if self.settings.enforce_quota:
                await self._check_quota(request, pod, pod_request)
        except Denied as denied:
            return deny(request.uid, str(denied), denied.code)
        return allow(request.uid)

    async def mutate(self, request: AdmissionRequest) -> AdmissionResponse:
        if not request.is_pod() or request.operation is not Operation.CREATE:
            return allow(request.uid)
        pod = _pod(request)
        try:
            pod_request = read_request(pod)
            if pod_request.is_empty():
                return allow(request.uid)
            self._check_isolation(request, pod)
            binding = await self._binding(pod, pod_request)
        except Denied as denied:
            return deny(request.uid, str(denied), denied.code)
        # A failed read only costs the job its resume point: never a reason to refuse the pod.
        resume = await resume_from(pod, pod_request, self.deps.cluster, _namespace(request, pod))
        if resume.warning is not None:
            log.warning("pod %s/%s: %s", request.namespace, _name(pod), resume.warning)
        binding = dataclasses.replace(binding, resume_from=resume.path)
        mutation = mutate(pod, pod_request, self.settings, binding)
        for warning in mutation.warnings:
            log.info("pod %s/%s: %s", request.namespace, _name(pod), warning)
        warnings = [resume.warning] if resume.warning is not None else []
        return allow(request.uid, mutation.patch, warnings + mutation.warnings)

    async def _refuse_unless_nodes_serve(self, pod_request: PodRequest, why: str) -> None:
        """Denied(`why`) unless a figure the profiles lack, filled from what the agents report
        in the ComputeNodes (a model without a published VRAM), makes the pod servable: the
        webhook refuses only what no profile and no node can serve."""
        database = self.deps.exchange.database
        if not lacking(database, [p.model for p in database.profiles]):
            raise Denied(why)
        try:
            nodes = await self.deps.cluster.compute_nodes()
        except ClusterReadError as error:
            log.error("ComputeNodes unreadable for a profile without figures: %s", error)
            raise Denied(
                f"{why} (HCS could not read ComputeNodes now: {error}; retry)", 503
            ) from None
        filled = self.deps.exchange.over(fill_from_reports(database, nodes))
        check_satisfiable(pod_request, filled, self.settings.max_devices_per_node)

    def _check_isolation(self, request: AdmissionRequest, pod: dict[str, Any]) -> None:
        problems = isolation_problems(pod, self.settings, _namespace(request, pod))
        if problems:
            raise Denied(explain(problems))

    async def _check_quota(
        self, request: AdmissionRequest, pod: dict[str, Any], pod_request: PodRequest
    ) -> None:
        namespace = _namespace(request, pod)
        try:
            quotas = await self.deps.cluster.compute_quotas(namespace)
            if not quotas:
                return
            pods = await self.deps.cluster.pods(namespace)
        except ClusterReadError as error:
            log.error("quota check failed: %s", error)
            raise Denied(f"HCS could not check ComputeQuota now ({error}); retry", 503) from None
        check_quota(pod, pod_request.effective, quotas, pods, self.deps.exchange)

    async def _binding(self, pod: dict[str, Any], pod_request: PodRequest) -> Binding:
        preferences = pod_request.preferences
        allowed = [v for v in Vendor if preferences.allows_vendor(v)]
        pinned = allowed[0] if len(allowed) == 1 else None
        vendor, model = None, None
        if pinned is not None or preferences.rebind_image:
            vendor = bound_vendor(pod)
            if vendor is None:
                vendor, model = await self._plan(pod, pinned)
            if preferences.rebind_image and self.settings.runtime(vendor).runtime_image is None:
                raise Denied(
                    f"image rebinding to {vendor} is not configured on this cluster "
                    f"(setting vendors.{vendor}.runtime_image); remove hcs.io/rebind-image"
                )
        devices = pod_request.effective.devices
        if model is not None:
            demand = Demand.from_request(pod_request.effective, preferences.sharded)
            fit = self.deps.exchange.fit(demand, model)
            devices = max(devices, fit.devices or 0)
        return Binding(
            vendor=vendor,
            rebind_image=preferences.rebind_image,
            p2p_env=await self._p2p_env([vendor] if vendor else allowed, devices, model),
        )

    async def _plan(self, pod: dict[str, Any], pinned: Vendor | None) -> tuple[Vendor, str | None]:
        try:
            result = await self.deps.planner.plan(pod)
        except PlanError as error:
            if pinned is not None:
                log.warning("plan failed, binding to the pinned vendor %s: %s", pinned, error)
                return pinned, None
            raise Denied(
                f"image rebinding needs the vendor now and hcs-scheduler could not be asked "
                f"({error}); retry",
                503,
            ) from None
        if pinned is not None and result.vendor is not pinned:
            return pinned, None  # nothing of the pinned vendor free now: it will wait for one
        if result.vendor is None:
            raise Denied(f"no vendor can serve this pod now: {result.error or 'no reason given'}")
        return result.vendor, result.model

    async def _p2p_env(
        self, vendors: list[Vendor], devices: int, model: str | None
    ) -> dict[str, str]:
        if devices < 2:
            return {}
        try:
            nodes = await self.deps.cluster.compute_nodes()
        except ClusterReadError as error:
            log.warning("ComputeNodes unreadable, no P2P switches set: %s", error)
            return {}
        env: dict[str, str] = {}
        for vendor in vendors_without_p2p(nodes, vendors, devices, model):
            env.update(self.settings.runtime(vendor).p2p_disable_env or {})
        return env


def _pod(request: AdmissionRequest) -> dict[str, Any]:
    if not isinstance(request.object, dict):
        raise BadReviewError(f"request.object is missing for a pod {request.operation}")
    return request.object


def _namespace(request: AdmissionRequest, pod: dict[str, Any]) -> str:
    return str(request.namespace or (pod.get("metadata") or {}).get("namespace") or "")


def _name(pod: dict[str, Any]) -> str:
    metadata = pod.get("metadata") or {}
    return str(metadata.get("name") or metadata.get("generateName") or "?")
