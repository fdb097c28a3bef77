"""The API client's errors as the extender's, and one watch streamed in a thread of its own.

Split from kube_client so each file stays readable; kube_client is the only user.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Callable
from typing import Any, Final

import urllib3
from kubernetes import client as k8s
from kubernetes import watch as k8s_watch

from hcs_scheduler.extender.kube import Conflict, EventType, KubeError, NotFound, WatchEvent

_EVENT_TYPES: Final = {t.value: t for t in EventType}


def translate(exc: BaseException, what: str) -> KubeError:
    """The port's error for a client exception; the message names `what` was asked for."""
    if not isinstance(exc, k8s.ApiException):
        return KubeError(f"{what}: cannot reach the API server ({exc})")
    status = exc.status or None
    message = exc.reason or "no reason given"
    try:
        served = json.loads(exc.body) if exc.body else None
    except ValueError:
        served = None
    if isinstance(served, dict) and served.get("message"):
        message = str(served["message"])
    if status == 410:
        message += "; list again"
    text = f"{what}: {message} (HTTP {status})" if status else f"{what}: {message}"
    if status == 404:
        return NotFound(text, status)
    if status == 409:
        return Conflict(text, status)
    return KubeError(text, status)


def deliver(
    loop: asyncio.AbstractEventLoop,
    queue: asyncio.Queue[WatchEvent | BaseException | None],
    item: WatchEvent | BaseException | None,
) -> None:
    """Hand `item` from the watch thread to the loop (dropped if the loop is already gone)."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(queue.put_nowait, item)


class WatchThread:
    """One watch, streamed by `kubernetes.watch.Watch` in a thread of its own.

    Each request lasts `timeout` seconds on the server; the next starts from the last
    resourceVersion seen. Events, then a final KubeError or None, go to `deliver`.
    """

    def __init__(
        self,
        *,
        what: str,
        lister: Callable[..., Any],
        resource_version: str | None,
        timeout: int,
        connect_timeout: float,
        deliver: Callable[[WatchEvent | BaseException | None], None],
    ) -> None:
        self._what = what
        self._lister = lister
        self._resource_version = resource_version
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._deliver = deliver
        # return_type "object": the client leaves each object a dict instead of building models.
        self._watch = k8s_watch.Watch(return_type="object")  # type: ignore[no-untyped-call]
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=what, daemon=True)

    def start(self) -> None:
        self._thread.start()

    async def stop(self, patience: float = 5.0) -> None:
        """End the stream: close its socket, then wait (up to `patience` s) for the thread."""
        self._stopping.set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + patience
        # Watch.stop() closes the socket only once the request is under way: repeat it until the
        # thread has seen it.
        while self._thread.is_alive() and loop.time() < deadline:
            self._watch.stop()  # type: ignore[no-untyped-call]
            await asyncio.sleep(0.02)

    def _run(self) -> None:
        final: BaseException | None = None
        try:
            while not self._stopping.is_set():
                self._stream_once()
                self._resource_version = self._watch.resource_version
                if self._resource_version is None:
                    break  # nowhere to resume from: the caller lists again
        except (k8s.ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
            if not self._stopping.is_set():
                final = translate(exc, self._what)
        except Exception as exc:  # a bug or a malformed stream: end the watch, say why
            if not self._stopping.is_set():
                final = KubeError(f"{self._what}: {type(exc).__name__}: {exc}")
        finally:
            self._deliver(final)

    def _stream_once(self) -> None:
        kwargs: dict[str, Any] = {
            "timeout_seconds": self._timeout,
            "_request_timeout": (self._connect_timeout, self._timeout + 30),
        }
        if self._resource_version is not None:
            kwargs["resource_version"] = self._resource_version
        for event in self._watch.stream(self._lister, **kwargs):  # type: ignore[no-untyped-call]
            if self._stopping.is_set():
                return
            event_type = _EVENT_TYPES.get(str(event.get("type")))
            obj = event.get("raw_object")
            if event_type is not None and isinstance(obj, dict):  # BOOKMARK and the like: skip
                self._deliver(WatchEvent(event_type, obj))
