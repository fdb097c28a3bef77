"""Who may call the extender's writing verbs: /bind (kube-scheduler) and /plan (the webhook).

filter and prioritize only read the cache, and stay open to whoever reaches the port. /bind
writes a pod's Binding and /plan reveals where capacity is: each is answered only for

- a TLS client certificate, verified against `client_ca`, whose subject common name is in
  `bind_clients` (kube-scheduler's extender `tlsConfig` can present one; it sends no token), or
- a bearer token the API server vouches for (a TokenReview) whose user is in `token_users` (the
  webhook's service-account token).

Anything else gets 401 (no credentials) or 403 (credentials of someone else), as JSON like every
other answer. `open_bind` switches the check off, for a test cluster or static mode; it is off
by default. A token's verdict is kept for `TOKEN_CACHE_SECONDS`, so a burst of /plan calls
costs one TokenReview.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

PROTECTED = frozenset({"/bind", "/plan"})
TOKEN_CACHE_SECONDS = 60.0
TOKEN_CACHE_SIZE = 1024

TokenReviewer = Callable[[str], Awaitable[str | None]]
"""A token -> the user the API server authenticates it as (None: not authenticated)."""


class Refused(Exception):
    """The caller may not use this verb; `status` is 401 or 403."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Access:
    """The rule above, with the clients and users it lets in."""

    open: bool = False
    clients: frozenset[str] = frozenset()
    """Subject common names of client certificates allowed to bind and plan."""
    users: frozenset[str] = frozenset()
    """Users (from a TokenReview) allowed to bind and plan."""
    reviewer: TokenReviewer | None = None
    clock: Callable[[], float] = time.monotonic
    _verdicts: dict[str, tuple[float, str | None]] = field(default_factory=dict)

    async def check(self, path: str, peer_cert: dict[str, Any] | None, authorization: str) -> str:
        """Who the caller is (for the log), or Refused."""
        if self.open or path not in PROTECTED:
            return "anyone"
        name = common_name(peer_cert)
        if name is not None:
            if name in self.clients:
                return f"client certificate {name}"
            raise Refused(403, f"client certificate {name!r} may not call {path}")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Refused(
                401,
                f"{path} needs a client certificate or a bearer token (only kube-scheduler and "
                "hcs-webhook may call it)",
            )
        user = await self._review(token.strip())
        if user is None:
            raise Refused(401, f"the bearer token sent to {path} is not valid")
        if user not in self.users:
            raise Refused(403, f"user {user} may not call {path}")
        return f"user {user}"

    async def _review(self, token: str) -> str | None:
        if self.reviewer is None:
            return None
        key = hashlib.sha256(token.encode()).hexdigest()
        now = self.clock()
        kept = self._verdicts.get(key)
        if kept is not None and now - kept[0] < TOKEN_CACHE_SECONDS:
            return kept[1]
        user = await self.reviewer(token)
        if len(self._verdicts) >= TOKEN_CACHE_SIZE:
            self._verdicts.clear()
        self._verdicts[key] = (now, user)
        return user


def common_name(peer_cert: dict[str, Any] | None) -> str | None:
    """The subject CN of a verified peer certificate as `ssl` reports it (None: no certificate)."""
    for rdn in (peer_cert or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None


def access_middleware(access: Access) -> Any:
    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        transport = request.transport
        peer = transport.get_extra_info("peercert") if transport is not None else None
        try:
            await access.check(request.path, peer, request.headers.get("Authorization", ""))
        except Refused as refused:
            log.warning(
                "refused %s %s from %s: %s", request.method, request.path, request.remote, refused
            )
            return web.json_response({"Error": str(refused)}, status=refused.status)
        return await handler(request)

    return middleware
