"""Wire the extender's parts together: from settings (and a port, if any) to an Extender."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from hcs_api.v1alpha1 import ComputeNode
from hcs_exchange import Exchange, load_database
from hcs_scheduler.extender.app import Extender
from hcs_scheduler.extender.binder import Binder
from hcs_scheduler.extender.decide import Decider
from hcs_scheduler.extender.kube import KubePort
from hcs_scheduler.extender.leader import Clock, ElectionConfig, LeaderElector
from hcs_scheduler.extender.metrics import ExtenderMetrics
from hcs_scheduler.extender.settings import ExtenderSettings
from hcs_scheduler.extender.state import ClusterState
from hcs_scheduler.extender.static import read_computenodes
from hcs_scheduler.extender.status import StatusWriter
from hcs_scheduler.extender.sync import Syncer


def build_extender(
    settings: ExtenderSettings,
    kube: KubePort | None,
    exchange: Exchange | None = None,
    clock: Callable[[], float] | None = None,
    nodes: Iterable[ComputeNode] | None = None,
    on_synced: Callable[[], None] = lambda: None,
    election_clock: Clock | None = None,
) -> Extender:
    """Static mode when `kube` is None (nodes given, or from settings.cluster), else follow
    the API server; with several replicas (settings.leader_elect) only the Lease's holder
    binds and writes status."""
    exchange = exchange or Exchange(load_database())
    state = ClusterState(clock) if clock is not None else ClusterState()
    if kube is None:
        if nodes is None:
            if settings.cluster is None:
                raise ValueError("static mode needs a cluster file")
            nodes = read_computenodes(settings.cluster)
        for node in nodes:
            state.upsert_node(node)
        state.cluster()  # the snapshot now, not at the first request (as the Syncer does)
        state.synced = True
    leader = elector(settings, kube, election_clock)

    def leading() -> bool:
        return leader is None or leader.is_leader

    decider = Decider(state, exchange, settings.policy, quota_ttl=settings.assume_ttl)
    return Extender(
        state=state,
        decider=decider,
        binder=Binder(state, decider, kube, settings.assume_ttl, leader=leader),
        metrics=ExtenderMetrics(state, exchange, leading),
        syncer=Syncer(state, kube, on_synced) if kube is not None else None,
        status_writer=(
            StatusWriter(state, kube, settings.status_interval, leading)
            if kube is not None
            else None
        ),
        leader=leader,
    )


def elector(
    settings: ExtenderSettings, kube: KubePort | None, clock: Clock | None = None
) -> LeaderElector | None:
    """The Lease elector, or None where this replica always leads (static mode: no API to
    elect through and nothing to write; or leader_elect off: a single replica)."""
    if kube is None or not settings.leader_elect:
        return None
    config = ElectionConfig(
        namespace=settings.lease_namespace,
        name=settings.lease_name,
        identity=settings.identity,
        lease_duration=settings.lease_duration,
        renew_deadline=settings.renew_deadline,
        retry_period=settings.retry_period,
    )
    return LeaderElector(kube, config, clock)
