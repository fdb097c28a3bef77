"""What one request may cost the webhook: its body's size and how long it may take to arrive.

A body over `max_body_bytes` is refused from its Content-Length, before a byte of it is read; a
body that does not arrive within `request_timeout` is given up; headers are bounded by the
keep-alive timeout, which aiohttp also starts when a connection opens (see cli.py). The rule is
the extender's (hcs_scheduler.extender.limits): the two packages may not import each other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def limits_middleware(max_body_bytes: int, timeout: float) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        length = request.content_length
        if length is not None and length > max_body_bytes:
            return _refused(413, f"body is {length} bytes; at most {max_body_bytes} are read")
        try:
            async with asyncio.timeout(timeout):
                await request.read()  # kept by aiohttp: the handler reads it again for free
        except TimeoutError:
            return _refused(408, f"body did not arrive within {timeout:g} s")
        except web.HTTPRequestEntityTooLarge:
            return _refused(413, f"body is over {max_body_bytes} bytes")
        return await handler(request)

    return middleware


def _refused(status: int, message: str) -> web.Response:
    response = web.json_response({"error": message}, status=status)
    response.force_close()
    return response
