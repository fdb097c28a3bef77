"""The kube-scheduler HTTP extender: filter, prioritize, bind (and /plan for the webhook).

`wire` holds the protocol's typed messages, `state` the cluster cache fed by watches, `decide`
the pure answers over that cache, `binder` the bind flow, `kube` the port to the API server with
its in-memory adapter, `leader` the election on a Lease (only the leader binds and writes
status), `app` the aiohttp server.
"""
