"""The five services' public HTTP APIs, called with the signed-in person's bearer token."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import httpx
from opentelemetry.propagate import inject

from echo_console.settings import ConsoleSettings

Service = Literal["scheduling", "cases", "attendance", "notifications", "reporting"]


class ApiError(Exception):
    """A service refused or failed; `problem` is its RFC 9457 body (or what we know)."""

    def __init__(self, status: int, problem: Mapping[str, Any]) -> None:
        self.status = status
        self.problem = dict(problem)
        super().__init__(f"{status}: {self.problem.get('detail', '')}")

    @property
    def detail(self) -> str:
        return str(self.problem.get("detail") or self.problem.get("title") or "")

    def field_errors(self) -> dict[str, list[str]]:
        """The problem's `errors`, by field name (`fields.x` and `body.x` become `x`)."""
        found: dict[str, list[str]] = {}
        for error in self.problem.get("errors") or []:
            name = str(error.get("field", ""))
            for prefix in ("body.", "fields."):
                name = name.removeprefix(prefix)
            found.setdefault(name, []).append(str(error.get("message", "")))
        return found


class PlatformApi:
    """One pooled HTTP client for every service; errors become `ApiError`."""

    def __init__(
        self, settings: ConsoleSettings, transport: httpx.AsyncBaseTransport | None = None
    ):
        self.bases: dict[str, str] = {
            "scheduling": settings.scheduling_url,
            "cases": settings.cases_url,
            "attendance": settings.attendance_url,
            "notifications": settings.notifications_url,
            "reporting": settings.reporting_url,
        }
        self.client = httpx.AsyncClient(
            timeout=settings.api_timeout, transport=transport, follow_redirects=False
        )

    async def close(self) -> None:
        await self.client.aclose()

    async def request(
        self,
        method: str,
        service: Service,
        path: str,
        token: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        files: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        """The raw answer of a 2xx or 3xx; an `ApiError` for anything else."""
        headers = {"authorization": f"Bearer {token}", "accept": "application/json"}
        inject(headers)  # the person's click and the service's work share one trace
        url = self.bases[service].rstrip("/") + path
        try:
            response = await self.client.request(
                method, url, headers=headers, params=params, json=json, data=data, files=files
            )
        except httpx.HTTPError as exc:
            raise ApiError(
                502,
                {
                    "title": "Bad Gateway",
                    "detail": f"the {service} service did not answer ({type(exc).__name__})",
                },
            ) from None
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"detail": response.text[:500]}
            if not isinstance(problem, dict):
                problem = {"detail": str(problem)}
            raise ApiError(response.status_code, problem)
        return response

    async def get(
        self, service: Service, path: str, token: str, params: Mapping[str, Any] | None = None
    ) -> Any:
        return (await self.request("GET", service, path, token, params=params)).json()

    async def send(self, method: str, service: Service, path: str, token: str, body: Any) -> Any:
        response = await self.request(method, service, path, token, json=body)
        return response.json() if response.content else None
