"""Request limits: body size (declared and chunked), token buckets, the 429 middleware."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from echo_runtime.auth import TokenVerifier, mint_dev_token
from echo_runtime.limits import (
    BodyLimitMiddleware,
    RateLimitMiddleware,
    RateRule,
    TokenBucket,
    client_key,
    rate_rules,
)
from echo_runtime.pagination import PageDep
from echo_runtime.problems import install_problem_handlers
from echo_runtime.settings import DEV_SECRET, ServiceSettings
from fastapi import FastAPI, Request
from pydantic import BaseModel
from pydantic_settings import SettingsConfigDict


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Note(BaseModel):
    text: str


def limited_app(clock: FakeClock, *, max_bytes: int = 2048, per_minute: int = 6) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    verifier = TokenVerifier(audience="echo-network", issuer="echo-hub", dev_secret=DEV_SECRET)

    @app.post("/v1/cases", status_code=201)
    async def submit(note: Note) -> dict[str, int]:
        return {"length": len(note.text)}

    @app.post("/v1/webhooks/video/{provider}")
    async def webhook(provider: str, request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @app.get("/v1/items")
    async def items(page: PageDep) -> dict[str, int]:
        return {"limit": page.limit}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(BodyLimitMiddleware, max_bytes=max_bytes)
    app.add_middleware(
        RateLimitMiddleware,
        rules=rate_rules(per_minute, per_minute * 10),
        verifier=verifier,
        clock=clock,
    )
    return app


@pytest.fixture
async def client() -> AsyncIterator[tuple[httpx.AsyncClient, FakeClock]]:
    clock = FakeClock()
    transport = httpx.ASGITransport(app=limited_app(clock))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c, clock


def bearer(subject: str) -> dict[str, str]:
    tok = mint_dev_token(DEV_SECRET, subject=subject, roles=["spoke"], regions=["ontario"])
    return {"authorization": f"Bearer {tok}"}


async def test_a_declared_oversized_body_gets_413_problem(client: Any) -> None:
    c, _ = client
    response = await c.post("/v1/cases", json={"text": "x" * 5000})
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 413 and "limit is 2048 bytes" in body["detail"]


async def test_a_chunked_oversized_body_without_length_gets_413_problem(client: Any) -> None:
    c, _ = client

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"text": "'
        for _ in range(10):
            yield b"y" * 500
        yield b'"}'

    for path in ("/v1/cases", "/v1/webhooks/video/zoom"):  # parsed by FastAPI / read raw
        response = await c.post(
            path, content=chunks(), headers={"content-type": "application/json"}
        )
        assert "content-length" not in response.request.headers
        assert response.status_code == 413, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert "limit is 2048 bytes" in response.json()["detail"]


async def test_a_small_chunked_body_passes(client: Any) -> None:
    c, _ = client

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"text": '
        yield b'"short"}'

    headers = {**bearer("a"), "content-type": "application/json"}
    response = await c.post("/v1/cases", content=chunks(), headers=headers)
    assert response.status_code == 201
    assert response.json() == {"length": 5}


async def test_a_page_size_over_the_maximum_gets_422_naming_the_field(client: Any) -> None:
    c, _ = client
    response = await c.get("/v1/items", params={"limit": 201})
    assert response.status_code == 422
    body = response.json()
    assert body["errors"][0]["field"] == "query.limit"
    assert "200" in body["detail"]
    assert (await c.get("/v1/items", params={"limit": 200})).json() == {"limit": 200}


async def test_a_flood_gets_429_with_retry_after_then_recovers(client: Any) -> None:
    c, clock = client
    headers = bearer("flooder")
    statuses = [
        (await c.post("/v1/cases", json={"text": "t"}, headers=headers)).status_code
        for _ in range(10)
    ]
    assert statuses == [201] * 6 + [429] * 4
    refused = await c.post("/v1/cases", json={"text": "t"}, headers=headers)
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["retry-after"] == "10"  # 6 a minute: one every 10 s
    assert "at most 6 requests a minute" in refused.json()["detail"]
    # others and other routes are not held back by one client's flood
    assert (await c.post("/v1/cases", json={"text": "t"}, headers=bearer("b"))).status_code == 201
    assert (await c.get("/healthz")).status_code == 200
    clock.now += 10
    assert (await c.post("/v1/cases", json={"text": "t"}, headers=headers)).status_code == 201
    assert (await c.post("/v1/cases", json={"text": "t"}, headers=headers)).status_code == 429


async def test_the_webhook_limit_counts_by_ip_and_has_its_own_allowance(client: Any) -> None:
    c, _ = client
    statuses = [
        (await c.post("/v1/webhooks/video/zoom", content=b"{}")).status_code for _ in range(61)
    ]
    assert statuses.count(200) == 60 and statuses[-1] == 429


def test_a_bucket_refills_evenly_and_caps_at_the_minute_allowance() -> None:
    clock = FakeClock()
    bucket = TokenBucket(60, clock)
    assert all(bucket.take("k") == 0 for _ in range(60))
    assert bucket.take("k") == pytest.approx(1.0)
    clock.now += 3600  # a long pause refills only up to one minute's allowance
    assert sum(bucket.take("k") == 0 for _ in range(100)) == 60


def test_a_bucket_forgets_idle_clients_when_full() -> None:
    clock = FakeClock()
    bucket = TokenBucket(60, clock, max_clients=10)
    for n in range(10):
        bucket.take(f"c{n}")
    clock.now += 120
    bucket.take("new")
    assert len(bucket._buckets) == 1


def test_route_templates_match_their_paths_only() -> None:
    pattern = RateRule("POST", "/v1/webhooks/video/{provider}", 1).pattern()
    assert pattern.match("/v1/webhooks/video/zoom")
    assert not pattern.match("/v1/webhooks/video/zoom/extra")
    assert not RateRule("POST", "/v1/cases", 1).pattern().match("/v1/cases/123/review")


def test_an_invalid_token_counts_against_the_ip() -> None:
    verifier = TokenVerifier(audience="echo-network", issuer="echo-hub", dev_secret=DEV_SECRET)
    scope: dict[str, Any] = {
        "headers": [(b"authorization", b"Bearer forged")],
        "client": ("10.1.2.3", 5555),
    }
    assert client_key(scope, verifier) == "ip:10.1.2.3"
    token = bearer("someone")["authorization"].encode()
    scope["headers"] = [(b"authorization", token)]
    assert client_key(scope, verifier) == "sub:someone"


def test_limits_are_settings_and_zero_turns_them_off(monkeypatch: pytest.MonkeyPatch) -> None:
    class CasesLike(ServiceSettings):
        model_config = SettingsConfigDict(env_prefix="CASES_", extra="ignore")

    monkeypatch.setenv("CASES_RATE_LIMIT_PER_MINUTE", "0")
    monkeypatch.setenv("CASES_WEBHOOK_RATE_LIMIT_PER_MINUTE", "5")
    settings = CasesLike()
    assert settings.rate_limit_per_minute == 0
    assert settings.webhook_rate_limit_per_minute == 5
    middleware = RateLimitMiddleware(
        FastAPI(),
        rate_rules(settings.rate_limit_per_minute, settings.webhook_rate_limit_per_minute),
    )
    assert [rule.path for rule, _, _ in middleware.rules] == ["/v1/webhooks/video/{provider}"]
