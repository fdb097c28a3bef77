"""The Planner port on HTTP: hcs-scheduler's `POST {scheduler_url}/plan`, with aiohttp."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import aiohttp
from pydantic import ValidationError

from hcs_api import PlanRequest, PlanResult
from hcs_webhook.errors import PlanError


class HttpPlanner:
    """Asks the extender; every failure (network, status, body) becomes PlanError.

    hcs-scheduler answers /plan only to callers it trusts: the webhook sends its service
    account's token (`token_file`, re-read per call: the kubelet rotates it) and verifies the
    extender's certificate against `ca`."""

    def __init__(
        self,
        base_url: str,
        timeout_seconds: float,
        ca: Path | None = None,
        token_file: Path | None = None,
    ) -> None:
        self._url = base_url.rstrip("/") + "/plan"
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None
        self._ssl = ssl.create_default_context(cafile=str(ca)) if ca is not None else True
        self._token_file = token_file

    def _headers(self) -> dict[str, str]:
        if self._token_file is None:
            return {}
        try:
            token = self._token_file.read_text().strip()
        except OSError:
            return {}  # not in a pod (a developer's run): hcs-scheduler decides whether to answer
        return {"Authorization": f"Bearer {token}"} if token else {}

    async def plan(self, pod: dict[str, Any]) -> PlanResult:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(ssl=self._ssl)
            self._session = aiohttp.ClientSession(timeout=self._timeout, connector=connector)
        body = PlanRequest(pod=pod).to_wire()
        try:
            async with self._session.post(
                self._url, json=body, headers=self._headers()
            ) as response:
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
