"""The Planner port on HTTP: hcs-scheduler's `POST {scheduler_url}/plan`, with aiohttp."""

from __future__ import annotations

from typing import Any

import aiohttp
from pydantic import ValidationError

from hcs_api import PlanRequest, PlanResult
from hcs_webhook.errors import PlanError


class HttpPlanner:
    """Asks the extender; every failure (network, status, body) becomes PlanError."""

    def __init__(self, base_url: str, timeout_seconds: float) -> None:
        self._url = base_url.rstrip("/") + "/plan"
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None

    async def plan(self, pod: dict[str, Any]) -> PlanResult:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        body = PlanRequest(pod=pod).to_wire()
        try:
            async with self._session.post(self._url, json=body) as response:
                text = await response.text()
                if response.status != 200:
                    raise PlanError(f"{self._url} answered {response.status}: {text[:200]}")
                return PlanResult.model_validate_json(text)
        except (aiohttp.ClientError, TimeoutError) as error:
            reason = str(error) or type(error).__name__
            raise PlanError(f"{self._url} could not be asked: {reason}") from None
        except ValidationError as error:
            raise PlanError(f"{self._url} answered no PlanResult: {error}") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
