"""What one request may cost the extender: its body's size and how long it may take to arrive.

A body over `max_body_bytes` is refused from its Content-Length, before a byte of it is read
(one without a length is cut off once it passes the limit); a body that does not arrive within
`request_timeout` is given up. Headers are bounded by the server's keep-alive timeout, which
aiohttp also starts when a connection opens: a client that never finishes its headers is
disconnected after it (see `serve`). Refusals are JSON like every other answer.
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
            return _refused(413, f"the body is {length} bytes; at most {max_body_bytes} are read")
        try:
            async with asyncio.timeout(timeout):
                await request.read()  # kept by aiohttp: the handler reads it again for free
        except TimeoutError:
            return _refused(408, f"the body did not arrive within {timeout:g} s")
        except web.HTTPRequestEntityTooLarge:
            return _refused(413, f"the body is over {max_body_bytes} bytes")
        return await handler(request)

    return middleware


def _refused(status: int, message: str) -> web.Response:
    # Connection: close, so a client that sent too much is not read any further.
    response = web.json_response({"Error": message}, status=status)
    response.force_close()
    return response
