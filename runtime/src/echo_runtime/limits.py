"""Request limits every service gets: body size (declared or chunked) and per-client rate limits.

Both answer with RFC 9457 problems (413, 429 with `Retry-After`) before the route runs, so an
oversized or flooding client costs little and never reaches the database.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from echo_runtime.auth import TokenVerifier
from echo_runtime.problems import Problem, problem_response

#: Routes that take floods (case submission by people, video webhooks by providers): the setting
#: that holds each one's requests per minute per client.
CASE_SUBMISSION = ("POST", "/v1/cases")
VIDEO_WEBHOOKS = ("POST", "/v1/webhooks/video/{provider}")


class _BodyTooLarge(HTTPException):
    """Raised inside `receive` when a streamed body passes the limit.

    An HTTPException, so FastAPI's body parsing passes it on (it turns other errors into 400)
    and the app's problem handler answers it; the middleware answers it for any other app.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, _too_large(0, limit, declared=False).detail)


def _too_large(size: int, limit: int, declared: bool) -> Problem:
    told = f"the body has {size} bytes" if declared else f"the body passed {limit} bytes"
    return Problem(
        413,
        "Content Too Large",
        f"{told}; the limit is {limit} bytes: send a smaller body"
        " (attach large files through their own upload route)",
        limit=limit,
    )


class BodyLimitMiddleware:
    """Refuse request bodies over a size with a 413 problem, declared or streamed (chunked)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            problem = _too_large(int(length), self.max_bytes, declared=True)
            await problem_response(problem)(scope, receive, send)
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            if started:  # nothing sensible left to say: the response is already under way
                raise
            problem = _too_large(seen, self.max_bytes, declared=False)
            await problem_response(problem)(scope, receive, send)


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class TokenBucket:
    """Token buckets by client key: `per_minute` requests, refilled evenly over the minute."""

    per_minute: int
    clock: Callable[[], float] = time.monotonic
    max_clients: int = 10_000
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    @property
    def capacity(self) -> float:
        return float(self.per_minute)

    @property
    def rate(self) -> float:
        """Tokens per second."""
        return self.per_minute / 60.0

    def take(self, key: str) -> float:
        """Spend one token of `key`; 0 when allowed, else the seconds until one is there."""
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_clients:
                self._forget_full(now)
            bucket = self._buckets[key] = _Bucket(self.capacity, now)
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        # A full bucket holds no state worth keeping: a new one would be the same.
        full = [
            k
            for k, b in self._buckets.items()
            if b.tokens + (now - b.at) * self.rate >= self.capacity
        ]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= self.max_clients:  # all busy: drop the oldest
            oldest = sorted(self._buckets, key=lambda k: self._buckets[k].at)
            for key in oldest[: len(oldest) // 2]:
                del self._buckets[key]


@dataclass(frozen=True)
class RateRule:
    """A rate limit on one route (`path` is the route template, e.g. `/v1/items/{id}`)."""

    method: str
    path: str
    per_minute: int

    def pattern(self) -> re.Pattern[str]:
        parts = re.split(r"(\{[^}]+\})", self.path)
        regex = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
        return re.compile(f"^{regex}/?$")


def client_key(scope: Scope, verifier: TokenVerifier | None) -> str:
    """Who to count a request against: the token's subject when it verifies, else the client IP.

    An invalid token counts against the IP, so forged tokens do not get fresh buckets.
    """
    if verifier is not None:
        header = dict(scope.get("headers") or []).get(b"authorization", b"")
        scheme, _, token = header.decode("latin-1").partition(" ")
        if scheme.lower() == "bearer" and token:
            try:
                return f"sub:{verifier.verify(token.strip()).subject}"
            except Problem:
                pass
    client = scope.get("client")
    return f"ip:{client[0] if client else 'unknown'}"


class RateLimitMiddleware:
    """A 429 problem with `Retry-After` once a client spent its allowance on a limited route."""

    def __init__(
        self,
        app: ASGIApp,
        rules: Iterable[RateRule],
        verifier: TokenVerifier | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.verifier = verifier
        self.rules = [
            (rule, rule.pattern(), TokenBucket(rule.per_minute, clock))
            for rule in rules
            if rule.per_minute > 0
        ]

    def _limit_for(self, scope: Scope) -> tuple[RateRule, TokenBucket] | None:
        method, path = scope["method"], scope["path"]
        for rule, pattern, bucket in self.rules:
            if rule.method == method and pattern.match(path):
                return rule, bucket
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self._limit_for(scope) if scope["type"] == "http" else None
        if found is None:
            await self.app(scope, receive, send)
            return
        rule, bucket = found
        wait = bucket.take(client_key(scope, self.verifier))
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        retry_after = max(1, math.ceil(wait))
        problem = Problem(
            429,
            "Too Many Requests",
            f"{rule.method} {rule.path} takes at most {rule.per_minute} requests a minute from"
            f" one client; retry after {retry_after} s",
            headers={"Retry-After": str(retry_after)},
            limit_per_minute=rule.per_minute,
            retry_after=retry_after,
        )
        await problem_response(problem)(scope, receive, send)


def rate_rules(case_submission: int, video_webhooks: int) -> list[RateRule]:
    """The limited routes of the platform with their per-minute limits (0 = no limit)."""
    return [
        RateRule(*CASE_SUBMISSION, per_minute=case_submission),
        RateRule(*VIDEO_WEBHOOKS, per_minute=video_webhooks),
    ]
